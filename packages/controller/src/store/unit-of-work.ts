import type { ChainableCommander } from 'ioredis';
import type { UnitOfWork } from '../targets/target';

/**
 * The store's side of a {@link UnitOfWork}: the Redis transaction (MULTI) that commits a
 * chunk's target writes together with the pipeline's own bookkeeping. Only code in
 * store/ turns one into the other; a target sees an opaque token.
 */
const TRANSACTIONS = new WeakMap<UnitOfWork, ChainableCommander>();

export function unitOfWork(tx: ChainableCommander): UnitOfWork {
  const unit = Object.freeze({}) as UnitOfWork;
  TRANSACTIONS.set(unit, tx);
  return unit;
}

/** The transaction of a unit the store made; throws for any other value. */
export function transactionOf(unit: UnitOfWork): ChainableCommander {
  const tx = TRANSACTIONS.get(unit);
  if (!tx) throw new Error('not a unit of work of this store');
  return tx;
}
