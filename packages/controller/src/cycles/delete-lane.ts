/**
 * The delete lane (`accidentalDeletes.hold: "deletes"`): a quarantine that holds back only
 * deletes. This module is its model; the Redis side is store/delete-lane-store.ts (with the
 * scripts HOLD_DELETES, RELEASE_LANE and DISCARD_LANE), the evaluation side a few lines of
 * cycles/cycle-processor.ts that call it.
 *
 * The held set (`P:config:{id}:lane`, object id -> its delete plan entry: type and DN as the
 * target holds the object) is the one record of what is held. While it is open:
 *
 * - The lane opens when a cycle of a configuration with `hold: "deletes"` trips a rule: the
 *   cycle's creates and updates are applied at once; its deletes go into the held set
 *   instead of its plan (logged as `StagedDelete`), the configuration is `quarantined`
 *   (state field `lane` = 1, the quarantine's `hold` = `deletes`), one email goes out.
 * - Cycles keep running (schedule, sync now). Each applies its creates and updates; all of
 *   its deletes join the held set, whatever they would trip on their own; an object the
 *   cycle finds in scope again (a DELTA's ADD of it, a FULL's sight of it) leaves the set; a
 *   FULL cycle does not hold an object twice. Each such cycle adds 1 to `seriesCount`, and
 *   the quarantine's `deleteCount` is the held set's size, its `trippedBy` every rule that
 *   tripped while the lane was open (the latest value of each rule).
 * - The target and the synced index keep the held objects until they are released, so the
 *   agent, told CycleCommitted, lets them go from its cache: they are not read again unless
 *   they come back in scope.
 * - When the last held object came back in scope, the lane closes by itself (healthy).
 * - allow-deletes applies exactly the held set: a `release` cycle (no agent) whose plan is
 *   the set's entries; the set empties and no other cycle starts until it is applied. Its
 *   deletes count towards the window like any applied delete. It does not move the
 *   configuration's committed cycle (the agent's cursor stays valid).
 * - restart discards the held set (nothing of it is applied) and makes the next cycle FULL,
 *   which reads the source again: fixed, nothing is deleted; not, the lane opens again.
 *
 * Both need no cycle to be current (one atomic script each; 409 SG_ERR_CYCLE_RUNNING after
 * waiting for the running one).
 */

import type { TrippedRule } from '../guard/decide';
import { RULE_NAMES } from '../guard/decide';
import type { StoredQuarantine } from '../store/quarantine-codec';

/** What evaluation needs to know of a configuration's lane before it decides a cycle. */
export interface LaneState {
  /** A lane is open (state field `lane`). */
  readonly open: boolean;
  /** Objects held (HLEN of the set). */
  readonly held: number;
  /** The lane's quarantine while it is open. */
  readonly quarantine: StoredQuarantine | null;
  /** The seriesCount of the quarantine a restart discarded last (0: none since the last applied cycle). */
  readonly restartedSeries: number;
}

/**
 * The rules that tripped over a lane's life: each rule once, with its latest value (a rule
 * that tripped only earlier keeps its earlier entry), in the order of RULE_NAMES.
 */
export function mergeTrippedBy(earlier: readonly TrippedRule[], latest: readonly TrippedRule[]): TrippedRule[] {
  const byRule = new Map<string, TrippedRule>();
  for (const t of earlier) byRule.set(t.rule, t);
  for (const t of latest) byRule.set(t.rule, t);
  return RULE_NAMES.filter((r) => byRule.has(r)).map((r) => byRule.get(r)!);
}
