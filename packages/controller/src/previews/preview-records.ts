import type { DeleteCauseName, ObjectTypeName } from '../model';

/** A preview's phase: reading (and, once the read is complete, evaluating), or ended. */
export type PreviewState = 'running' | 'complete' | 'failed';

/** One delete a preview found, as the target holds the object. */
export interface PreviewDelete {
  objectId: string;
  objectType: ObjectTypeName;
  dn: string;
  cause: DeleteCauseName;
}

/** What one batch adds to a preview's counts. */
export interface PreviewIncrements {
  create: number;
  update: number;
  /** Deletes found in the batch (objects reported disabled with `countDisables`). */
  delete: number;
  deleteUser: number;
  deleteGroup: number;
  protectedDeletes: number;
}

/**
 * A preview's record in Redis (store/preview-store.ts): a hash of string fields (see
 * store/keys.ts), the set of object ids it saw, and a sample of its deletes. Everything
 * has a TTL, so that an abandoned preview leaves nothing behind.
 */
export interface PreviewRecords {
  create(previewId: string, fields: Record<string, string>): Promise<void>;
  /** The record's fields, null when it is gone (never made, or expired). */
  read(previewId: string): Promise<Record<string, string> | null>;
  /** For each id, whether the preview saw it already. */
  seen(previewId: string, objectIds: readonly string[]): Promise<boolean[]>;
  /** Adds ids to the seen set (the index scan's deletes, so that one HSCAN returns twice counts once). */
  markSeen(previewId: string, objectIds: readonly string[]): Promise<void>;
  /**
   * One batch, in one MULTI: its ids into the seen set, the counts, `acked` and the sample
   * (kept to its first `sampleSize` entries), while the record is `running`.
   */
  addBatch(
    previewId: string,
    batch: {
      sequence: number;
      objectIds: readonly string[];
      objects: number;
      increments: PreviewIncrements;
      sample: PreviewDelete[];
    },
    sampleSize: number,
    nowMs: number,
  ): Promise<void>;
  /** Appends deletes to the sample (up to `sampleSize`). */
  addSample(previewId: string, sample: readonly PreviewDelete[], sampleSize: number): Promise<void>;
  sample(previewId: string): Promise<PreviewDelete[]>;
  /** Sets fields while the record is `running`; true when it was (the move from running happens once). */
  setIfRunning(previewId: string, fields: Record<string, string>): Promise<boolean>;
  /** Ends the preview: `fields` set (its state among them) while it is running; its seen set removed. */
  finish(previewId: string, fields: Record<string, string>): Promise<boolean>;
}
