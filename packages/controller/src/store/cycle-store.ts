import type { Redis } from 'ioredis';
import { cycleState, type CyclePhase } from '../cycles/cycle-phase';
import type { SessionCycles } from '../agents/agent-records';
import type { CycleOwner, CycleRecords, CycleRun, CycleStateFields } from '../cycles/cycle-records';
import type { CycleRecord } from '../cycles/cycle-record';
import type { ProcessedCycles } from '../cycles/processing-records';
import type { Notification, QuarantineNotifications } from '../mail/notifier';
import type {
  ChangeTrackingName,
  ConfigurationState,
  Cycle,
  CycleCounts,
  CycleTrigger,
  ObjectTypeName,
  Quarantine,
} from '../model';
import type { OutboxEvent } from '../cycles/cycle-events';
import {
  DELETE_FIELD_IF_EQUAL,
  SET_NOTIFICATION,
  callScript,
  type CompleteCycleResult,
  type PersistBatchResult,
  type Scripts,
  type StartCycleResult,
  type TransitionSpec,
} from './scripts';
import type { Keys } from './keys';
import { DeleteLaneStore } from './delete-lane-store';
import {
  NO_NOTIFICATION,
  decodeNotification,
  decodeQuarantine,
  encodeNotification,
  type StoredQuarantine,
} from './quarantine-codec';

/** Deletes of cycle records go in chunks of this many cycles. */
const CHUNK = 500;

/**
 * Cycles in Redis: `P:cycle:{id}` hashes and their staged keys, each configuration's state
 * hash (`P:config:{id}:state`) as cycles use it, and the history zset `P:config:{id}:cycles`.
 */
export class CycleStore implements CycleRecords, SessionCycles, QuarantineNotifications, ProcessedCycles {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
  ) {
    this.lanes = new DeleteLaneStore(redis, keys);
  }

  private readonly lanes: DeleteLaneStore;

  async releaseLane(configurationId: string, cycleId: string, by: string, at: string, event?: OutboxEvent): Promise<number> {
    const now = Date.now();
    return this.lanes.release(
      configurationId,
      cycleId,
      now,
      {
        phase: 'applying',
        configurationId,
        agentId: '',
        mode: 'delta',
        trigger: 'release',
        startedAt: new Date(now).toISOString(),
        evaluatedMode: 'delta',
        released: '1',
        releasedBy: by,
        releasedAt: at,
      },
      event,
    );
  }

  async discardLane(
    configurationId: string,
    nextState: ConfigurationState,
    seriesCount: number,
    event?: OutboxEvent,
  ): Promise<number> {
    return this.lanes.discard(configurationId, nextState, seriesCount, event);
  }

  async record(cycleId: string): Promise<CycleRecord> {
    return this.redis.hgetall(this.keys.cycle(cycleId));
  }

  async notificationOf(
    configurationId: string,
  ): Promise<{ quarantine: StoredQuarantine | null; notification: Notification | null }> {
    const [quarantine, notification] = await this.redis.hmget(this.keys.state(configurationId), 'quarantine', 'notification');
    return {
      quarantine: quarantine ? decodeQuarantine(quarantine) : null,
      notification: notification ? decodeNotification(notification) : null,
    };
  }

  async stagedPreview(cycleId: string): Promise<{ dn: string; objectType: ObjectTypeName }[]> {
    const preview = await this.redis.hget(this.keys.cycle(cycleId), 'stagedPreview');
    return preview ? (JSON.parse(preview) as { dn: string; objectType: ObjectTypeName }[]) : [];
  }

  async setNotification(configurationId: string, cycleId: string, notification: Notification): Promise<void> {
    await callScript(
      this.redis,
      SET_NOTIFICATION,
      [this.keys.state(configurationId)],
      [cycleId, encodeNotification(notification)],
    );
  }

  async read(cycleId: string): Promise<Cycle | null> {
    return toCycle(cycleId, await this.redis.hgetall(this.keys.cycle(cycleId)));
  }

  /**
   * The configuration's state and its last cycle as of one moment: both hashes are read in
   * one MULTI, so that a cycle's move to `applied` (which sets the state `healthy` in the same
   * script) is seen in both or in neither. Read again when the last cycle changed meanwhile.
   */
  async statusWithLastCycle(
    configurationId: string,
  ): Promise<{ state: ConfigurationState; quarantine: Quarantine | null; lastCycle: Cycle | null }> {
    for (;;) {
      const first = await this.status(configurationId);
      if (!first.lastCycleId) return { ...first, lastCycle: null };
      const results = await this.redis
        .multi()
        .hgetall(this.keys.state(configurationId))
        .hgetall(this.keys.cycle(first.lastCycleId))
        .exec();
      const failed = results?.find(([error]) => error !== null);
      if (!results || failed) throw failed?.[0] ?? new Error(`status of ${configurationId} not read`);
      const st = results[0]![1] as Record<string, string>;
      if ((st.lastCycleId || null) !== first.lastCycleId) continue;
      const { state, quarantine } = statusOf(st);
      return { state, quarantine, lastCycle: toCycle(first.lastCycleId, results[1]![1] as CycleRecord) };
    }
  }

  async status(
    configurationId: string,
  ): Promise<{ state: ConfigurationState; quarantine: Quarantine | null; lastCycleId: string | null }> {
    return statusOf(await this.redis.hgetall(this.keys.state(configurationId)));
  }

  async run(cycleId: string): Promise<CycleRun> {
    const [phase = null, configurationId = null, agentId = null, startedAt = null, lastFrameAt = null, lastSequence = null] =
      await this.redis.hmget(
        this.keys.cycle(cycleId),
        'phase',
        'configurationId',
        'agentId',
        'startedAt',
        'lastFrameAt',
        'lastSequence',
      );
    return { phase, configurationId, agentId, startedAt, lastFrameAt, lastSequence };
  }

  async owner(cycleId: string): Promise<CycleOwner> {
    const [configurationId = null, agentId = null] = await this.redis.hmget(
      this.keys.cycle(cycleId),
      'configurationId',
      'agentId',
    );
    return { configurationId, agentId };
  }

  async phase(cycleId: string): Promise<string | null> {
    return this.redis.hget(this.keys.cycle(cycleId), 'phase');
  }

  async errorMessage(cycleId: string): Promise<string | undefined> {
    const error = await this.redis.hget(this.keys.cycle(cycleId), 'error');
    return error ? (JSON.parse(error) as { message?: string }).message : undefined;
  }

  async stateFields(configurationId: string): Promise<CycleStateFields> {
    const st = await this.redis.hgetall(this.keys.state(configurationId));
    return {
      state: (st.state as ConfigurationState | undefined) ?? null,
      currentCycleId: st.currentCycleId ?? null,
      lastCycleId: st.lastCycleId ?? null,
      committedCycleId: st.committedCycleId ?? null,
      committedScope: st.committedScope ?? null,
      lane: st.lane === '1',
    };
  }

  async currentCycleId(configurationId: string): Promise<string | null> {
    return this.redis.hget(this.keys.state(configurationId), 'currentCycleId');
  }

  async quarantine(configurationId: string): Promise<StoredQuarantine | null> {
    const st = await this.redis.hgetall(this.keys.state(configurationId));
    return st.state === 'quarantined' && st.quarantine ? decodeQuarantine(st.quarantine) : null;
  }

  async start(
    configurationId: string,
    cycleId: string,
    startedAtMs: number,
    fields: Record<string, string>,
  ): Promise<StartCycleResult> {
    return this.scripts.startCycle(
      this.keys.state(configurationId),
      this.keys.cycle(cycleId),
      this.keys.cycles(configurationId),
      cycleId,
      startedAtMs,
      fields,
    );
  }

  async clearCurrent(configurationId: string, cycleId: string): Promise<void> {
    await this.scripts.clearCurrentCycle(this.keys.state(configurationId), cycleId);
  }

  async markFailed(
    configurationId: string,
    cycleId: string,
    from: readonly CyclePhase[],
    error: { code: string; message: string },
    completedAt: string,
    event?: OutboxEvent,
  ): Promise<boolean> {
    return this.scripts.transition(
      this.keys.cycle(cycleId),
      this.keys.state(configurationId),
      { from, to: 'failed' },
      {
        cycle: { completedAt, error: JSON.stringify(error) },
        state: { state: 'error' },
        stateDel: ['currentCycleId'],
        requireCurrent: true,
        cycleId,
        outbox: this.outboxOf(configurationId, event),
      },
    );
  }

  /** The outbox write of a transition that reports `event` (none without one). */
  private outboxOf(configurationId: string, event: OutboxEvent | undefined): TransitionSpec['outbox'] {
    return event ? { key: this.keys.outbox(configurationId), id: event.id, entry: event.entry } : null;
  }

  async appendOutbox(configurationId: string, event: OutboxEvent): Promise<void> {
    await this.redis.hset(this.keys.outbox(configurationId), event.id, event.entry);
  }

  async outboxEntries(configurationId: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.keys.outbox(configurationId))));
  }

  async removeOutboxEntry(configurationId: string, eventId: string, entry: string): Promise<void> {
    await callScript(this.redis, DELETE_FIELD_IF_EQUAL, [this.keys.outbox(configurationId)], [eventId, entry]);
  }

  /** Records an admin token's approval of a quarantined cycle; answers how many different tokens approved. */
  async approve(cycleId: string, tokenId: string): Promise<number> {
    const key = this.keys.approvals(cycleId);
    const results = await this.redis.multi().sadd(key, tokenId).smembers(key).exec();
    const failed = results?.find(([error]) => error !== null);
    if (!results || failed) throw failed?.[0] ?? new Error(`approval of cycle ${cycleId} not recorded`);
    // Approvals of a partial release (`<selection>:<token id>`, cycles/triage.ts) share the set and do not count here.
    return (results[1]![1] as string[]).filter((m) => !m.includes(':')).length;
  }

  async release(configurationId: string, cycleId: string, by: string, at: string, event?: OutboxEvent): Promise<boolean> {
    return this.scripts.transition(
      this.keys.cycle(cycleId),
      this.keys.state(configurationId),
      { from: ['quarantined'], to: 'applying' },
      {
        cycle: { released: '1', releasedBy: by, releasedAt: at },
        requireCurrent: true,
        cycleId,
        outbox: this.outboxOf(configurationId, event),
      },
    );
  }

  async discard(
    configurationId: string,
    cycleId: string,
    error: { code: string; message: string },
    completedAt: string,
    nextState: ConfigurationState,
    seriesCount = 0,
    event?: OutboxEvent,
  ): Promise<boolean> {
    return this.scripts.transition(
      this.keys.cycle(cycleId),
      this.keys.state(configurationId),
      { from: ['quarantined'], to: 'discarded' },
      {
        cycle: { completedAt, error: JSON.stringify(error) },
        // The next quarantine, should the source still be as it was, continues the series.
        state: { state: nextState, restartedSeries: seriesCount },
        stateDel: ['currentCycleId', 'quarantine', 'notification'],
        requireCurrent: true,
        cycleId,
        outbox: this.outboxOf(configurationId, event),
      },
    );
  }

  /**
   * UNLINK, not DEL: a million-object cycle's `seen` hash took Redis 4.9 s to free with DEL
   * on the loaded 2-core machine, a stall every client waited for (the controller's 3 s
   * command timeout failed the cycle's job after its apply); UNLINK frees it in Redis's
   * background thread. The same for every key below that grows with the directory.
   */
  async dropStaged(cycleId: string): Promise<void> {
    await this.redis.unlink(...this.keys.staged(cycleId));
  }

  async startedAt(configurationId: string, startedAtMs: string): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.cycles(configurationId), startedAtMs, startedAtMs);
  }

  async newestFirst(configurationId: string, upper: string, count: number): Promise<{ id: string; score: string }[]> {
    const rows = await this.redis.zrevrangebyscore(
      this.keys.cycles(configurationId),
      upper,
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      count,
    );
    const out: { id: string; score: string }[] = [];
    for (let i = 0; i + 1 < rows.length; i += 2) out.push({ id: rows[i]!, score: rows[i + 1]! });
    return out;
  }

  async startedBefore(configurationId: string, cutoffMs: number, count: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.cycles(configurationId), '-inf', `(${cutoffMs}`, 'LIMIT', 0, count);
  }

  async heldCycleIds(configurationId: string): Promise<string[]> {
    const ids = await this.redis.hmget(this.keys.state(configurationId), 'currentCycleId', 'lastCycleId', 'committedCycleId');
    return ids.filter((c): c is string => !!c);
  }

  async removeCycles(configurationId: string, cycleIds: readonly string[]): Promise<void> {
    const tx = this.redis.multi();
    tx.zrem(this.keys.cycles(configurationId), ...cycleIds);
    tx.unlink(...this.cycleKeys(cycleIds));
    await tx.exec();
  }

  async removeAllCycles(configurationId: string): Promise<void> {
    const cycleIds = await this.redis.zrange(this.keys.cycles(configurationId), 0, -1);
    for (let i = 0; i < cycleIds.length; i += CHUNK) await this.redis.unlink(...this.cycleKeys(cycleIds.slice(i, i + CHUNK)));
  }

  /** Every key of the cycles' records: the hash and what was staged. */
  private cycleKeys(cycleIds: readonly string[]): string[] {
    return cycleIds.flatMap((c) => [this.keys.cycle(c), ...this.keys.staged(c)]);
  }

  // ---------------------------------------------------------------- an agent's batches (the session's hot path)

  async persistBatch(
    cycleId: string,
    sequence: number,
    stored: { changes: Buffer; summaries: string; objectIds: readonly string[] },
    owner: { configurationId: string; agentId: string },
    limits: { maxCycleBatches: number; maxCycleBytes: number },
  ): Promise<{ result: PersistBatchResult; acked: number }> {
    return this.scripts.persistBatch(
      this.keys.cycle(cycleId),
      this.keys.batches(cycleId),
      this.keys.seen(cycleId),
      sequence,
      stored,
      owner,
      limits,
    );
  }

  async complete(
    cycleId: string,
    lastSequence: number,
    totals: string,
    mode: string,
    changeTracking: ChangeTrackingName | null,
    drift: number | null,
  ): Promise<CompleteCycleResult> {
    return this.scripts.completeCycle(this.keys.cycle(cycleId), lastSequence, totals, mode, changeTracking ?? '', drift);
  }
}

/** A cycle as the API shows it, from its record; null when there is none. */
function toCycle(cycleId: string, h: CycleRecord): Cycle | null {
  if (!h.configurationId) return null;
  return {
    id: cycleId,
    configurationId: h.configurationId,
    state: cycleState(h.phase),
    mode: (h.evaluatedMode ?? h.mode ?? 'full') as 'delta' | 'full',
    changeTracking: (h.changeTracking as Cycle['changeTracking']) || null,
    drift: h.drift === undefined || h.drift === '' ? null : Number(h.drift),
    trigger: (h.trigger ?? 'manual') as CycleTrigger,
    agentId: h.agentId || null,
    baseCycleId: h.baseCycleId || null,
    startedAt: h.startedAt ?? '',
    completedAt: h.completedAt ?? null,
    counts: {
      ...(h.counts ? (JSON.parse(h.counts) as Omit<CycleCounts, 'failed'>) : { create: 0, update: 0, delete: 0 }),
      failed: Number(h.failed ?? 0),
    },
    error: h.error ? (JSON.parse(h.error) as Cycle['error']) : null,
    approvalId: h.approvalId || null,
    ...(h.heldDeletes !== undefined ? { heldDeletes: Number(h.heldDeletes) } : {}),
    ...(Number(h.transient ?? 0) > 0 ? { transient: Number(h.transient) } : {}),
    ...(h.retryAt ? { retryAt: h.retryAt } : {}),
  };
}

/** A configuration's state, its quarantine and its last cycle's id, from its state hash. */
function statusOf(st: Record<string, string>): {
  state: ConfigurationState;
  quarantine: Quarantine | null;
  lastCycleId: string | null;
} {
  const state = (st.state ?? 'pending') as ConfigurationState;
  let quarantine: Quarantine | null = null;
  if (state === 'quarantined' && st.quarantine) {
    const notification = st.notification ? decodeNotification(st.notification) : { ...NO_NOTIFICATION };
    quarantine = { ...decodeQuarantine(st.quarantine), notification };
  }
  return { state, quarantine, lastCycleId: st.lastCycleId || null };
}
