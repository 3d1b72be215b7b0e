/**
 * The delete guard: whether a cycle may be applied, as pure code. No I/O and no clock:
 * everything it weighs arrives in its arguments, so every edge is a unit test
 * (decide.test.ts). The pipeline calls {@link decide} once per evaluated cycle, before
 * anything of the cycle is applied, and quarantines the cycle when the verdict says so.
 *
 * Adding a rule is a change here (a field of {@link CycleSummary} and of
 * {@link DeletePolicy}, a {@link RuleName}, a check in {@link decide}), in the model and
 * the surfaces that show `trippedBy`; not in Redis code.
 */

import type { ObjectTypeName } from '../model';

/** Names of the rules as `quarantine.trippedBy[].rule` shows them. */
export type RuleName = 'count' | 'percentage' | 'type:user' | 'type:group' | 'window' | 'memberRemovals' | 'protected';

export const RULE_NAMES: readonly RuleName[] = Object.freeze([
  'count',
  'percentage',
  'type:user',
  'type:group',
  'window',
  'memberRemovals',
  'protected',
]);

/** Per object type, e.g. the deletes of a cycle. */
export type PerType<T> = Readonly<Record<ObjectTypeName, T>>;

/** What one cycle would do to the target, as far as the guard needs it. */
export interface CycleSummary {
  /**
   * Objects the target holds for the configuration that this cycle would remove: deleted
   * at the source, out of scope, or (with `countDisables`) disabled.
   */
  readonly deletes: number;
  /** The same, per type (they add up to `deletes`). Default: every delete a user. */
  readonly deletesByType?: PerType<number>;
  /** Objects the target holds for the configuration before the cycle, per type. Default 0. */
  readonly heldByType?: PerType<number>;
  /** Objects the target holds before the cycle, all types (for `percentage`). Default: the sum of `heldByType`. */
  readonly held?: number;
  /** Deletes of the cycle whose object is protected (`protected`). Default 0. */
  readonly protectedDeletes?: number;
  /**
   * Memberships the cycle removes from groups that stay (groups updated, not deleted): per
   * such group, the members the target holds that the group's new member list lacks
   * (`memberRemovals`). Default 0.
   */
  readonly memberRemovals?: number;
}

/** The limits of one object type (`perType.user`, `perType.group`); null: that limit is off. */
export interface TypeLimits {
  /** Trips when the type's deletes >= threshold (whole number >= 1). */
  readonly threshold: number | null;
  /** Trips when the type's deletes >= this share (percent, > 0, <= 100) of the type's objects. */
  readonly percentage: number | null;
}

/** Objects whose delete always quarantines. */
export interface ProtectedObjects {
  /** DNs (an object at or under one is protected), matched case-insensitively on RDN boundaries. */
  readonly dnSuffixes: readonly string[];
  /** Object ids (as the agent reports them). */
  readonly objectIds: readonly string[];
}

/** The configuration's delete policy (its `accidentalDeletes`), as the guard reads it. */
export interface DeletePolicy {
  /** false: no rule ever trips (the cycle is applied whatever it deletes). */
  readonly enabled: boolean;
  /** The count rule: trips when deletes >= threshold (a whole number >= 1). */
  readonly threshold: number;
  /** Trips when deletes >= this share (percent) of the objects held; null: off. */
  readonly percentage?: number | null;
  /** `percentage` (and the per-type percentages) apply only while the objects held (of the type) >= this. Default 100. */
  readonly minimumObjects?: number;
  /** Limits per object type; a type left out (or null) has none. */
  readonly perType?: Readonly<Partial<Record<ObjectTypeName, TypeLimits | null>>> | null;
  /** Deletes applied in the last `hours` plus this cycle's; null: off. */
  readonly window?: { readonly hours: number; readonly threshold: number } | null;
  readonly protected?: ProtectedObjects | null;
  /** Memberships removed from groups that stay, over the cycle; null: off. */
  readonly memberRemovals?: { readonly threshold: number } | null;
}

/** Deletes that earlier cycles applied to the target, at the time their cycle committed. */
export interface AppliedDeletes {
  /** Epoch milliseconds of the commit. */
  readonly at: number;
  readonly deletes: number;
}

/** What happened to this cycle (and the configuration) before the decision. */
export interface GuardHistory {
  /**
   * An admin released this very cycle (allow-deletes): the decision was made by a person
   * who saw its deletes, so it is applied as it stands.
   */
  readonly released: boolean;
  /** Now, epoch milliseconds (the window ends here). Needed by `window`. */
  readonly now?: number;
  /** The deletes applied by earlier cycles, at least as far back as the window reaches (older ones are ignored). */
  readonly applied?: readonly AppliedDeletes[];
}

/**
 * One rule that tripped: the value the cycle reached and the rule's limit. For a
 * percentage (`percentage`, and a per-type percentage) `value` is in percent, rounded to
 * one decimal, and `of` is the number of objects it is a share of; a count has no `of`.
 */
export interface TrippedRule {
  readonly rule: RuleName;
  readonly value: number;
  readonly limit: number;
  readonly of?: number;
}

/** The guard's answer: `quarantine` exactly when at least one rule tripped. */
export interface Verdict {
  readonly quarantine: boolean;
  readonly trippedBy: readonly TrippedRule[];
}

export const DEFAULT_MINIMUM_OBJECTS = 100;

const APPLY: Verdict = Object.freeze({ quarantine: false, trippedBy: Object.freeze([]) as readonly TrippedRule[] });
const NONE: PerType<number> = Object.freeze({ user: 0, group: 0 });
const HOUR_MS = 3600 * 1000;

/** `part` as a percentage of `whole`, rounded to one decimal (12.25 -> 12.3). */
export function percentOf(part: number, whole: number): number {
  return Math.round((part * 1000) / whole) / 10;
}

/**
 * Decides one cycle. Each rule trips on greater than or equal (a threshold of 500 holds
 * back a cycle of exactly 500 deletes, and lets 499 through); `trippedBy` lists every rule
 * that tripped, in the order of {@link RULE_NAMES}.
 */
export function decide(summary: CycleSummary, policy: DeletePolicy, history: GuardHistory): Verdict {
  if (!policy.enabled || history.released) return APPLY;
  const deletes = summary.deletes;
  const byType = summary.deletesByType ?? { user: deletes, group: 0 };
  const held = summary.heldByType ?? NONE;
  const floor = policy.minimumObjects ?? DEFAULT_MINIMUM_OBJECTS;
  const trippedBy: TrippedRule[] = [];
  if (deletes >= policy.threshold) trippedBy.push({ rule: 'count', value: deletes, limit: policy.threshold });
  const share = (rule: RuleName, part: number, whole: number, limit: number | null | undefined): void => {
    // Compared exactly (part / whole >= limit / 100); shown rounded.
    if (limit == null || whole === 0 || whole < floor || part * 100 < limit * whole) return;
    trippedBy.push({ rule, value: percentOf(part, whole), limit, of: whole });
  };
  share('percentage', deletes, summary.held ?? held.user + held.group, policy.percentage);
  for (const type of ['user', 'group'] as const) {
    const limits = policy.perType?.[type];
    if (!limits) continue;
    const rule: RuleName = `type:${type}`;
    if (limits.threshold != null && byType[type] >= limits.threshold)
      trippedBy.push({ rule, value: byType[type], limit: limits.threshold });
    share(rule, byType[type], held[type], limits.percentage);
  }
  const window = policy.window;
  if (window && deletes > 0) {
    const value = deletes + appliedWithin(history, window.hours);
    if (value >= window.threshold) trippedBy.push({ rule: 'window', value, limit: window.threshold });
  }
  const removals = summary.memberRemovals ?? 0;
  if (policy.memberRemovals && removals >= policy.memberRemovals.threshold)
    trippedBy.push({ rule: 'memberRemovals', value: removals, limit: policy.memberRemovals.threshold });
  const hits = summary.protectedDeletes ?? 0;
  if (policy.protected && hits > 0) trippedBy.push({ rule: 'protected', value: hits, limit: 1 });
  return trippedBy.length === 0 ? APPLY : { quarantine: true, trippedBy };
}

/**
 * The deletes applied in the `hours` before `history.now`: a commit exactly `hours` ago
 * still counts, one a millisecond older does not.
 */
export function appliedWithin(history: GuardHistory, hours: number): number {
  if (history.now === undefined) throw new Error('the window rule needs history.now');
  const since = history.now - hours * HOUR_MS;
  let sum = 0;
  for (const a of history.applied ?? []) if (a.at >= since && a.at <= history.now) sum += a.deletes;
  return sum;
}

/** One line for people (logs, the StagedDelete entries' details): why the cycle is held. */
export function describeVerdict(verdict: Verdict): string {
  if (!verdict.quarantine) return 'no rule tripped';
  return `held back: ${verdict.trippedBy.map(describeRule).join('; ')}`;
}

/**
 * One tripped rule for people (the CLI, the email, the portal say the same), e.g.
 * `percentage: 12.2% of 5,000 objects, limit 10%`.
 */
export function describeRule(tripped: TrippedRule): string {
  if (tripped.of !== undefined) {
    const what = tripped.rule === 'type:group' ? 'groups' : tripped.rule === 'type:user' ? 'users' : 'objects';
    return `${tripped.rule}: ${tripped.value}% of ${tripped.of.toLocaleString('en-US')} ${what}, limit ${tripped.limit}%`;
  }
  switch (tripped.rule) {
    case 'count':
      return `${tripped.value} deletes >= threshold ${tripped.limit}`;
    case 'type:user':
      return `type:user: ${tripped.value} user deletes >= threshold ${tripped.limit}`;
    case 'type:group':
      return `type:group: ${tripped.value} group deletes >= threshold ${tripped.limit}`;
    case 'window':
      return `window: ${tripped.value} deletes in the window (this cycle's included) >= threshold ${tripped.limit}`;
    case 'memberRemovals':
      return `memberRemovals: ${tripped.value} ${tripped.value === 1 ? 'membership' : 'memberships'} removed from groups >= threshold ${tripped.limit}`;
    case 'protected':
      return `protected: ${tripped.value} protected ${tripped.value === 1 ? 'object' : 'objects'} deleted`;
    case 'percentage':
      return `percentage: ${tripped.value}%, limit ${tripped.limit}%`;
  }
}
