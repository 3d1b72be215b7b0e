import type { TrippedRule } from './decide';

/** A pre-approval as the guard weighs it. */
export interface PreApproval {
  id: string;
  maxDeletes: number;
  /** ms since the epoch. */
  expiresAtMs: number;
  createdAtMs: number;
  /** Already used (by a cycle) or revoked: covers nothing. */
  spent: boolean;
}

/**
 * The pre-approval that lets a cycle's deletes through without quarantine: one not spent,
 * not expired at `nowMs`, with `maxDeletes` >= the cycle's deletes; of several, the one that
 * expires first (then the oldest). None when a protected object is deleted: a pre-approval
 * lifts the counting rules, never `protected`.
 */
export function coveringApproval(
  approvals: readonly PreApproval[],
  cycle: { deletes: number; trippedBy: readonly TrippedRule[]; nowMs: number },
): PreApproval | null {
  if (cycle.trippedBy.some((t) => t.rule === 'protected')) return null;
  const fit = approvals.filter((a) => !a.spent && a.expiresAtMs > cycle.nowMs && a.maxDeletes >= cycle.deletes);
  fit.sort((a, b) => a.expiresAtMs - b.expiresAtMs || a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  return fit[0] ?? null;
}
