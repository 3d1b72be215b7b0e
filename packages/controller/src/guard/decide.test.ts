import { decide, describeVerdict, type DeletePolicy } from './decide';

const policy = (threshold: number, enabled = true): DeletePolicy => ({ enabled, threshold });
const fresh = { released: false };

describe('decide: the count rule', () => {
  it('lets a cycle with one delete fewer than the threshold through', () => {
    expect(decide({ deletes: 499 }, policy(500), fresh)).toEqual({ quarantine: false, trippedBy: [] });
  });

  it('holds back a cycle with exactly the threshold', () => {
    expect(decide({ deletes: 500 }, policy(500), fresh)).toEqual({
      quarantine: true,
      trippedBy: [{ rule: 'count', value: 500, limit: 500 }],
    });
  });

  it('holds back a cycle above the threshold, with its value', () => {
    expect(decide({ deletes: 612 }, policy(500), fresh).trippedBy).toEqual([{ rule: 'count', value: 612, limit: 500 }]);
  });

  it('with a threshold of 1, holds back a single delete and lets a cycle without deletes through', () => {
    expect(decide({ deletes: 1 }, policy(1), fresh).quarantine).toBe(true);
    expect(decide({ deletes: 0 }, policy(1), fresh).quarantine).toBe(false);
  });

  it('never trips when prevention is disabled', () => {
    expect(decide({ deletes: 1_000_000 }, policy(1, false), fresh)).toEqual({ quarantine: false, trippedBy: [] });
  });

  it('applies a cycle that an admin released, whatever it deletes', () => {
    expect(decide({ deletes: 10_000 }, policy(500), { released: true }).quarantine).toBe(false);
  });
});

describe('describeVerdict', () => {
  it('names every tripped rule with value and limit', () => {
    expect(describeVerdict(decide({ deletes: 600 }, policy(500), fresh))).toBe('held back: 600 deletes >= threshold 500');
  });

  it('says when nothing tripped', () => {
    expect(describeVerdict(decide({ deletes: 0 }, policy(500), fresh))).toBe('no rule tripped');
  });
});
