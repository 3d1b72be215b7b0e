import type { CycleState } from '../model';

/**
 * The phases of a cycle as the pipeline tracks them (the `phase` field of `P:cycle:{id}`).
 * The API shows fewer: every phase before a verdict reads `running` (see {@link cycleState}).
 *
 * ```
 * streaming -> complete -> applying -> applied
 *     |           |   \         |  (TargetFailures: applying -> quarantined)
 *     |           |    quarantined -> applying (allow-deletes)
 *     |           |         \
 *     +-----------+----------+-> failed | discarded
 * ```
 */
export type CyclePhase = 'streaming' | 'complete' | 'applying' | 'applied' | 'quarantined' | 'failed' | 'discarded';

/**
 * Every allowed move, in one place: a transition that is not listed here is a programming
 * error, refused before Redis is asked (see {@link assertTransition}).
 * - streaming: the agent sends batches; complete once every batch and CycleComplete are held.
 * - complete: evaluated into a plan, then applying, or quarantined by the guard.
 * - quarantined: allow-deletes moves it to applying; restart discards it.
 * - applying: the plan goes to the target in chunks; applied once the last chunk is in, or
 *   quarantined (`TargetFailures`) when the target refused too many of its operations.
 * - failed: the agent reported an error, it was abandoned, or the controller failed it.
 */
export const CYCLE_TRANSITIONS: { readonly [P in CyclePhase]: readonly CyclePhase[] } = Object.freeze({
  streaming: ['complete', 'failed', 'discarded'],
  complete: ['applying', 'quarantined', 'failed'],
  quarantined: ['applying', 'discarded'],
  applying: ['applied', 'failed', 'quarantined'],
  applied: [],
  failed: [],
  discarded: [],
});

/** The phases after which nothing happens to a cycle any more. */
export const ENDED_PHASES: readonly CyclePhase[] = Object.freeze(
  (Object.keys(CYCLE_TRANSITIONS) as CyclePhase[]).filter((p) => CYCLE_TRANSITIONS[p].length === 0),
);

export function isCyclePhase(value: unknown): value is CyclePhase {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CYCLE_TRANSITIONS, value);
}

/** Throws unless every phase of `from` may move to `to`. */
export function assertTransition(from: readonly CyclePhase[], to: CyclePhase): void {
  if (from.length === 0) throw new Error(`a transition to ${to} needs at least one phase to come from`);
  for (const phase of from) {
    if (!CYCLE_TRANSITIONS[phase].includes(to)) throw new Error(`a cycle cannot move from ${phase} to ${to}`);
  }
}

/** A cycle's state as the API shows it (contract: running, applied, quarantined, failed, discarded). */
export function cycleState(phase: string | undefined): CycleState {
  switch (phase) {
    case 'applied':
    case 'failed':
    case 'discarded':
    case 'quarantined':
      return phase;
    default:
      return 'running';
  }
}
