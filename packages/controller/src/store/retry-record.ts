import type { ObjectTypeName } from '../model';

/**
 * What the pipeline still owes the target for one object: an operation that failed (or
 * was to be retried) in an earlier cycle. Kept in `P:config:{id}:retry` (object id ->
 * this, JSON) until an operation on the object is applied; evaluation puts it into the
 * plans of later cycles, so that the object is put right without a change at the source.
 */
export type RetryRecord =
  | {
      readonly op: 'upsert';
      readonly objectType: ObjectTypeName;
      readonly dn: string;
      readonly hash: string;
      /** The change as the agent encoded it; null for a FULL-mode PRESENT (no attributes sent). */
      readonly change: { readonly protocolVersion: number; readonly bytes: Uint8Array } | null;
      readonly disabled: boolean;
      readonly reason: string;
      readonly failedAt: string;
      readonly attempts: number;
    }
  | {
      readonly op: 'delete';
      readonly objectType: ObjectTypeName;
      readonly dn: string;
      readonly reason: string;
      readonly failedAt: string;
      readonly attempts: number;
    };

export function encodeRetryRecord(r: RetryRecord): string {
  const common = { objectType: r.objectType, dn: r.dn, reason: r.reason, failedAt: r.failedAt, attempts: r.attempts };
  if (r.op === 'delete') return JSON.stringify({ op: 'delete', ...common });
  return JSON.stringify({
    op: 'upsert',
    ...common,
    hash: r.hash,
    disabled: r.disabled,
    change: r.change ? { v: r.change.protocolVersion, b: Buffer.from(r.change.bytes).toString('base64') } : null,
  });
}

export function decodeRetryRecord(text: string): RetryRecord {
  const v = JSON.parse(text) as Record<string, unknown>;
  const objectType = v.objectType === 'group' ? 'group' : v.objectType === 'user' ? 'user' : null;
  if (
    objectType === null ||
    typeof v.dn !== 'string' ||
    typeof v.reason !== 'string' ||
    typeof v.failedAt !== 'string' ||
    typeof v.attempts !== 'number'
  )
    throw new Error('not a retry record');
  const common = { objectType, dn: v.dn, reason: v.reason, failedAt: v.failedAt, attempts: v.attempts } as const;
  if (v.op === 'delete') return { op: 'delete', ...common };
  const change = v.change as { v?: unknown; b?: unknown } | null;
  if (v.op !== 'upsert' || typeof v.hash !== 'string' || typeof v.disabled !== 'boolean') throw new Error('not a retry record');
  if (change !== null && (typeof change?.v !== 'number' || typeof change.b !== 'string')) throw new Error('not a retry record');
  return {
    op: 'upsert',
    ...common,
    hash: v.hash,
    disabled: v.disabled,
    change: change ? { protocolVersion: change.v as number, bytes: Buffer.from(change.b as string, 'base64') } : null,
  };
}
