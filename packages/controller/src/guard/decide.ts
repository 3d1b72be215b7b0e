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

/** Names of the rules as `quarantine.trippedBy[].rule` shows them. */
export type RuleName = 'count';

/** What one cycle would do to the target, as far as the guard needs it. */
export interface CycleSummary {
  /**
   * Objects the target holds for the configuration that this cycle would remove: deleted
   * at the source, out of scope, or (with `countDisables`) disabled.
   */
  readonly deletes: number;
}

/** The configuration's delete policy (its `accidentalDeletes`), as the guard reads it. */
export interface DeletePolicy {
  /** false: no rule ever trips (the cycle is applied whatever it deletes). */
  readonly enabled: boolean;
  /** The count rule: trips when deletes >= threshold (a whole number >= 1). */
  readonly threshold: number;
}

/** What happened to this cycle before the decision. */
export interface GuardHistory {
  /**
   * An admin released this very cycle (allow-deletes): the decision was made by a person
   * who saw its deletes, so it is applied as it stands.
   */
  readonly released: boolean;
}

/** One rule that tripped: the value the cycle reached and the rule's limit. */
export interface TrippedRule {
  readonly rule: RuleName;
  readonly value: number;
  readonly limit: number;
}

/** The guard's answer: `quarantine` exactly when at least one rule tripped. */
export interface Verdict {
  readonly quarantine: boolean;
  readonly trippedBy: readonly TrippedRule[];
}

const APPLY: Verdict = Object.freeze({ quarantine: false, trippedBy: Object.freeze([]) as readonly TrippedRule[] });

/**
 * Decides one cycle. Each rule trips on greater than or equal (a threshold of 500 holds
 * back a cycle of exactly 500 deletes, and lets 499 through).
 */
export function decide(summary: CycleSummary, policy: DeletePolicy, history: GuardHistory): Verdict {
  if (!policy.enabled || history.released) return APPLY;
  const trippedBy: TrippedRule[] = [];
  if (summary.deletes >= policy.threshold) trippedBy.push({ rule: 'count', value: summary.deletes, limit: policy.threshold });
  return trippedBy.length === 0 ? APPLY : { quarantine: true, trippedBy };
}

/** One line for people (logs, the StagedDelete entries' details): why the cycle is held. */
export function describeVerdict(verdict: Verdict): string {
  if (!verdict.quarantine) return 'no rule tripped';
  return `held back: ${verdict.trippedBy.map(describeRule).join('; ')}`;
}

function describeRule(tripped: TrippedRule): string {
  switch (tripped.rule) {
    case 'count':
      return `${tripped.value} deletes >= threshold ${tripped.limit}`;
  }
}
