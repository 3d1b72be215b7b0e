import type { ChainableCommander, Redis } from 'ioredis';
import type { PlannedMembership } from '../cycles/member-removal-counter';
import type { ApplyRecords, ApplySession, ChunkWrites } from '../cycles/processing-records';
import type { ObjectTypeName } from '../model';
import { summaryField } from '../pipeline/stored-batch';
import type { UnitOfWork } from '../targets/target';
import { throwOnError } from './evaluation-store';
import type { Keys } from './keys';
import { queueMemberRecords } from './member-store';
import type { NewLogEntry, ProvisioningLog } from './provisioning-log';
import { queueEncoded } from './resp';
import { Scripts } from './scripts';
import { NO_NOTIFICATION, encodeNotification, encodeQuarantine } from './quarantine-codec';
import { unitOfWork } from './unit-of-work';
import type { WatchConnections } from './watch-connections';

type RecordedCall = [name: string, args: unknown[]];

/** A stand-in for a MULTI that records the commands queued on it, to be replayed on the real one. */
function recorder(calls: RecordedCall[]): ChainableCommander {
  const proxy: ChainableCommander = new Proxy({} as ChainableCommander, {
    get: (_target, name) => {
      if (typeof name !== 'string' || name === 'then') return undefined;
      return (...args: unknown[]) => {
        calls.push([name, args]);
        return proxy;
      };
    },
  });
  return proxy;
}

function replay(calls: readonly RecordedCall[], tx: ChainableCommander): void {
  const commands = tx as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, args] of calls) commands[name]!(...args);
}

/**
 * A chunk's writes, recorded as they are queued (the target's and the pipeline's, in that
 * order) and replayed on the chunk's MULTI when it commits: so a chunk can be worked out
 * while the one before it commits.
 */
class RecordedChunk implements ChunkWrites {
  readonly calls: RecordedCall[] = [];
  private readonly tx = recorder(this.calls);
  readonly unit: UnitOfWork = unitOfWork(this.tx);

  constructor(
    private readonly keys: Keys,
    private readonly plog: ProvisioningLog,
  ) {}

  log(configurationId: string, entries: readonly NewLogEntry[], at: string): void {
    this.plog.addMany(this.tx, configurationId, entries, at);
  }

  removeFromIndex(configurationId: string, objectIds: readonly string[]): void {
    queueEncoded(this.tx, 'hdel', [this.keys.index(configurationId), ...objectIds]);
  }

  setInIndex(configurationId: string, pairs: readonly string[]): void {
    queueEncoded(this.tx, 'hset', [this.keys.index(configurationId), ...pairs]);
  }

  addHeld(configurationId: string, type: ObjectTypeName, delta: number): void {
    this.tx.hincrby(this.keys.heldCounts(configurationId), type, delta);
  }

  countDeletesApplied(cycleId: string, n: number): void {
    this.tx.hincrby(this.keys.cycle(cycleId), 'deletesApplied', n);
  }

  setMembers(configurationId: string, groups: readonly PlannedMembership[]): void {
    queueMemberRecords(this.tx, this.keys, configurationId, groups);
  }

  settleRetries(configurationId: string, objectIds: readonly string[]): void {
    queueEncoded(this.tx, 'hdel', [this.keys.retry(configurationId), ...objectIds]);
  }

  owe(
    configurationId: string,
    cycleId: string,
    pairs: readonly string[],
    failed: number,
    transient?: { count: number; retryAfterMs: number },
  ): void {
    queueEncoded(this.tx, 'hset', [this.keys.retry(configurationId), ...pairs]);
    this.tx.hincrby(this.keys.cycle(cycleId), 'failed', failed);
    if (transient && transient.count > 0) {
      this.tx.hincrby(this.keys.cycle(cycleId), 'transient', transient.count);
      this.tx.hset(this.keys.cycle(cycleId), 'retryAfterMs', transient.retryAfterMs);
    }
  }
}

class RedisApplySession implements ApplySession {
  private readonly cycleKey: string;
  private released = false;

  constructor(
    private readonly pool: WatchConnections,
    private readonly conn: Redis,
    keys: Keys,
    cycleId: string,
  ) {
    this.cycleKey = keys.cycle(cycleId);
  }

  async progress(): Promise<{ phase: string | null; applied: number; size: number; failed: number }> {
    // Sent together: the connection runs WATCH before the read, one round trip for both.
    const [, [phase, appliedRaw, sizeRaw, failedRaw]] = await Promise.all([
      this.conn.watch(this.cycleKey),
      this.conn.hmget(this.cycleKey, 'phase', 'applied', 'planSize', 'failed'),
    ]);
    return {
      phase: phase ?? null,
      applied: Number(appliedRaw ?? 0),
      size: Number(sizeRaw ?? 0),
      failed: Number(failedRaw ?? 0),
    };
  }

  async unwatch(): Promise<void> {
    await this.conn.unwatch();
  }

  async commitChunk(writes: ChunkWrites, appliedThrough: number): Promise<string[] | null> {
    if (!(writes instanceof RecordedChunk)) throw new Error('not chunk writes of this store');
    const tx = this.conn.multi();
    replay(writes.calls, tx);
    tx.hset(this.cycleKey, 'applied', appliedThrough);
    const done = await tx.exec();
    if (done === null) return null;
    return done.filter(([error]) => error !== null).map(([error]) => error!.message);
  }

  close(): void {
    if (this.released) return;
    this.released = true;
    this.pool.release(this.conn);
  }
}

/**
 * What apply reads and writes: the plan and batches of the cycle (`P:cycle:{id}:plan`,
 * `:batches`), the configuration's retry records, each chunk's transaction (the target's
 * writes, the index, per-type counts, retry records, the provisioning log, progress), and
 * the finalizing transaction.
 */
/**
 * The state a cycle's move to `applied` writes: the committed cycle advances (not for a
 * delete lane's release cycle, which no agent ran); the quarantine goes, unless a delete
 * lane is still open after the cycle (cycles/delete-lane.ts).
 */
function finalizeSpec(input: Parameters<ApplyRecords['finalize']>[0]) {
  const committed: Record<string, string> = input.release
    ? {}
    : { committedCycleId: input.cycleId, committedScope: input.committedScope };
  const cycle: Record<string, string> = { completedAt: input.completedAt, ...(input.retryAt ? { retryAt: input.retryAt } : {}) };
  if (input.laneOpen) return { cycle, state: committed, stateDel: ['currentCycleId'] };
  return {
    cycle,
    state: { state: 'healthy', ...committed },
    stateDel: ['currentCycleId', 'quarantine', 'notification', 'lane', 'restartedSeries'],
  };
}

export class ApplyStore implements ApplyRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly plog: ProvisioningLog,
    /** Where WATCH connections come from (shared with evaluation; its owner closes it). */
    private readonly watches: WatchConnections,
  ) {}

  planEntries(cycleId: string, offset: number, count: number): Promise<string[]> {
    return this.redis.lrange(this.keys.plan(cycleId), offset, offset + count - 1);
  }

  batchChanges(cycleId: string, seqs: readonly number[]): Promise<(Buffer | null)[]> {
    return this.redis.hmgetBuffer(this.keys.batches(cycleId), ...seqs.map(String));
  }

  summaries(cycleId: string, seqs: readonly number[]): Promise<(string | null)[]> {
    return this.redis.hmget(this.keys.batches(cycleId), ...seqs.map(summaryField));
  }

  retryRecords(configurationId: string, objectIds: readonly string[]): Promise<(string | null)[]> {
    return this.redis.hmget(this.keys.retry(configurationId), ...objectIds);
  }

  chunkWrites(): ChunkWrites {
    return new RecordedChunk(this.keys, this.plog);
  }

  /** WATCH needs a connection of its own (other jobs share the main one): one of the pool's. */
  session(cycleId: string): ApplySession {
    return new RedisApplySession(this.watches, this.watches.acquire(), this.keys, cycleId);
  }

  async deletesApplied(cycleId: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.cycle(cycleId), 'deletesApplied')) ?? 0);
  }

  async transientFailures(cycleId: string): Promise<{ count: number; retryAfterMs: number }> {
    const [count, retryAfterMs] = await this.redis.hmget(this.keys.cycle(cycleId), 'transient', 'retryAfterMs');
    return { count: Number(count ?? 0), retryAfterMs: Number(retryAfterMs ?? 0) };
  }

  async quarantineApplying(input: Parameters<ApplyRecords['quarantineApplying']>[0]): Promise<boolean> {
    const notification = input.notify ? { ...NO_NOTIFICATION, status: 'pending' as const } : NO_NOTIFICATION;
    const moved = await this.redis.eval(
      ...Scripts.transitionArgs(
        this.keys.cycle(input.cycleId),
        this.keys.state(input.configurationId),
        { from: ['applying'], to: 'quarantined' },
        {
          cycle: { completedAt: input.completedAt },
          state: {
            state: 'quarantined',
            quarantine: encodeQuarantine(input.quarantine),
            notification: encodeNotification(notification),
          },
          outbox: input.event
            ? { key: this.keys.outbox(input.configurationId), id: input.event.id, entry: input.event.entry }
            : null,
        },
      ),
    );
    return moved === 1;
  }

  async finalize(input: Parameters<ApplyRecords['finalize']>[0]): Promise<boolean> {
    const { configurationId: cfgId, cycleId } = input;
    const tx = this.redis.multi();
    tx.eval(
      ...Scripts.transitionArgs(
        this.keys.cycle(cycleId),
        this.keys.state(cfgId),
        { from: ['applying'], to: 'applied' },
        finalizeSpec(input),
      ),
    );
    if (input.mootRetries.length > 0) queueEncoded(tx, 'hdel', [this.keys.retry(cfgId), ...input.mootRetries]);
    // The window's record: one member per cycle (another run of this finalize writes the same member).
    if (input.deletesApplied > 0) tx.zadd(this.keys.appliedDeletes(cfgId), input.nowMs, `${cycleId}:${input.deletesApplied}`);
    tx.zremrangebyscore(this.keys.appliedDeletes(cfgId), '-inf', `(${input.keepSinceMs}`);
    const results = await tx.exec();
    throwOnError(results);
    return results?.[0]?.[1] === 1;
  }
}
