import { RULE_NAMES, type TrippedRule } from '../guard/decide';
import type { Quarantine } from '../model';

/** A quarantine as stored in the `quarantine` field of `P:config:{id}:state` (JSON). */
export type StoredQuarantine = Omit<Quarantine, 'notification'>;
/** The quarantine email's progress, stored in the `notification` field beside it (JSON). */
export type StoredNotification = Quarantine['notification'];

/** The notification of a quarantine that has no email address to go to. */
export const NO_NOTIFICATION: Readonly<StoredNotification> = Object.freeze({
  status: 'none',
  attempts: 0,
  lastError: null,
  sentAt: null,
});

/** Thrown when a stored record is not of the format this build writes. */
export class StoredFormatError extends Error {
  constructor(what: string, detail: string) {
    super(`stored ${what} is not in the expected format: ${detail}`);
    this.name = 'StoredFormatError';
  }
}

export function encodeQuarantine(q: StoredQuarantine): string {
  return JSON.stringify({
    reason: q.reason,
    deleteCount: q.deleteCount,
    threshold: q.threshold,
    trippedBy: q.trippedBy,
    seriesCount: q.seriesCount,
    hold: q.hold,
    cycleId: q.cycleId,
    since: q.since,
  });
}

/** Reads a stored quarantine; throws StoredFormatError on anything else. */
export function decodeQuarantine(raw: string): StoredQuarantine {
  const v = parseObject(raw, 'quarantine');
  if (v.reason !== 'TooManyDeletes' && v.reason !== 'TargetFailures') throw new StoredFormatError('quarantine', 'reason');
  if (!isCount(v.deleteCount) || !isCount(v.threshold)) throw new StoredFormatError('quarantine', 'counts');
  if (typeof v.cycleId !== 'string' || typeof v.since !== 'string') throw new StoredFormatError('quarantine', 'cycleId/since');
  if (!Array.isArray(v.trippedBy) || !v.trippedBy.every(isTrippedRule)) throw new StoredFormatError('quarantine', 'trippedBy');
  // Quarantines stored before seriesCount were found by their one cycle.
  const seriesCount = v.seriesCount === undefined ? 1 : v.seriesCount;
  if (!isCount(seriesCount) || seriesCount < 1) throw new StoredFormatError('quarantine', 'seriesCount');
  // Quarantines stored before the delete lane held their whole cycle.
  const hold = v.hold === undefined ? 'cycle' : v.hold;
  if (hold !== 'cycle' && hold !== 'deletes') throw new StoredFormatError('quarantine', 'hold');
  return {
    reason: v.reason,
    deleteCount: v.deleteCount,
    threshold: v.threshold,
    trippedBy: v.trippedBy,
    seriesCount,
    hold,
    cycleId: v.cycleId,
    since: v.since,
  };
}

export function encodeNotification(n: StoredNotification): string {
  return JSON.stringify({ status: n.status, attempts: n.attempts, lastError: n.lastError, sentAt: n.sentAt });
}

/** Reads a stored notification; throws StoredFormatError on anything else. */
export function decodeNotification(raw: string): StoredNotification {
  const v = parseObject(raw, 'notification');
  if (v.status !== 'none' && v.status !== 'pending' && v.status !== 'sent' && v.status !== 'failed')
    throw new StoredFormatError('notification', 'status');
  if (!isCount(v.attempts)) throw new StoredFormatError('notification', 'attempts');
  if (!isNullableString(v.lastError) || !isNullableString(v.sentAt))
    throw new StoredFormatError('notification', 'lastError/sentAt');
  return { status: v.status, attempts: v.attempts, lastError: v.lastError, sentAt: v.sentAt };
}

function parseObject(raw: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new StoredFormatError(what, 'not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StoredFormatError(what, 'not an object');
  return value as Record<string, unknown>;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isNullableString(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

function isTrippedRule(v: unknown): v is TrippedRule {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    RULE_NAMES.includes(r.rule as TrippedRule['rule']) &&
    typeof r.value === 'number' &&
    typeof r.limit === 'number' &&
    (r.of === undefined || isCount(r.of))
  );
}
