/**
 * Default limits the controller announces in ControllerWelcome. Both sides enforce them:
 * the receiver refuses a frame over `maxFrameBytes` before decoding it.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest frame in bytes (4 MiB). */
  maxFrameBytes: 4 * 1024 * 1024,
  /** Most changes in one ChangeBatch. */
  maxBatchChanges: 1000,
  /** Most unacknowledged ChangeBatch frames an agent may have in flight. */
  maxInFlightBatches: 16,
  /** How often each side sends Heartbeat, in milliseconds. */
  heartbeatIntervalMs: 15_000,
});

/** A peer silent for this many heartbeat intervals is dropped. */
export const HEARTBEAT_MISSES_ALLOWED = 3;

/** Length of Change.contentHash in bytes (SHA-256). */
export const CONTENT_HASH_BYTES = 32;
