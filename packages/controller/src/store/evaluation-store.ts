import type { Redis } from 'ioredis';
import type { AppliedDeletes, PerType } from '../guard/decide';
import type { LaneState } from '../cycles/delete-lane';
import type {
  EvaluationRecords,
  EvaluationWatch,
  LaneDecision,
  PlanParts,
  QuarantineDecision,
} from '../cycles/processing-records';
import { DeleteLaneStore } from './delete-lane-store';
import { TriageStore } from './triage-store';
import { MemberStore } from './member-store';
import { summaryField } from '../pipeline/stored-batch';
import type { Keys } from './keys';
import type { ProvisioningLog } from './provisioning-log';
import { NO_NOTIFICATION, encodeNotification, encodeQuarantine } from './quarantine-codec';
import { ASSEMBLE_PLAN, Scripts, type TransitionSpec } from './scripts';
import type { OutboxEvent } from '../cycles/cycle-events';
import type { WatchConnections } from './watch-connections';

/** How long the parts of a plan outlive an evaluation that died while writing them. */
const PART_TTL_MS = 24 * 3600 * 1000;

export function throwOnError(results: [Error | null, unknown][] | null): void {
  for (const [error] of results ?? []) if (error) throw error;
}

/** The parts of one run's plan: `P:cycle:{id}:plan:{run}:{u|g|d|ds|sd}` (lists and a set, with a TTL). */
class RedisPlanParts implements PlanParts {
  readonly u: string;
  readonly g: string;
  readonly d: string;
  readonly ds: string;
  readonly sd: string;

  constructor(
    private readonly redis: Redis,
    keys: Keys,
    cycleId: string,
    run: string,
  ) {
    this.u = keys.planPart(cycleId, run, 'u');
    this.g = keys.planPart(cycleId, run, 'g');
    this.d = keys.planPart(cycleId, run, 'd');
    this.ds = keys.planPart(cycleId, run, 'ds');
    this.sd = keys.planPart(cycleId, run, 'sd');
  }

  async append(entries: { u: string[]; g: string[]; d: string[] }, deleteIds: readonly string[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const p of ['u', 'g', 'd'] as const) {
      if (entries[p].length === 0) continue;
      pipe.rpush(this[p], ...entries[p]).pexpire(this[p], PART_TTL_MS);
    }
    if (deleteIds.length > 0) pipe.sadd(this.ds, ...deleteIds).pexpire(this.ds, PART_TTL_MS);
    if (pipe.length > 0) throwOnError(await pipe.exec());
  }

  listedDeletes(ids: readonly string[]): Promise<number[]> {
    return this.redis.smismember(this.ds, ...ids);
  }

  deletes(offset: number, count: number): Promise<string[]> {
    return this.redis.lrange(this.d, offset, offset + count - 1);
  }

  async addStagedBundle(bundle: string): Promise<void> {
    throwOnError(await this.redis.pipeline().rpush(this.sd, bundle).pexpire(this.sd, PART_TTL_MS).exec());
  }

  async drop(): Promise<void> {
    await this.redis.unlink(this.u, this.g, this.d, this.ds, this.sd);
  }
}

class RedisEvaluationWatch implements EvaluationWatch {
  private released = false;

  constructor(
    private readonly pool: WatchConnections,
    private readonly conn: Redis,
    private readonly keys: Keys,
    private readonly plog: ProvisioningLog,
    private readonly cycleId: string,
  ) {}

  phase(): Promise<string | null> {
    return this.conn.hget(this.keys.cycle(this.cycleId), 'phase');
  }

  async commit(input: Parameters<EvaluationWatch['commit']>[0]): Promise<boolean> {
    const { configurationId: cfgId, cycleId, heldByType, cycleFields, quarantine } = input;
    const lane = input.lane ?? null;
    if (!(input.parts instanceof RedisPlanParts)) throw new Error('not plan parts of this store');
    const part = input.parts;
    const tx = this.conn.multi();
    tx.hset(this.keys.heldCounts(cfgId), 'user', heldByType.user, 'group', heldByType.group);
    const keptBack = input.keptBack ?? [];
    for (let i = 0; i < keptBack.length; i += 1000) tx.hdel(this.keys.kept(cfgId), ...keptBack.slice(i, i + 1000));
    if (quarantine || lane?.logStaged) this.plog.addRendered(tx, cfgId, part.sd);
    // The delete lane: the deletes go into the held set (emptying the deletes part) first.
    if (lane) DeleteLaneStore.queueHold(tx, this.keys, cfgId, cycleId, part.d, lane.leaving);
    tx.eval(ASSEMBLE_PLAN.source, 6, this.keys.plan(cycleId), part.u, part.g, part.d, part.ds, this.keys.cycle(cycleId));
    if (quarantine) {
      tx.eval(
        ...Scripts.transitionArgs(
          this.keys.cycle(cycleId),
          this.keys.state(cfgId),
          { from: ['complete'], to: 'quarantined' },
          { ...quarantinedFields(cycleFields, quarantine), outbox: this.outboxOf(cfgId, quarantine.event) },
        ),
      );
    } else {
      tx.eval(
        ...Scripts.transitionArgs(
          this.keys.cycle(cycleId),
          this.keys.state(cfgId),
          { from: ['complete'], to: 'applying' },
          lane ? { ...laneFields(cycleFields, lane), outbox: this.outboxOf(cfgId, lane.event) } : { cycle: cycleFields },
        ),
      );
    }
    const results = await tx.exec();
    throwOnError(results);
    return results !== null && results[results.length - 1]?.[1] === 1;
  }

  private outboxOf(cfgId: string, event: OutboxEvent | undefined): TransitionSpec['outbox'] {
    return event ? { key: this.keys.outbox(cfgId), id: event.id, entry: event.entry } : null;
  }

  close(): void {
    if (this.released) return;
    this.released = true;
    this.pool.release(this.conn);
  }
}

function quarantinedFields(cycleFields: Record<string, string | number>, d: QuarantineDecision) {
  return {
    cycle: { ...cycleFields, completedAt: d.completedAt, stagedPreview: JSON.stringify(d.stagedPreview) },
    state: {
      state: 'quarantined',
      quarantine: encodeQuarantine(d.quarantine),
      notification: encodeNotification(d.notify ? { ...NO_NOTIFICATION, status: 'pending' } : NO_NOTIFICATION),
    },
  };
}

/** The fields a delete lane's cycle writes as it moves to `applying` (cycles/delete-lane.ts). */
function laneFields(cycleFields: Record<string, string | number>, d: LaneDecision) {
  const cycle = d.notify !== null ? { ...cycleFields, stagedPreview: JSON.stringify(d.stagedPreview) } : cycleFields;
  if (!d.quarantine) return { cycle };
  const state: Record<string, string> = { state: 'quarantined', lane: '1', quarantine: encodeQuarantine(d.quarantine) };
  if (d.notify !== null)
    state.notification = encodeNotification(d.notify ? { ...NO_NOTIFICATION, status: 'pending' } : NO_NOTIFICATION);
  return { cycle, state };
}

/**
 * What evaluation reads and writes: the batches' summaries and the seen hash of the cycle
 * (`P:cycle:{id}:batches`, `:seen`), the synced index, per-type counts, retry records and
 * applied-deletes window of its configuration (`P:config:{id}:index`, `:held`, `:retry`,
 * `:applied-deletes`), the plan's parts, and the commit of the plan.
 */
export class EvaluationStore implements EvaluationRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly plog: ProvisioningLog,
    /** Where WATCH connections come from (shared with apply; its owner closes it). */
    private readonly watches: WatchConnections,
  ) {}

  summaries(cycleId: string, seqs: readonly number[]): Promise<(string | null)[]> {
    return this.redis.hmget(this.keys.batches(cycleId), ...seqs.map(summaryField));
  }

  batchChanges(cycleId: string, seqs: readonly number[]): Promise<(Buffer | null)[]> {
    return this.redis.hmgetBuffer(this.keys.batches(cycleId), ...seqs.map(String));
  }

  previousMembers(configurationId: string, groupIds: readonly string[]): Promise<(string[] | null)[]> {
    return new MemberStore(this.redis, this.keys).previous(configurationId, groupIds);
  }

  lane(configurationId: string): Promise<LaneState> {
    return new DeleteLaneStore(this.redis, this.keys).state(configurationId);
  }

  heldByLane(configurationId: string, objectIds: readonly string[]): Promise<boolean[]> {
    return new DeleteLaneStore(this.redis, this.keys).holds(configurationId, objectIds);
  }

  keptCount(configurationId: string): Promise<number> {
    return this.redis.hlen(this.keys.kept(configurationId));
  }

  keptHolds(configurationId: string, objectIds: readonly string[]): Promise<boolean[]> {
    return new TriageStore(this.redis, this.keys).keptHolds(configurationId, objectIds);
  }

  latestChanges(cycleId: string, objectIds: readonly string[]): Promise<(string | null)[]> {
    return this.redis.hmget(this.keys.seen(cycleId), ...objectIds);
  }

  async resetSeen(cycleId: string): Promise<void> {
    await this.redis.unlink(this.keys.seen(cycleId)); // UNLINK: see CycleStore.dropStaged
  }

  async addSeen(cycleId: string, pairs: readonly string[]): Promise<void> {
    await this.redis.hset(this.keys.seen(cycleId), ...pairs);
  }

  seenCount(cycleId: string): Promise<number> {
    return this.redis.hlen(this.keys.seen(cycleId));
  }

  async markSeen(cycleId: string, seenThrough: string, duplicates: string): Promise<void> {
    await this.redis.hset(this.keys.cycle(cycleId), 'seenThrough', seenThrough, 'duplicates', duplicates);
  }

  indexSize(configurationId: string): Promise<number> {
    return this.redis.hlen(this.keys.index(configurationId));
  }

  async committedScope(configurationId: string): Promise<string | null> {
    return (await this.redis.hget(this.keys.state(configurationId), 'committedScope')) || null;
  }

  async heldCounts(configurationId: string): Promise<PerType<number> | null> {
    const [user, group] = await this.redis.hmget(this.keys.heldCounts(configurationId), 'user', 'group');
    return user !== null && group !== null ? { user: Number(user), group: Number(group) } : null;
  }

  indexed(configurationId: string, objectIds: readonly string[]): Promise<(string | null)[]> {
    return this.redis.hmget(this.keys.index(configurationId), ...objectIds);
  }

  scanIndex(configurationId: string, cursor: string): Promise<[cursor: string, pairs: string[]]> {
    return this.redis.hscan(this.keys.index(configurationId), cursor, 'COUNT', 1000);
  }

  retryCount(configurationId: string): Promise<number> {
    return this.redis.hlen(this.keys.retry(configurationId));
  }

  scanRetries(configurationId: string, cursor: string): Promise<[cursor: string, pairs: string[]]> {
    return this.redis.hscan(this.keys.retry(configurationId), cursor, 'COUNT', 1000);
  }

  /** One ZRANGEBYSCORE of `P:config:{id}:applied-deletes` (members `<cycleId>:<deletes>`, scored by commit time). */
  async appliedDeletesSince(configurationId: string, sinceMs: number): Promise<AppliedDeletes[]> {
    const raw = await this.redis.zrangebyscore(this.keys.appliedDeletes(configurationId), sinceMs, '+inf', 'WITHSCORES');
    const out: AppliedDeletes[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const member = raw[i]!;
      out.push({ at: Number(raw[i + 1]), deletes: Number(member.slice(member.lastIndexOf(':') + 1)) });
    }
    return out;
  }

  planParts(cycleId: string, run: string): PlanParts {
    return new RedisPlanParts(this.redis, this.keys, cycleId, run);
  }

  /** WATCH needs a connection of its own (other jobs share the main one): one of the pool's. */
  async watch(cycleId: string): Promise<EvaluationWatch> {
    const conn = this.watches.acquire();
    try {
      await conn.watch(this.keys.cycle(cycleId));
    } catch (error) {
      this.watches.release(conn);
      throw error;
    }
    return new RedisEvaluationWatch(this.watches, conn, this.keys, this.plog, cycleId);
  }
}
