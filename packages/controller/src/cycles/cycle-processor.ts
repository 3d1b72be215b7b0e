import { randomUUID } from 'node:crypto';
import { ChangeKind, CycleMode, DeleteCause, ObjectType, decodeChange } from '@syncguard/protocol';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics';
import { decide, describeVerdict, type AppliedDeletes, type PerType, type TrippedRule } from '../guard/decide';
import { ProtectedMatcher } from '../guard/protected-objects';
import { mergeTrippedBy, type LaneState } from './delete-lane';
import { MemberRemovalCounter, type MemberRemovalReads, type PlannedMembership } from './member-removal-counter';
import type { CycleCounts, DeleteCauseName, ObjectTypeName, ProvisioningAction, Quarantine } from '../model';
import { outboxEvent } from './cycle-events';
import type { CycleRecord } from './cycle-record';
import type {
  ApplyRecords,
  ChunkWrites,
  EvaluationRecords,
  EvaluationWatch,
  LaneDecision,
  PlanParts,
  ProcessedCycles,
  QuarantineDecision,
} from './processing-records';
import { decodePlanEntry, encodePlanEntry, type PlanEntry } from './plan-entry';
import { decodeIndexEntry, encodeIndexEntry, indexHoldsHash } from '../store/index-entry';
import { decodeRetryRecord, encodeRetryRecord, type RetryRecord } from '../store/retry-record';
import { attributesObject, type Target, type TargetOperation, type TargetOutcome } from '../targets/target';
import type { TargetResolver } from '../targets/target-resolver';
import type { StoredConfiguration } from '../model';
import { BUNDLE_SIZE, renderBundle, type NewLogEntry } from '../store/provisioning-log';
import { type ChangeSummary, StoredBatch, type StoredChange, decodeSummaries } from '../pipeline/stored-batch';

/** Hooks the processor calls into the rest of the engine. */
export interface CycleProcessorHooks {
  /** Tells an agent the cycle's verdict (CycleCommitted). */
  committed(agentId: string, configurationId: string, cycleId: string): Promise<void>;
  /**
   * The cycle was quarantined (or found quarantined): its `quarantine.started` was written to
   * the outbox with the move; move the configuration's outbox into the `notify` queue now.
   */
  quarantined(configurationId: string, cycleId: string): Promise<void>;
  /** A cycle released by allow-deletes was applied: resume the schedule. */
  released(configurationId: string): Promise<void>;
  /**
   * A cycle was applied with transient failures: start the next cycle (trigger `retry`) in
   * `delayMs`, once per cycle however often this is called.
   */
  retrySoon?(configurationId: string, cycleId: string, delayMs: number): Promise<void>;
  loadConfiguration(configurationId: string): Promise<StoredConfiguration | null>;
  /**
   * The guard would quarantine the cycle: answers the id of the pre-approval that lets its
   * deletes through instead (taken for it, once), or null.
   */
  preApproval?(
    configurationId: string,
    cycleId: string,
    deletes: number,
    trippedBy: readonly TrippedRule[],
  ): Promise<string | null>;
}

/** What the processor reads and writes, each through its interface (built in server.ts). */
export interface CycleProcessorStores {
  cycles: ProcessedCycles;
  evaluation: EvaluationRecords;
  apply: ApplyRecords;
}

/** A change's summary and where it is: batch `seq`, position `idx`. */
interface ChangeRef {
  seq: number;
  idx: number;
  summary: ChangeSummary;
}

/**
 * When a cycle ends with operations still transient after the target client's own retries,
 * the next cycle is brought forward: after the longest Retry-After the target sent (or
 * `defaultMs` when none did), at least `minMs`, at most `maxMs`; not when the schedule
 * (`syncIntervalSeconds`) comes as soon.
 */
export const TRANSIENT_RETRY = Object.freeze({ defaultMs: 10_000, minMs: 1_000, maxMs: 300_000 });

/** The delay before the cycle that retries transient failures, or null when the schedule comes as soon. */
export function transientRetryDelay(retryAfterMs: number, syncIntervalSeconds: number): number | null {
  const wanted = retryAfterMs > 0 ? retryAfterMs : TRANSIENT_RETRY.defaultMs;
  const delay = Math.min(TRANSIENT_RETRY.maxMs, Math.max(TRANSIENT_RETRY.minMs, wanted));
  return delay >= syncIntervalSeconds * 1000 ? null : delay;
}

/** Moot retry records dropped by one FULL cycle at most (the rest by the cycles after it). */
const MAX_MOOT_RETRIES = 10_000;

/** How far back the record of applied deletes reaches: the longest `window.hours` (30 days). */
const APPLIED_DELETES_KEPT_MS = 720 * 3600 * 1000;

/** The type of an index value (`<hash>\t<u|g>\t<dn>`) without decoding the rest. */
function indexedType(stored: string): ObjectTypeName {
  return stored[stored.indexOf('\t') + 1] === 'g' ? 'group' : 'user';
}

/** A staged delete as the quarantine email lists it. */
function previewOf(text: string): { dn: string; objectType: ObjectTypeName } {
  const d = deleteEntry(text);
  return { dn: d.dn, objectType: d.objectType };
}

/** A delete entry of the plan (the parts of deletes hold nothing else). */
function deleteEntry(text: string): Extract<PlanEntry, { kind: 'delete' }> {
  const entry = decodePlanEntry(text);
  if (entry.kind !== 'delete') throw new Error(`not a delete plan entry: ${text}`);
  return entry;
}

/** One apply chunk: its operations and, once rendered, the target's results (and the queued writes). */
interface PreparedChunk {
  offset: number;
  ops: PlannedOperation[];
  writes: ChunkWrites;
  outcomes: TargetOutcome[];
}

/** A target operation with what the pipeline keeps of it: the hash to index, earlier failures, a delete's cause. */
type PlannedOperation = TargetOperation & { hash?: string; attempts?: number; cause?: DeleteCauseName; newDn?: string };

const CAUSE_NAMES: Partial<Record<DeleteCause, DeleteCauseName>> = {
  [DeleteCause.DELETE_CAUSE_DELETED]: 'deleted',
  [DeleteCause.DELETE_CAUSE_MOVED_OUT_OF_SCOPE]: 'movedOutOfScope',
  [DeleteCause.DELETE_CAUSE_FILTERED_OUT]: 'filteredOut',
};

const SCOPE_CHANGED = { cause: 'scopeChanged' } as const;

/** Why a change of the cycle takes its object out: the agent's cause of a DELETE, or a counted disable. */
function deleteCause(summary: ChangeSummary): { cause: DeleteCauseName; newDn?: string } {
  if (summary[0] !== ChangeKind.CHANGE_KIND_DELETE) return { cause: 'disabled' };
  const cause = (summary[6] !== undefined && CAUSE_NAMES[summary[6]]) || 'unknown';
  return cause === 'movedOutOfScope' && summary[7] ? { cause, newDn: summary[7] } : { cause };
}

/**
 * A create or update of the plan, made from a stored change (or from the retry record of an
 * earlier failure). Its attributes and members are decoded only should a target read them:
 * the cloud directory copies the change as it is.
 */
class PlannedChange {
  readonly objectId: string;
  readonly objectType: ObjectTypeName;
  readonly dn: string;
  readonly disabled: boolean;
  readonly hash: string;
  readonly encoded: StoredChange['encoded'] | undefined;
  private content?: { attributes: Record<string, string[]>; memberDns: string[] };

  constructor(
    readonly kind: 'create' | 'update',
    stored: { header: ChangeSummary; encoded: StoredChange['encoded'] | undefined },
  ) {
    const [changeKind, objectType, objectId, dn, hash, disabled] = stored.header;
    this.objectId = objectId;
    this.objectType = typeName(objectType);
    this.dn = dn;
    this.disabled = disabled === 1;
    this.hash = hash;
    // A FULL-mode PRESENT carries no attributes: the target keeps what it has.
    this.encoded = changeKind === ChangeKind.CHANGE_KIND_PRESENT ? undefined : stored.encoded;
  }

  /** The operation a retry record owes, as a create or an update (as the index says now). */
  static retry(
    kind: 'create' | 'update',
    objectId: string,
    record: Extract<RetryRecord, { op: 'upsert' }> | RetryRecord,
  ): PlannedChange {
    if (record.op !== 'upsert') throw new Error(`the retry record of ${objectId} is a delete, planned as an ${kind}`);
    const header: ChangeSummary = [
      record.change ? ChangeKind.CHANGE_KIND_MODIFY : ChangeKind.CHANGE_KIND_PRESENT,
      record.objectType === 'group' ? ObjectType.OBJECT_TYPE_GROUP : ObjectType.OBJECT_TYPE_USER,
      objectId,
      record.dn,
      record.hash,
      record.disabled ? 1 : 0,
    ];
    const encoded = record.change ? { protocolVersion: record.change.protocolVersion, change: record.change.bytes } : undefined;
    return new PlannedChange(kind, { header, encoded });
  }

  get attributes(): Record<string, string[]> | null {
    return this.encoded ? this.decoded(this.encoded).attributes : null;
  }

  get memberDns(): string[] {
    return this.encoded ? this.decoded(this.encoded).memberDns : [];
  }

  private decoded(encoded: StoredChange['encoded']): { attributes: Record<string, string[]>; memberDns: string[] } {
    if (!this.content) {
      const change = decodeChange(encoded.change);
      this.content = { attributes: attributesObject(change.attributes), memberDns: change.memberDns };
    }
    return this.content;
  }
}

/** What the pipeline keeps of an operation that did not apply, for the cycles after. */
function retryRecordOf(op: PlannedOperation, reason: string, at: string, attempts: number): RetryRecord {
  const common = { objectType: op.objectType, dn: op.dn, reason, failedAt: at, attempts };
  if (op.kind === 'delete') return { op: 'delete', ...common };
  return {
    op: 'upsert',
    ...common,
    hash: op.hash ?? '',
    disabled: op.disabled,
    change: op.encoded ? { protocolVersion: op.encoded.protocolVersion, bytes: op.encoded.change } : null,
  };
}

/** The provisioning log's details of an outcome. */
function outcomeDetails(outcome: TargetOutcome): string | null {
  switch (outcome.status) {
    case 'applied':
      return outcome.details;
    case 'failed':
      return `${outcome.reason} (tried again by the next cycles)`;
    case 'retry':
      return `transient: ${outcome.reason} (tried again by the next cycles)`;
  }
}

/** Failed operations of a cycle of `size` that quarantine it with TargetFailures (Infinity: never). */
export function failureLimit(target: Target, size: number): number {
  const q = target.failureQuarantine;
  if (!q) return Number.POSITIVE_INFINITY;
  return Math.max(q.minimum, Math.ceil((size * q.percent) / 100));
}

export function typeName(t: ObjectType): ObjectTypeName {
  return t === ObjectType.OBJECT_TYPE_GROUP ? 'group' : 'user';
}

/**
 * Evaluates and applies one cycle; the body of the `cycles` BullMQ job.
 *
 * Phases of a cycle (field `phase` of its hash): `streaming` (batches arriving) ->
 * `complete` (every batch held; job queued) -> `quarantined` or `applying` -> `applied`;
 * or `failed` / `discarded`. Each step is a guarded transition, so running the job
 * again after a crash continues where the last run stopped:
 *
 * 1. evaluate: reads every batch and the synced index, writes the plan (a list of
 *    operations), counts deletes and either quarantines or moves to `applying`, all in
 *    one MULTI;
 * 2. apply: takes the plan in chunks; each chunk's target writes, index updates,
 *    provisioning-log entries and the progress marker `applied` commit in one MULTI
 *    under WATCH, so a chunk is applied exactly once;
 * 3. finalize: `applied`, the configuration's committed cycle advances, staged data
 *    is removed and the agent is told CycleCommitted (idempotent).
 */
export class CycleProcessor {
  constructor(
    private readonly stores: CycleProcessorStores,
    private readonly targets: TargetResolver,
    private readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
    private readonly chunkSize: number,
    private readonly hooks: CycleProcessorHooks,
    private readonly stepDelayMs = 0,
  ) {}

  /** What the `memberRemovals` count reads: the member record and the cycle's own batches. */
  private readonly memberReads: MemberRemovalReads = {
    previous: (cfgId, groupIds) => this.stores.evaluation.previousMembers(cfgId, groupIds),
    memberDns: async (cycleId, at) => {
      const seqs = [...new Set(at.map((a) => a.seq))];
      const [changes, summaries] = await Promise.all([
        this.stores.evaluation.batchChanges(cycleId, seqs),
        this.stores.evaluation.summaries(cycleId, seqs),
      ]);
      const batches = new Map<number, StoredBatch>();
      seqs.forEach((seq, i) => {
        const bytes = changes[i];
        if (!bytes) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
        batches.set(seq, StoredBatch.decode(bytes, summaries[i] ?? null));
      });
      return at.map((a) => {
        const stored = batches.get(a.seq)?.change(a.idx);
        return stored ? decodeChange(stored.encoded.change).memberDns : [];
      });
    },
  };

  async process(cycleId: string): Promise<void> {
    let releasedNow = false;
    for (let step = 0; step < 5; step++) {
      const c: CycleRecord = await this.stores.cycles.record(cycleId);
      switch (c.phase) {
        case 'complete':
          await this.evaluate(cycleId, c);
          break;
        case 'applying':
          await this.apply(cycleId, c);
          releasedNow = (await this.finalize(cycleId, c)) && c.released === '1';
          break;
        case 'applied':
          await this.cleanup(cycleId);
          if (c.retryAt && this.hooks.retrySoon) {
            const delayMs = Math.max(0, Date.parse(c.retryAt) - Date.now());
            await this.hooks.retrySoon(c.configurationId ?? '', cycleId, delayMs).catch((error: unknown) => {
              this.logger.warn({ err: error, configurationId: c.configurationId, cycleId }, 'the retry cycle was not scheduled');
            });
          }
          // A delete lane's release cycle had no agent (and commits nothing an agent reads).
          if (c.trigger !== 'release') await this.hooks.committed(c.agentId ?? '', c.configurationId ?? '', cycleId);
          if (releasedNow) {
            // After CycleCommitted, so that the agent's cache has advanced when the next cycle asks for a delta.
            await this.hooks.released(c.configurationId ?? '').catch((error: unknown) => {
              this.logger.warn({ err: error, configurationId: c.configurationId }, 'no cycle started after allow-deletes');
            });
          }
          return;
        case 'quarantined':
          await this.hooks.quarantined(c.configurationId ?? '', cycleId);
          return;
        case 'failed':
        case 'discarded':
          await this.cleanup(cycleId);
          return;
        default:
          // streaming (not ours to process yet) or gone (configuration deleted).
          return;
      }
    }
  }

  /**
   * The summaries of the cycle's batches in sequence order, a few batches at a time, so
   * that memory stays small whatever the size of the cycle.
   */
  private async *summaryGroups(cycleId: string, cycleFields: CycleRecord): AsyncGenerator<ChangeRef[]> {
    const last = Number(cycleFields.acked ?? 0);
    for (let from = 1; from <= last; from += 8) {
      const seqs = Array.from({ length: Math.min(8, last - from + 1) }, (_, i) => from + i);
      const stored = await this.stores.evaluation.summaries(cycleId, seqs);
      const refs: ChangeRef[] = [];
      stored.forEach((text, i) => {
        const seq = seqs[i]!;
        if (text === null) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
        decodeSummaries(text).forEach((summary, idx) => refs.push({ seq, idx, summary }));
      });
      yield refs;
    }
  }

  /**
   * Builds the seen hash of a cycle some of whose batches were staged without it (by an
   * earlier version of the controller, e.g. during a rolling upgrade): object id -> `seq:idx`
   * of its last change. Without it, the objects of those batches would look unseen, and a
   * FULL cycle would delete them.
   */
  private async rebuildSeen(cycleId: string, c: CycleRecord): Promise<void> {
    const records = this.stores.evaluation;
    await records.resetSeen(cycleId);
    let changes = 0;
    for await (const refs of this.summaryGroups(cycleId, c)) {
      if (refs.length === 0) continue;
      changes += refs.length;
      await records.addSeen(
        cycleId,
        refs.flatMap((r) => [r.summary[2], `${r.seq}:${r.idx}`]),
      );
    }
    const distinct = await records.seenCount(cycleId);
    await records.markSeen(cycleId, c.acked ?? '0', String(changes - distinct));
    c.seenThrough = c.acked ?? '0';
    c.duplicates = String(changes - distinct);
  }

  private async evaluate(cycleId: string, c: CycleRecord): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const cfg = await this.hooks.loadConfiguration(cfgId);
    if (!cfg) return;
    // The plan is written under WATCH: should two runs of this job overlap (a stalled
    // worker that was not dead after all), only the first replaces the plan.
    // Before the WATCH: the rebuild writes the cycle hash (and is the same whoever runs it).
    if (Number(c.seenThrough ?? 0) < Number(c.acked ?? 0)) await this.rebuildSeen(cycleId, c);
    const watch = await this.stores.evaluation.watch(cycleId);
    try {
      if ((await watch.phase()) !== 'complete') return;
      await this.evaluateWatched(cycleId, c, cfg, watch);
    } finally {
      watch.close();
    }
  }

  /**
   * Works out the plan of a complete cycle in one pass over its batches, holding a few
   * batches at a time (never every object: a million-object cycle takes no more memory
   * than a small one). Plan entries go to parts in Redis as they are found (users,
   * groups, deletes, each in batch order); one MULTI under WATCH then puts the plan
   * together, writes the StagedDelete entries of a quarantine, and moves the cycle on.
   */
  private async evaluateWatched(
    cycleId: string,
    c: CycleRecord,
    cfg: StoredConfiguration,
    watch: EvaluationWatch,
  ): Promise<void> {
    const cfgId = cfg.id;
    const full = c.mode === 'full' || c.agentMode === String(CycleMode.CYCLE_MODE_FULL);
    const countDisables = cfg.accidentalDeletes.countDisables;
    const records = this.stores.evaluation;
    // Parts of this run's plan, named after the run, so that an overlapping run writes its own.
    const run = randomUUID();
    const parts = records.planParts(cycleId, run);
    const lengths = { u: 0, g: 0, d: 0 };
    const counts: CycleCounts = { create: 0, update: 0, delete: 0, failed: 0 };
    const cycleFields: Record<string, string | number> = {};
    // What the guard weighs besides the count, gathered per delete as the plan is written.
    const policy = cfg.accidentalDeletes;
    const protection = new ProtectedMatcher(policy.enabled ? policy.protected : null);
    const deletesByType = { user: 0, group: 0 };
    let protectedDeletes = 0;
    // Counted only while the rule is on (and the cycle not released: nothing could trip).
    const memberRemovals =
      policy.enabled && policy.memberRemovals && c.released !== '1'
        ? new MemberRemovalCounter(this.memberReads, cfgId, cycleId)
        : null;
    // The delete lane (cycles/delete-lane.ts): held objects back in scope leave the held set.
    const leaving: string[] = [];
    // Kept objects (cycles/triage.ts): never a delete again; back in scope they leave the kept set.
    const keptBack: string[] = [];
    const planDelete = (objectId: string, indexed: string, why?: { cause: DeleteCauseName; newDn?: string }): string => {
      const held = decodeIndexEntry(indexed);
      deletesByType[held.objectType] += 1;
      if (!protection.empty && protection.matches(objectId, held.dn)) protectedDeletes += 1;
      return encodePlanEntry({ kind: 'delete', objectId, ...held, ...why });
    };
    // Appends entries to the parts; a TTL takes the parts away should this run die.
    const write = async (entries: { u: string[]; g: string[]; d: string[] }, deleteIds: string[] = []): Promise<void> => {
      for (const p of ['u', 'g', 'd'] as const) lengths[p] += entries[p].length;
      await parts.append(entries, deleteIds);
    };
    try {
      // Objects per type before the cycle: counted exactly by a FULL cycle's scan of the
      // index below, else as the apply chunks kept them.
      const [indexed, heldCounts, lane, committedScope, kept] = await Promise.all([
        records.indexSize(cfgId),
        records.heldCounts(cfgId),
        records.lane(cfgId),
        records.committedScope(cfgId),
        records.keptCount(cfgId),
      ]);
      // The configuration's scope changed since the last commit: that is why its objects leave.
      const scopeChanged = committedScope !== null && c.scope !== undefined && c.scope !== committedScope;
      const causeOf = (summary: ChangeSummary) => {
        const agentCause = deleteCause(summary);
        return scopeChanged && agentCause.cause !== 'disabled' ? SCOPE_CHANGED : agentCause;
      };
      let heldByType: PerType<number> | null = heldCounts;
      const scanned = { user: 0, group: 0 };
      const superseded = Number(c.duplicates ?? 0) > 0;
      for await (const refs of this.summaryGroups(cycleId, c)) {
        if (refs.length === 0) continue;
        const ids = refs.map((r) => r.summary[2]);
        // Only what is needed: an empty index (an initial sync) has nothing to compare with.
        const [latest, known, laneHolds, keptHolds] = await Promise.all([
          superseded ? records.latestChanges(cycleId, ids) : null,
          indexed > 0 ? records.indexed(cfgId, ids) : null,
          lane.held > 0 ? records.heldByLane(cfgId, ids) : null,
          kept > 0 ? records.keptHolds(cfgId, ids) : null,
        ]);
        const entries = { u: [] as string[], g: [] as string[], d: [] as string[] };
        refs.forEach(({ seq, idx, summary }, i) => {
          // The last change per object wins: an object listed twice keeps its latest view.
          if (latest && latest[i] !== `${seq}:${idx}`) return;
          const [kind, objectType, objectId, , hash, disabled] = summary;
          const was = known?.[i] ?? null;
          const inScope = kind !== ChangeKind.CHANGE_KIND_DELETE && !(countDisables && disabled === 1);
          if (laneHolds?.[i]) {
            // Held already: out of scope it stays held (not twice); in scope it leaves the set.
            if (!inScope) return;
            leaving.push(objectId);
          }
          if (keptHolds?.[i]) {
            // Kept: out of scope it trips nothing; in scope it leaves the kept set.
            if (!inScope) return;
            keptBack.push(objectId);
          }
          if (!inScope) {
            // Described as the target holds it (as the index recorded it when applied).
            if (was !== null) entries.d.push(planDelete(objectId, was, causeOf(summary)));
            return;
          }
          const ops = objectType === ObjectType.OBJECT_TYPE_GROUP ? entries.g : entries.u;
          if (was === null) {
            ops.push(encodePlanEntry({ kind: 'create', from: 'batch', sequence: seq, index: idx }));
            counts.create += 1;
          } else if (!indexHoldsHash(was, hash)) {
            ops.push(encodePlanEntry({ kind: 'update', from: 'batch', sequence: seq, index: idx }));
            counts.update += 1;
            // A PRESENT carries no member list: the target keeps the members it has.
            if (memberRemovals && objectType === ObjectType.OBJECT_TYPE_GROUP && kind !== ChangeKind.CHANGE_KIND_PRESENT)
              memberRemovals.add(seq, idx, objectId);
          }
        });
        await write(entries);
        await memberRemovals?.flush();
      }
      if (full && indexed > 0) {
        // FULL mode: whatever the target holds and the scan did not report is gone from scope.
        let cursor = '0';
        do {
          const [next, kv] = await records.scanIndex(cfgId, cursor);
          cursor = next;
          const held = new Map<string, string>();
          for (let i = 0; i + 1 < kv.length; i += 2) {
            held.set(kv[i]!, kv[i + 1]!);
            scanned[indexedType(kv[i + 1]!)] += 1;
          }
          const ids = [...held.keys()];
          if (ids.length === 0) continue;
          const seen = await records.latestChanges(cycleId, ids);
          let missing = ids.filter((_, i) => seen[i] === null);
          if (missing.length === 0) continue;
          // HSCAN may return an id twice (while the hash is rehashed): each delete counts once.
          const listed = await parts.listedDeletes(missing);
          missing = missing.filter((_, i) => listed[i] === 0);
          if (lane.held > 0 && missing.length > 0) {
            // Held by the delete lane already: it stays held, and is not planned again.
            const held = await records.heldByLane(cfgId, missing);
            missing = missing.filter((_, i) => !held[i]);
          }
          if (kept > 0 && missing.length > 0) {
            // A kept object is missing from every FULL scan while out of scope: never a delete.
            const isKept = await records.keptHolds(cfgId, missing);
            missing = missing.filter((_, i) => !isKept[i]);
          }
          if (missing.length === 0) continue;
          const d = missing.map((id) => planDelete(id, held.get(id)!, scopeChanged ? SCOPE_CHANGED : undefined));
          await write({ u: [], g: [], d }, missing);
        } while (cursor !== '0');
        heldByType = scanned;
      } else if (heldByType === null && indexed > 0) {
        // Counters missing (an index written by an earlier version): counted once, then kept.
        heldByType = await this.countIndexed(cfgId);
      }
      heldByType ??= { user: 0, group: 0 };
      const owed = await this.planRetries(cfgId, cycleId, parts, full, counts, write, planDelete);
      cycleFields.retries = owed.retries;
      cycleFields.retryRecords = owed.records;
      if (owed.moot.length > 0) cycleFields.mootRetries = JSON.stringify(owed.moot);
      counts.delete = lengths.d;
      const deleteCount = lengths.d;
      const planSize = lengths.u + lengths.g + lengths.d;

      const nowMs = Date.now();
      const applied =
        policy.enabled && policy.window && deleteCount > 0 ? await this.appliedSince(cfgId, nowMs, policy.window.hours) : [];
      const verdict = decide(
        {
          deletes: deleteCount,
          deletesByType,
          heldByType,
          held: indexed,
          protectedDeletes,
          memberRemovals: memberRemovals?.total ?? 0,
        },
        policy,
        { released: c.released === '1', now: nowMs, applied },
      );
      // The delete lane: open already, or opened by this verdict with hold "deletes". Its
      // cycle is applied without its deletes, which join the held set.
      // A pre-approval lets a cycle the guard would stop through instead (not while the lane is open).
      let tripped = verdict.quarantine;
      if (tripped && !lane.open && this.hooks.preApproval) {
        const approvalId = await this.hooks.preApproval(cfgId, cycleId, deleteCount, verdict.trippedBy);
        if (approvalId) {
          tripped = false;
          cycleFields.approvalId = approvalId;
        }
      }
      const held = lane.open || (tripped && policy.hold === 'deletes');
      const quarantine = tripped && !held;
      const heldAfter = held ? lane.held - leaving.length + deleteCount : 0;
      const now = new Date(nowMs).toISOString();
      if (held) {
        counts.delete = 0;
        Object.assign(cycleFields, { lane: heldAfter > 0 ? '1' : '0', heldDeletes: deleteCount });
      }
      Object.assign(cycleFields, {
        planSize: held ? planSize - deleteCount : planSize,
        applied: 0,
        deleteCount: held ? 0 : deleteCount,
        counts: JSON.stringify(counts),
        evaluatedMode: full ? 'full' : 'delta',
      });
      const preview = quarantine || (held && !lane.open) ? await parts.deletes(0, 20) : [];
      // A quarantine logs every staged delete (the lane, every delete it holds). The log bundles
      // are rendered here, a chunk at a time, and written to the log inside Redis by the MULTI
      // below (one XADD per 1,000).
      const logStaged = quarantine || (held && deleteCount > 0);
      const why = held && !tripped ? 'held by the open delete lane' : describeVerdict(verdict);
      if (logStaged) await this.renderStagedDeletes(cycleId, parts, why, now);
      const laneDecision: LaneDecision | null = held
        ? {
            leaving,
            quarantine:
              heldAfter > 0 ? this.laneQuarantine(lane, verdict.trippedBy, heldAfter, cycleId, now, policy.threshold) : null,
            notify: lane.open ? null : Boolean(cfg.notificationEmail),
            stagedPreview: preview.map(previewOf),
            logStaged,
          }
        : null;
      if (laneDecision && !lane.open && laneDecision.quarantine)
        laneDecision.event = outboxEvent(
          { event: 'quarantine.started', configurationId: cfgId, cycleId, quarantine: laneDecision.quarantine },
          now,
        );
      let decision: QuarantineDecision | null = null;
      if (quarantine) {
        const q: QuarantineDecision['quarantine'] = {
          reason: 'TooManyDeletes',
          deleteCount,
          threshold: policy.threshold,
          trippedBy: [...verdict.trippedBy],
          seriesCount: lane.restartedSeries + 1,
          hold: 'cycle',
          cycleId,
          since: now,
        };
        const stagedPreview = preview.map(previewOf);
        // The quarantine emails' progress starts pending when anyone is to be emailed (notifications/notification-service.ts).
        const notify = Boolean(cfg.notificationEmail) || (cfg.notifications?.emails.length ?? 0) > 0;
        // Its event is written with the quarantine, in the commit's MULTI (cycles/cycle-events.ts).
        const event = outboxEvent({ event: 'quarantine.started', configurationId: cfgId, cycleId, quarantine: q }, now);
        decision = { quarantine: q, notify, stagedPreview, completedAt: now, event };
      }
      // One MULTI under the WATCH: the counts, the staged deletes' log, the plan, the move.
      const moved = await watch.commit({
        configurationId: cfgId,
        cycleId,
        parts,
        heldByType,
        cycleFields,
        quarantine: decision,
        lane: laneDecision,
        keptBack,
      });
      if (moved && keptBack.length > 0)
        this.logger.info(
          { configurationId: cfgId, cycleId, back: keptBack.length },
          'kept objects back in scope leave the kept list',
        );
      if (moved && held && !lane.open) {
        this.metrics.cycles.inc({ outcome: 'quarantined' });
        for (const t of verdict.trippedBy) this.metrics.guardTrips.inc({ rule: t.rule });
        this.logger.warn(
          { configurationId: cfgId, cycleId, held: heldAfter, trippedBy: verdict.trippedBy },
          `delete lane opened: creates and updates applied, ${heldAfter} deletes held: ${describeVerdict(verdict)}`,
        );
      } else if (moved && held) {
        if (verdict.quarantine) for (const t of verdict.trippedBy) this.metrics.guardTrips.inc({ rule: t.rule });
        this.logger.info(
          { configurationId: cfgId, cycleId, added: deleteCount, back: leaving.length, held: heldAfter },
          heldAfter > 0
            ? 'cycle evaluated; its deletes join the delete lane'
            : 'cycle evaluated; the delete lane is empty and closes',
        );
      }
      if (moved && held && heldAfter > 0) this.metrics.stagedDeletes.inc(deleteCount);
      // The lane's one email (the cycle goes on to apply, so process() does not send it).
      if (moved && held && !lane.open && heldAfter > 0) await this.hooks.quarantined(cfgId, cycleId);
      if (moved && quarantine) {
        this.metrics.cycles.inc({ outcome: 'quarantined' });
        this.metrics.stagedDeletes.inc(deleteCount);
        for (const t of verdict.trippedBy) this.metrics.guardTrips.inc({ rule: t.rule });
        this.logger.warn(
          { configurationId: cfgId, cycleId, deleteCount, trippedBy: verdict.trippedBy },
          `cycle quarantined: ${describeVerdict(verdict)}`,
        );
      } else if (moved) {
        this.logger.info({ configurationId: cfgId, cycleId, counts }, 'cycle evaluated');
      }
    } finally {
      // Gone already when the MULTI ran; left over when it did not (or this run failed).
      await parts.drop();
    }
  }

  /**
   * The quarantine of an open delete lane after this cycle: opened now, or carried on (held
   * set size, the rules, one more cycle).
   */
  private laneQuarantine(
    lane: LaneState,
    trippedBy: readonly TrippedRule[],
    held: number,
    cycleId: string,
    now: string,
    threshold: number,
  ): LaneDecision['quarantine'] {
    const earlier = lane.open ? lane.quarantine : null;
    if (earlier)
      return {
        ...earlier,
        deleteCount: held,
        trippedBy: mergeTrippedBy(earlier.trippedBy, trippedBy),
        seriesCount: earlier.seriesCount + 1,
      };
    return {
      reason: 'TooManyDeletes',
      deleteCount: held,
      threshold,
      trippedBy: [...trippedBy],
      seriesCount: lane.restartedSeries + 1,
      hold: 'deletes',
      cycleId,
      since: now,
    };
  }

  /**
   * Puts what the pipeline still owes the target (the retry records of objects whose
   * operation failed in an earlier cycle) into this cycle's plan, and counts it. An object
   * that the cycle names itself is planned from its change. In a FULL cycle, a record of an
   * object the scan did not see is moot: the object is out of scope, and its delete (when
   * the target holds it) is planned already; moot records are dropped once the cycle is
   * applied, not before (a discarded cycle leaves them as they were).
   */
  private async planRetries(
    cfgId: string,
    cycleId: string,
    parts: PlanParts,
    full: boolean,
    counts: CycleCounts,
    write: (entries: { u: string[]; g: string[]; d: string[] }, deleteIds?: string[]) => Promise<void>,
    planDelete: (objectId: string, indexed: string) => string,
  ): Promise<{ records: number; retries: number; moot: string[] }> {
    const store = this.stores.evaluation;
    const out = { records: await store.retryCount(cfgId), retries: 0, moot: [] as string[] };
    if (out.records === 0) return out;
    const planned = new Set<string>();
    let cursor = '0';
    do {
      const [next, kv] = await store.scanRetries(cfgId, cursor);
      cursor = next;
      const records = new Map<string, RetryRecord>();
      for (let i = 0; i + 1 < kv.length; i += 2) if (!planned.has(kv[i]!)) records.set(kv[i]!, decodeRetryRecord(kv[i + 1]!));
      const ids = [...records.keys()];
      if (ids.length === 0) continue;
      const [seen, known, listed] = await Promise.all([
        store.latestChanges(cycleId, ids),
        store.indexed(cfgId, ids),
        parts.listedDeletes(ids),
      ]);
      const entries = { u: [] as string[], g: [] as string[], d: [] as string[] };
      const deleteIds: string[] = [];
      ids.forEach((id, i) => {
        planned.add(id);
        // Planned from the cycle's own change, or deleted by the cycle already.
        if (seen[i] !== null || listed[i] === 1) return;
        const record = records.get(id)!;
        const held = known[i] ?? null;
        if (full || (record.op === 'delete' && held === null)) {
          if (out.moot.length < MAX_MOOT_RETRIES) out.moot.push(id);
          return;
        }
        out.retries += 1;
        if (record.op === 'delete') {
          entries.d.push(planDelete(id, held!));
          deleteIds.push(id);
          return;
        }
        const kind = held === null ? 'create' : 'update';
        counts[kind] += 1;
        (record.objectType === 'group' ? entries.g : entries.u).push(encodePlanEntry({ kind, from: 'retry', objectId: id }));
      });
      await write(entries, deleteIds);
    } while (cursor !== '0');
    return out;
  }

  /** Objects of the index per type, by one scan (only for an index whose counters an earlier version did not keep). */
  private async countIndexed(cfgId: string): Promise<PerType<number>> {
    const out = { user: 0, group: 0 };
    let cursor = '0';
    do {
      const [next, kv] = await this.stores.evaluation.scanIndex(cfgId, cursor);
      cursor = next;
      for (let i = 1; i < kv.length; i += 2) out[indexedType(kv[i]!)] += 1;
    } while (cursor !== '0');
    return out;
  }

  /** The deletes applied by the configuration's cycles committed in the `hours` before `nowMs` (one ZRANGEBYSCORE). */
  private async appliedSince(cfgId: string, nowMs: number, hours: number): Promise<AppliedDeletes[]> {
    return this.stores.evaluation.appliedDeletesSince(cfgId, nowMs - hours * 3600 * 1000);
  }

  /** Renders a StagedDelete log bundle per chunk of a deletes list, into a list (with a TTL). */
  private async renderStagedDeletes(cycleId: string, parts: PlanParts, details: string, at: string): Promise<void> {
    for (let offset = 0; ; offset += BUNDLE_SIZE) {
      const entries = await parts.deletes(offset, BUNDLE_SIZE);
      if (entries.length === 0) return;
      const bundle = renderBundle(
        cycleId,
        at,
        entries.map((e) => {
          const d = deleteEntry(e);
          return {
            action: 'StagedDelete' as const,
            status: 'staged' as const,
            objectType: d.objectType,
            objectId: d.objectId,
            dn: d.dn,
            details,
            cause: d.cause ?? 'unknown',
            ...(d.newDn ? { newDn: d.newDn } : {}),
          };
        }),
      );
      await parts.addStagedBundle(bundle);
      if (entries.length < BUNDLE_SIZE) return;
    }
  }

  private async apply(cycleId: string, c: CycleRecord): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const records = this.stores.apply;
    // Under a WATCH of the cycle's record, on a connection of its own.
    const session = records.session(cycleId);
    const batches = new Map<number, StoredBatch>();
    // A target that only queues its writes on the transaction (the cloud directory) is
    // run ahead: the next chunk's writes are worked out while the current chunk commits,
    // queued (not sent), and committed with that chunk's MULTI when its turn comes. Plan
    // entries name distinct objects, so what a chunk reads is not what the chunk before writes.
    const target = this.targets.forConfiguration(await this.hooks.loadConfiguration(cfgId));
    const ahead = target.transactional === true;
    const prepare = async (offset: number): Promise<PreparedChunk> => {
      const entries = await records.planEntries(cycleId, offset, this.chunkSize);
      const chunk: PreparedChunk = {
        offset,
        ops: await this.operations(cycleId, cfgId, entries, batches),
        writes: records.chunkWrites(),
        outcomes: [],
      };
      if (ahead) await this.render(cycleId, c, target, chunk);
      return chunk;
    };
    // The next chunk is read, decoded (and rendered) while the current one commits.
    const pending: { next: Promise<PreparedChunk> | null } = { next: null };
    try {
      for (;;) {
        const { phase, applied, size, failed: failedSoFar } = await session.progress();
        if (phase !== 'applying' || applied >= size) {
          await session.unwatch();
          await pending.next?.catch(() => undefined);
          return;
        }
        // TargetFailures: once enough of the cycle's operations failed, nothing more is sent.
        const limit = failureLimit(target, size);
        if (failedSoFar >= limit) {
          await session.unwatch();
          await pending.next?.catch(() => undefined);
          await this.quarantineForFailures(cycleId, cfgId, failedSoFar, limit);
          return;
        }
        let prepared: PreparedChunk | null = pending.next ? await pending.next : null;
        if (prepared?.offset !== applied) prepared = await prepare(applied);
        const chunk = prepared;
        // A plan shorter than its planSize would otherwise be "applied" forever without progress.
        if (chunk.ops.length === 0) throw new Error(`the plan of cycle ${cycleId} ends at ${applied}, before its size ${size}`);
        pending.next = applied + chunk.ops.length < size ? prepare(applied + chunk.ops.length) : null;
        pending.next?.catch(() => undefined); // awaited (and its error surfaced) in the next round
        if (!ahead) await this.render(cycleId, c, target, chunk);
        const failed = await session.commitChunk(chunk.writes, applied + chunk.ops.length);
        if (failed === null) {
          // Someone else moved the cycle on: read again, and work out what was run ahead afresh.
          await pending.next?.catch(() => undefined);
          pending.next = null;
          continue;
        }
        // Redis runs every command of a MULTI even when one fails, and the chunk is marked
        // applied: a failed write (a key of the wrong type, say) must not pass unseen.
        if (failed.length > 0) {
          this.logger.error({ cycleId, chunk: applied, errors: failed }, 'writes of an apply chunk failed');
          throw new Error(`writes of the apply chunk at ${applied} of cycle ${cycleId} failed: ${failed[0]!}`);
        }
        if (this.stepDelayMs > 0) await new Promise((r) => setTimeout(r, this.stepDelayMs));
        const counted = new Map<string, number>();
        chunk.ops.forEach((op, i) => {
          const key = `${op.kind}/${chunk.outcomes[i]?.status === 'applied' ? 'success' : 'failure'}`;
          counted.set(key, (counted.get(key) ?? 0) + 1);
        });
        for (const [key, n] of counted) {
          const [kind, status] = key.split('/');
          this.metrics.changesApplied.inc({ kind, status }, n);
        }
      }
    } finally {
      session.close();
    }
  }

  /**
   * Queues a chunk's target writes, index updates, retry records and provisioning-log
   * entries on its writes. An applied operation goes into the index (and settles what was owed
   * for its object); a failed one is logged as a failure and kept as a retry record for
   * the cycles after, and its object stays as the index had it.
   */
  private async render(cycleId: string, c: CycleRecord, target: Target, chunk: PreparedChunk): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const ops = chunk.ops;
    const writes = chunk.writes;
    const outcomes = await target.apply(cfgId, ops, writes.unit);
    if (outcomes.length !== ops.length)
      throw new Error(`the ${target.kind} target answered ${outcomes.length} outcomes for ${ops.length} operations`);
    chunk.outcomes = outcomes;
    const now = new Date().toISOString();
    const indexSet: string[] = [];
    const indexDel: string[] = [];
    const heldDelta = { user: 0, group: 0 };
    const settled: string[] = [];
    const failed: number[] = [];
    const logEntries: NewLogEntry[] = new Array<NewLogEntry>(ops.length);
    const groups: PlannedMembership[] = [];
    ops.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.status === 'applied') {
        // The member record follows what was applied (a change without content keeps it).
        if (op.objectType === 'group' && (op.kind === 'delete' || op.encoded))
          groups.push({ groupId: op.objectId, memberDns: op.kind === 'delete' ? null : op.memberDns });
        if (op.kind === 'delete') {
          indexDel.push(op.objectId);
          heldDelta[op.objectType] -= 1;
        } else {
          indexSet.push(op.objectId, encodeIndexEntry(op.hash ?? '', op.objectType, op.dn));
          if (op.kind === 'create') heldDelta[op.objectType] += 1;
        }
        settled.push(op.objectId);
      } else {
        failed.push(i);
      }
      logEntries[i] = {
        cycleId,
        action: (op.kind === 'create' ? 'Create' : op.kind === 'update' ? 'Update' : 'Delete') as ProvisioningAction,
        status: outcome.status === 'applied' ? 'success' : 'failure',
        objectType: op.objectType,
        objectId: op.objectId,
        dn: op.dn,
        details: outcomeDetails(outcome),
        ...(op.kind === 'delete' ? { cause: op.cause ?? 'unknown', ...(op.newDn ? { newDn: op.newDn } : {}) } : {}),
      };
    });
    writes.log(cfgId, logEntries, now);
    const owed: string[] = [];
    const transient = { count: 0, retryAfterMs: Number(c.retryAfterMs ?? 0) };
    for (const i of failed) {
      const o = outcomes[i]!;
      if (o.status !== 'retry') continue;
      transient.count += 1;
      if (o.retryAfterMs !== undefined) transient.retryAfterMs = Math.max(transient.retryAfterMs, o.retryAfterMs);
    }
    // Kept on the record read at the start of the apply: the longest Retry-After of the whole cycle.
    if (transient.count > 0) c.retryAfterMs = String(transient.retryAfterMs);
    if (failed.length > 0) {
      const ids = failed.map((i) => ops[i]!.objectId);
      const earlier = Number(c.retryRecords ?? 0) > 0 ? await this.stores.apply.retryRecords(cfgId, ids) : [];
      failed.forEach((i, j) => {
        const op = ops[i]!;
        const outcome = outcomes[i] as Exclude<TargetOutcome, { status: 'applied' }>;
        const before = earlier[j] ? decodeRetryRecord(earlier[j]!).attempts : 0;
        owed.push(op.objectId, encodeRetryRecord(retryRecordOf(op, outcome.reason, now, before + 1)));
      });
    }
    if (indexDel.length > 0) writes.removeFromIndex(cfgId, indexDel);
    if (indexSet.length > 0) writes.setInIndex(cfgId, indexSet);
    if (groups.length > 0) writes.setMembers(cfgId, groups);
    for (const t of ['user', 'group'] as const) if (heldDelta[t] !== 0) writes.addHeld(cfgId, t, heldDelta[t]);
    // Deletes applied count towards the window (recorded by finalize, with the commit time).
    if (indexDel.length > 0) writes.countDeletesApplied(cycleId, indexDel.length);
    // Records exist only where an earlier cycle failed (this cycle's own are for other objects).
    if (settled.length > 0 && Number(c.retryRecords ?? 0) > 0) writes.settleRetries(cfgId, settled);
    if (owed.length > 0) writes.owe(cfgId, cycleId, owed, failed.length, transient);
  }

  /**
   * Quarantines an applying cycle whose target refused too many of its operations
   * (`TargetFailures`): what was applied stays, the rest of the plan is not sent, and the
   * configuration waits for a restart (which discards the cycle and reads the source again).
   */
  private async quarantineForFailures(cycleId: string, cfgId: string, failed: number, limit: number): Promise<void> {
    const cfg = await this.hooks.loadConfiguration(cfgId);
    const now = new Date().toISOString();
    const quarantine: Omit<Quarantine, 'notification'> = {
      reason: 'TargetFailures',
      deleteCount: failed,
      threshold: limit,
      trippedBy: [],
      seriesCount: 1,
      hold: 'cycle',
      cycleId,
      since: now,
    };
    const moved = await this.stores.apply.quarantineApplying({
      configurationId: cfgId,
      cycleId,
      quarantine,
      notify: Boolean(cfg?.notificationEmail),
      completedAt: now,
      event: outboxEvent({ event: 'quarantine.started', configurationId: cfgId, cycleId, quarantine }, now),
    });
    if (!moved) return;
    this.metrics.cycles.inc({ outcome: 'quarantined' });
    this.logger.warn(
      { configurationId: cfgId, cycleId, failed, limit },
      `cycle quarantined: the target refused ${failed} operations (limit ${limit}); nothing more is sent until restart`,
    );
  }

  /**
   * Turns plan entries into target operations, reading the batches and the retry records
   * they point into.
   */
  private async operations(
    cycleId: string,
    cfgId: string,
    texts: string[],
    batches: Map<number, StoredBatch>,
  ): Promise<PlannedOperation[]> {
    const entries = texts.map(decodePlanEntry);
    const needed = new Set<number>();
    const retried: string[] = [];
    for (const e of entries) {
      if (e.kind === 'delete') continue;
      if (e.from === 'batch') needed.add(e.sequence);
      else retried.push(e.objectId);
    }
    // Only the batches this chunk points into are kept (plan order follows batch order).
    for (const seq of batches.keys()) if (!needed.has(seq)) batches.delete(seq);
    const missing = [...needed].filter((s) => !batches.has(s));
    const store = this.stores.apply;
    const [changes, summaries, records] = await Promise.all([
      missing.length > 0 ? store.batchChanges(cycleId, missing) : [],
      missing.length > 0 ? store.summaries(cycleId, missing) : [],
      retried.length > 0 ? store.retryRecords(cfgId, retried) : [],
    ]);
    missing.forEach((seq, i) => {
      const bytes = changes[i];
      if (!bytes) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
      batches.set(seq, StoredBatch.decode(bytes, summaries[i] ?? null));
    });
    const owed = new Map<string, string | null>(retried.map((id, i) => [id, records[i] ?? null]));
    return entries.map((e, i): PlannedOperation => {
      if (e.kind === 'delete')
        return { kind: 'delete', objectId: e.objectId, objectType: e.objectType, dn: e.dn, cause: e.cause, newDn: e.newDn };
      if (e.from === 'batch') {
        const stored = batches.get(e.sequence)?.change(e.index);
        if (stored === undefined) throw new Error(`plan entry ${texts[i]} of cycle ${cycleId} points nowhere`);
        return new PlannedChange(e.kind, stored);
      }
      const record = owed.get(e.objectId);
      if (!record) throw new Error(`plan entry ${texts[i]} of cycle ${cycleId}: its retry record is gone`);
      return PlannedChange.retry(e.kind, e.objectId, decodeRetryRecord(record));
    });
  }

  private async finalize(cycleId: string, c: CycleRecord): Promise<boolean> {
    const cfgId = c.configurationId ?? '';
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const [deletesApplied, transient] = await Promise.all([
      this.stores.apply.deletesApplied(cycleId),
      this.stores.apply.transientFailures(cycleId),
    ]);
    let retryAt: string | null = null;
    if (transient.count > 0) {
      const cfg = await this.hooks.loadConfiguration(cfgId);
      const delay = cfg ? transientRetryDelay(transient.retryAfterMs, cfg.syncIntervalSeconds) : null;
      if (delay !== null) retryAt = new Date(nowMs + delay).toISOString();
    }
    // What a FULL cycle found moot goes with it (harmless should another run have finalized it first).
    const moot = c.mootRetries ? (JSON.parse(c.mootRetries) as string[]) : [];
    const moved = await this.stores.apply.finalize({
      configurationId: cfgId,
      cycleId,
      completedAt: now,
      committedScope: c.scope ?? '',
      mootRetries: moot,
      deletesApplied,
      nowMs,
      keepSinceMs: nowMs - APPLIED_DELETES_KEPT_MS,
      // A cycle of an open delete lane keeps the lane's quarantine; a lane's release cycle (no
      // agent) ends it without moving the committed cycle, which the agent's cursor names.
      laneOpen: c.lane === '1',
      release: c.trigger === 'release',
      retryAt,
    });
    if (!moved) return false;
    this.metrics.cycles.inc({ outcome: 'applied' });
    this.logger.info({ configurationId: cfgId, cycleId, released: c.released === '1' }, 'cycle applied');
    return true;
  }

  async cleanup(cycleId: string): Promise<void> {
    await this.stores.cycles.dropStaged(cycleId);
  }
}
