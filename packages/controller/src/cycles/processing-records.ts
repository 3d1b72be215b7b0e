import type { AppliedDeletes, PerType } from '../guard/decide';
import type { ObjectTypeName, Quarantine } from '../model';
import type { NewLogEntry } from '../store/provisioning-log';
import type { UnitOfWork } from '../targets/target';
import type { OutboxEvent } from './cycle-events';
import type { CycleRecord } from './cycle-record';
import type { LaneState } from './delete-lane';
import type { PlannedMembership } from './member-removal-counter';

/**
 * What the cycle processor reads and writes, as interfaces that store/ implements
 * (store/evaluation-store.ts, store/apply-store.ts). The processor decides; the stores
 * only read and write, in the order the processor asks, each step one round trip (or one
 * transaction) as before the stores existed.
 */

/** The cycle's record and its staged keys, as the processor's steps start and end (store/cycle-store.ts). */
export interface ProcessedCycles {
  /** The whole record of the cycle ({} when there is none). */
  record(cycleId: string): Promise<CycleRecord>;
  /** Removes what was staged for the cycle (batches, seen, plan). */
  dropStaged(cycleId: string): Promise<void>;
}

/**
 * The parts of one evaluation run's plan while it writes them (users, groups, deletes in
 * batch order; the set of ids planned as deletes; the rendered StagedDelete bundles). They
 * expire should the run die, and are renamed into the plan by {@link EvaluationWatch.commit}.
 */
export interface PlanParts {
  /** Appends entries (plan entries, cycles/plan-entry.ts) and ids planned as deletes. */
  append(entries: { u: string[]; g: string[]; d: string[] }, deleteIds: readonly string[]): Promise<void>;
  /** 1 for each id already planned as a delete by this run, else 0. */
  listedDeletes(ids: readonly string[]): Promise<number[]>;
  /** Up to `count` delete entries from `offset`. */
  deletes(offset: number, count: number): Promise<string[]>;
  /** Keeps a rendered StagedDelete log bundle (store/provisioning-log.ts renderBundle) for the commit. */
  addStagedBundle(bundle: string): Promise<void>;
  /** Removes whatever is left of the parts (nothing after a commit). */
  drop(): Promise<void>;
}

/** The quarantine an evaluation decided on, as the commit records it. */
export interface QuarantineDecision {
  quarantine: Omit<Quarantine, 'notification'>;
  /** True when an email is to go out (the notification starts `pending`), else it is `none`. */
  notify: boolean;
  /** The first staged deletes, for the status and the email. */
  stagedPreview: { dn: string; objectType: ObjectTypeName }[];
  completedAt: string;
  /** `quarantine.started`, written to the outbox in the commit's MULTI. */
  event?: OutboxEvent;
}

/**
 * A cycle of the delete lane (cycles/delete-lane.ts), as the commit records it: its deletes
 * (the plan's deletes part) go into the held set instead of the plan, `leaving` out of it.
 */
export interface LaneDecision {
  /** Held ids the cycle found back in scope. */
  leaving: readonly string[];
  /** The lane's quarantine after this cycle; null when the held set is empty after it (the lane closes with the cycle). */
  quarantine: Omit<Quarantine, 'notification'> | null;
  /** The lane opens with this cycle: its email is to go out (`pending`), else `none`; null: the lane was open already. */
  notify: boolean | null;
  /** When the lane opens: the first held deletes, for the email. */
  stagedPreview: { dn: string; objectType: ObjectTypeName }[];
  /** Whether the StagedDelete bundles rendered into the parts are to be logged. */
  logStaged: boolean;
  /** `quarantine.started` when the lane opens, written to the outbox in the commit's MULTI. */
  event?: OutboxEvent;
}

/**
 * An evaluation holding a watch on the cycle's record (on a connection of its own): should
 * another run change the record first, the commit does nothing.
 */
export interface EvaluationWatch {
  /** The cycle's phase, read under the watch. */
  phase(): Promise<string | null>;
  /**
   * One transaction: sets the per-type counts held, logs the staged deletes (a quarantine),
   * puts the plan together from the parts, and moves the cycle `complete` -> `quarantined`
   * (with the configuration's quarantine) or -> `applying`, with the evaluation's fields.
   * False when the cycle was not moved (changed under the watch, or no longer `complete`).
   */
  commit(input: {
    configurationId: string;
    cycleId: string;
    parts: PlanParts;
    heldByType: PerType<number>;
    cycleFields: Record<string, string | number>;
    quarantine: QuarantineDecision | null;
    /** A delete lane's cycle (then `quarantine` is null): moved on to `applying` without its deletes. */
    lane?: LaneDecision | null;
    /** Kept objects (cycles/triage.ts) the cycle found in scope again: they leave the kept set. */
    keptBack?: readonly string[];
  }): Promise<boolean>;
  close(): void;
}

/** Evaluation's reads and writes (store/evaluation-store.ts implements it). */
export interface EvaluationRecords {
  /** The summaries (JSON) of batches `seqs` of the cycle, null for a batch not held. */
  summaries(cycleId: string, seqs: readonly number[]): Promise<(string | null)[]>;
  /** The seen hash: `seq:idx` of each object's last change in the cycle, null where unseen. */
  latestChanges(cycleId: string, objectIds: readonly string[]): Promise<(string | null)[]>;
  /** Empties the seen hash, to rebuild it. */
  resetSeen(cycleId: string): Promise<void>;
  /** Adds `objectId, seq:idx` pairs to the seen hash. */
  addSeen(cycleId: string, pairs: readonly string[]): Promise<void>;
  /** Objects in the seen hash. */
  seenCount(cycleId: string): Promise<number>;
  /** Records that batches 1..seenThrough are in the seen hash, and how many changes named an object again. */
  markSeen(cycleId: string, seenThrough: string, duplicates: string): Promise<void>;

  /** Objects the synced index holds. */
  indexSize(configurationId: string): Promise<number>;
  /** The scope (JSON) of the configuration's last committed cycle, null when none committed. */
  committedScope(configurationId: string): Promise<string | null>;
  /** The objects per type the index holds as kept by the apply chunks, null when not kept. */
  heldCounts(configurationId: string): Promise<PerType<number> | null>;
  /** The index's entries (store/index-entry.ts) of the objects, null where it holds none. */
  indexed(configurationId: string, objectIds: readonly string[]): Promise<(string | null)[]>;
  /** One HSCAN step of the index (about 1,000 entries): the next cursor (`0`: done) and id, entry pairs. */
  scanIndex(configurationId: string, cursor: string): Promise<[cursor: string, pairs: string[]]>;

  /** Retry records the configuration holds. */
  retryCount(configurationId: string): Promise<number>;
  /** One HSCAN step of the retry records: the next cursor and id, record pairs (store/retry-record.ts). */
  scanRetries(configurationId: string, cursor: string): Promise<[cursor: string, pairs: string[]]>;

  /** The deletes applied by the configuration's cycles committed at or after `sinceMs`. */
  appliedDeletesSince(configurationId: string, sinceMs: number): Promise<AppliedDeletes[]>;

  /** The changes (binary) of batches `seqs`, null for one not held (for the member lists of group updates). */
  batchChanges(cycleId: string, seqs: readonly number[]): Promise<(Buffer | null)[]>;
  /** The member keys the pipeline last applied for each group (store/member-record.ts), null where no record. */
  previousMembers(configurationId: string, groupIds: readonly string[]): Promise<(string[] | null)[]>;
  /** The configuration's delete lane: open or not, its held set's size and quarantine. */
  lane(configurationId: string): Promise<LaneState>;
  /** For each id, whether the delete lane holds it. */
  heldByLane(configurationId: string, objectIds: readonly string[]): Promise<boolean[]>;
  /** Kept objects of the configuration (cycles/triage.ts). */
  keptCount(configurationId: string): Promise<number>;
  /** For each id, whether it is a kept object. */
  keptHolds(configurationId: string, objectIds: readonly string[]): Promise<boolean[]>;

  /** The parts of a new plan, named after the run. */
  planParts(cycleId: string, run: string): PlanParts;
  /** Watches the cycle's record on a connection of its own (close it). */
  watch(cycleId: string): Promise<EvaluationWatch>;
}

/**
 * A chunk's writes, queued (not sent) until {@link ApplySession.commitChunk} commits them in
 * one transaction with the chunk's progress: the target's through `unit`, the pipeline's
 * through the methods.
 */
export interface ChunkWrites {
  /** What a transactional target queues its writes on. */
  readonly unit: UnitOfWork;
  log(configurationId: string, entries: readonly NewLogEntry[], at: string): void;
  removeFromIndex(configurationId: string, objectIds: readonly string[]): void;
  /** `objectId, index entry` pairs. */
  setInIndex(configurationId: string, pairs: readonly string[]): void;
  addHeld(configurationId: string, type: ObjectTypeName, delta: number): void;
  /** Deletes applied, counted on the cycle for the window (recorded by finalize). */
  countDeletesApplied(cycleId: string, n: number): void;
  /** Replaces (or, for a delete, removes) the member records of the groups applied (store/member-record.ts). */
  setMembers(configurationId: string, groups: readonly PlannedMembership[]): void;
  /** Drops the retry records of objects now applied. */
  settleRetries(configurationId: string, objectIds: readonly string[]): void;
  /**
   * Writes `objectId, retry record` pairs and counts `failed` operations on the cycle; of them
   * `transient.count` were still transient, the longest Retry-After of the cycle so far `transient.retryAfterMs`.
   */
  owe(
    configurationId: string,
    cycleId: string,
    pairs: readonly string[],
    failed: number,
    transient?: { count: number; retryAfterMs: number },
  ): void;
}

/** An apply holding a watch on the cycle's record, chunk after chunk (on a connection of its own). */
export interface ApplySession {
  /** Watches the record and reads the phase, the operations applied and the plan's size (one round trip). */
  progress(): Promise<{ phase: string | null; applied: number; size: number; failed: number }>;
  unwatch(): Promise<void>;
  /**
   * Commits a chunk's writes with `applied` = `appliedThrough`, in one transaction. Null when
   * the record changed under the watch (nothing written); else the messages of the writes
   * that failed (Redis runs every other command of the transaction), empty when none did.
   */
  commitChunk(writes: ChunkWrites, appliedThrough: number): Promise<string[] | null>;
  close(): void;
}

/** Apply's reads and writes (store/apply-store.ts implements it). */
export interface ApplyRecords {
  /** Up to `count` plan entries from `offset`. */
  planEntries(cycleId: string, offset: number, count: number): Promise<string[]>;
  /** The changes (binary) of batches `seqs`, null for one not held. */
  batchChanges(cycleId: string, seqs: readonly number[]): Promise<(Buffer | null)[]>;
  summaries(cycleId: string, seqs: readonly number[]): Promise<(string | null)[]>;
  /** The retry records of the objects, null where none. */
  retryRecords(configurationId: string, objectIds: readonly string[]): Promise<(string | null)[]>;
  /** New writes of a chunk, to fill and commit. */
  chunkWrites(): ChunkWrites;
  session(cycleId: string): ApplySession;

  /** The deletes the cycle's chunks applied. */
  deletesApplied(cycleId: string): Promise<number>;
  /** The cycle's operations still transient after the client's retries, and the longest Retry-After among them (ms, 0: none said). */
  transientFailures(cycleId: string): Promise<{ count: number; retryAfterMs: number }>;
  /**
   * `applying` -> `quarantined` with the configuration's quarantine (TargetFailures: the
   * target refused too many operations). False when the cycle was not `applying`.
   */
  quarantineApplying(input: {
    configurationId: string;
    cycleId: string;
    quarantine: Omit<Quarantine, 'notification'>;
    notify: boolean;
    completedAt: string;
    /** `quarantine.started`, written to the outbox with the move. */
    event?: OutboxEvent;
  }): Promise<boolean>;
  /**
   * One transaction: `applying` -> `applied` (the configuration healthy, the cycle its
   * committed one, with its scope), the moot retry records dropped, the cycle's applied
   * deletes recorded for the window at `nowMs`, and window records before `keepSinceMs`
   * pruned. False when the cycle was not `applying`.
   */
  finalize(input: {
    configurationId: string;
    cycleId: string;
    completedAt: string;
    committedScope: string;
    mootRetries: readonly string[];
    deletesApplied: number;
    nowMs: number;
    keepSinceMs: number;
    /** A delete lane's cycle with the lane still open after it: the lane's quarantine stays. */
    laneOpen: boolean;
    /** A lane's release cycle: the configuration's committed cycle (the agent's cursor) does not move. */
    release: boolean;
    /** When the next cycle is brought forward to (transient failures), recorded on the cycle; null: not. */
    retryAt?: string | null;
  }): Promise<boolean>;
}
