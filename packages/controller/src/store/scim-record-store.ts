import type { Redis } from 'ioredis';
import type { ScimRecord, ScimRecords } from '../targets/scim/scim-records';
import type { UnitOfWork } from '../targets/target';
import type { Keys } from './keys';
import { transactionOf } from './unit-of-work';

/** The SCIM target's records in Redis (`P:config:{id}:scim`, `P:config:{id}:scim-dn`). */
export class ScimRecordStore implements ScimRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async get(cfg: string, objectIds: readonly string[]): Promise<(ScimRecord | null)[]> {
    if (objectIds.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.scimRecords(cfg), ...objectIds);
    return raw.map((r) => (r === null ? null : (JSON.parse(r) as ScimRecord)));
  }

  count(cfg: string): Promise<number> {
    return this.redis.hlen(this.keys.scimRecords(cfg));
  }

  async idsByDn(cfg: string, dns: readonly string[]): Promise<(string | null)[]> {
    if (dns.length === 0) return [];
    return this.redis.hmget(this.keys.scimDns(cfg), ...dns.map((d) => d.toLowerCase()));
  }

  write(
    unit: UnitOfWork,
    cfg: string,
    put: ReadonlyArray<[string, ScimRecord]>,
    remove: readonly string[],
    staleDns: readonly string[],
  ): void {
    const tx = transactionOf(unit);
    if (staleDns.length > 0) tx.hdel(this.keys.scimDns(cfg), ...staleDns.map((d) => d.toLowerCase()));
    if (remove.length > 0) tx.hdel(this.keys.scimRecords(cfg), ...remove);
    if (put.length > 0) {
      tx.hset(this.keys.scimRecords(cfg), ...put.flatMap(([id, r]) => [id, JSON.stringify(r)]));
      tx.hset(this.keys.scimDns(cfg), ...put.flatMap(([, r]) => [r.dn.toLowerCase(), r.id]));
    }
  }

  async removeAll(cfg: string): Promise<void> {
    await this.redis.del(this.keys.scimRecords(cfg), this.keys.scimDns(cfg));
  }
}
