import { CYCLE_TRANSITIONS, ENDED_PHASES, assertTransition, cycleState, isCyclePhase, type CyclePhase } from './cycle-phase';

describe('cycle phases', () => {
  it('allow the moves of the pipeline', () => {
    expect(() => assertTransition(['streaming'], 'complete')).not.toThrow();
    expect(() => assertTransition(['streaming', 'complete'], 'failed')).not.toThrow();
    expect(() => assertTransition(['complete'], 'quarantined')).not.toThrow();
    expect(() => assertTransition(['quarantined'], 'applying')).not.toThrow();
    expect(() => assertTransition(['quarantined'], 'discarded')).not.toThrow();
    expect(() => assertTransition(['applying'], 'applied')).not.toThrow();
  });

  it('refuse every other move, naming it', () => {
    expect(() => assertTransition(['streaming'], 'applied')).toThrow('a cycle cannot move from streaming to applied');
    expect(() => assertTransition(['quarantined'], 'applied')).toThrow(/quarantined to applied/);
    expect(() => assertTransition(['complete', 'applied'], 'failed')).toThrow(/applied to failed/);
    expect(() => assertTransition([], 'failed')).toThrow(/at least one phase/);
  });

  it('end in applied, failed and discarded only', () => {
    expect([...ENDED_PHASES].sort()).toEqual(['applied', 'discarded', 'failed']);
    for (const phase of Object.keys(CYCLE_TRANSITIONS) as CyclePhase[]) {
      for (const to of CYCLE_TRANSITIONS[phase]) expect(isCyclePhase(to)).toBe(true);
    }
  });

  it('show every phase before a verdict as running', () => {
    expect(cycleState('streaming')).toBe('running');
    expect(cycleState('complete')).toBe('running');
    expect(cycleState('applying')).toBe('running');
    expect(cycleState(undefined)).toBe('running');
    expect(cycleState('quarantined')).toBe('quarantined');
    expect(cycleState('applied')).toBe('applied');
    expect(isCyclePhase('toString')).toBe(false);
  });
});
