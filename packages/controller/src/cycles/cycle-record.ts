/**
 * The fields of a cycle's hash (`P:cycle:{id}`) as Redis returns them: text, each absent
 * until written. Who writes what: START_CYCLE the first block, the agent's batches and
 * CycleComplete the second (PERSIST_BATCH, COMPLETE_CYCLE), evaluation the third, apply and
 * the quarantine commands the last.
 */
export interface CycleRecord {
  /** A {@link CyclePhase}. */
  phase?: string;
  configurationId?: string;
  agentId?: string;
  /** `full` or `delta`, as asked of the agent. */
  mode?: string;
  trigger?: string;
  baseCycleId?: string;
  /** The configuration's `source`, JSON, as the cycle was started with it. */
  scope?: string;
  startedAt?: string;
  lastFrameAt?: string;

  /** Highest batch sequence held (every batch 1..acked is). */
  acked?: string;
  /** Batches 1..seenThrough went into the seen hash. */
  seenThrough?: string;
  /** Changes that named an object seen before in the cycle. */
  duplicates?: string;
  /** Bytes of the staged changes. */
  bytes?: string;
  /** From CycleComplete: the last sequence, the agent's totals (JSON), its mode, its change tracking. */
  lastSequence?: string;
  totals?: string;
  agentMode?: string;
  changeTracking?: string;
  /** A full consistency read's drift (changes the log did not show); absent when none was made. */
  drift?: string;

  /** From evaluation. */
  evaluatedMode?: string;
  planSize?: string;
  deleteCount?: string;
  counts?: string;
  stagedPreview?: string;
  /** Retry records put into the plan; retry records the configuration held at evaluation. */
  retries?: string;
  retryRecords?: string;
  /** JSON list of retry records a FULL cycle found moot, dropped when it is applied. */
  mootRetries?: string;
  /**
   * The delete lane (cycles/delete-lane.ts): `1` when the lane is open after this cycle (its
   * finalize keeps the quarantine), `0` when this cycle closed it; the deletes it held.
   */
  lane?: string;
  heldDeletes?: string;

  /** Apply's progress, and the operations the target did not apply. */
  applied?: string;
  failed?: string;
  /** Of `failed`, the operations still transient after the client's retries; the longest Retry-After among them (ms). */
  transient?: string;
  retryAfterMs?: string;
  /** When the next cycle was brought forward to (ISO), set when the cycle is applied with transient failures. */
  retryAt?: string;
  /** allow-deletes: `1`, by whom, when. */
  released?: string;
  releasedBy?: string;
  releasedAt?: string;
  completedAt?: string;
  /** JSON `{code, message}` of a failed or discarded cycle. */
  error?: string;
  /** The pre-approval that let the cycle's deletes through (cycles/delete-approvals.ts). */
  approvalId?: string;
}
