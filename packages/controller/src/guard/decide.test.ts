import { decide, describeRule, describeVerdict, type DeletePolicy } from './decide';

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

const HOUR = 3600 * 1000;
const NOW = Date.UTC(2026, 0, 10, 12);
const base: DeletePolicy = { enabled: true, threshold: 1_000_000 };
const held = (user: number, group = 0) => ({ heldByType: { user, group } });

describe('decide: percentage with minimumObjects', () => {
  const p: DeletePolicy = { ...base, percentage: 10, minimumObjects: 100 };

  it('lets one delete fewer than the share through, holds back exactly the share', () => {
    expect(decide({ deletes: 499, ...held(5000) }, p, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 500, ...held(5000) }, p, fresh)).toEqual({
      quarantine: true,
      trippedBy: [{ rule: 'percentage', value: 10, limit: 10, of: 5000 }],
    });
  });

  it('counts users and groups together and rounds the value to one decimal', () => {
    expect(decide({ deletes: 611, ...held(4000, 1000) }, p, fresh).trippedBy).toEqual([
      { rule: 'percentage', value: 12.2, limit: 10, of: 5000 },
    ]);
  });

  it('applies from minimumObjects on, not below it', () => {
    expect(decide({ deletes: 99, ...held(99) }, p, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 10, ...held(100) }, p, fresh).trippedBy).toEqual([
      { rule: 'percentage', value: 10, limit: 10, of: 100 },
    ]);
    expect(decide({ deletes: 9, ...held(100) }, p, fresh).quarantine).toBe(false);
  });

  it('has a default floor of 100 objects', () => {
    const noFloor: DeletePolicy = { ...base, percentage: 10 };
    expect(decide({ deletes: 99, ...held(99) }, noFloor, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 10, ...held(100) }, noFloor, fresh).quarantine).toBe(true);
  });

  it('is off when null, and never trips on an empty target', () => {
    expect(decide({ deletes: 5000, ...held(5000) }, { ...base, percentage: null }, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 0, ...held(0) }, { ...p, minimumObjects: 0 }, fresh).quarantine).toBe(false);
  });

  it('compares exactly, not the rounded value: 9.96% is under a limit of 10%', () => {
    expect(decide({ deletes: 249, ...held(2500) }, p, fresh).quarantine).toBe(false);
  });
});

describe('decide: perType', () => {
  const p: DeletePolicy = {
    ...base,
    minimumObjects: 100,
    perType: { user: { threshold: 300, percentage: 5 }, group: { threshold: 20, percentage: null } },
  };
  const summary = (user: number, group: number, heldUsers = 100_000, heldGroups = 1000) => ({
    deletes: user + group,
    deletesByType: { user, group },
    heldByType: { user: heldUsers, group: heldGroups },
  });

  it('trips type:group at its threshold, not one below, whatever the users do', () => {
    expect(decide(summary(0, 19), p, fresh).quarantine).toBe(false);
    expect(decide(summary(0, 20), p, fresh).trippedBy).toEqual([{ rule: 'type:group', value: 20, limit: 20 }]);
  });

  it('trips type:user at its threshold and at its percentage of the users', () => {
    expect(decide(summary(299, 0), p, fresh).quarantine).toBe(false);
    expect(decide(summary(300, 0), p, fresh).trippedBy).toEqual([{ rule: 'type:user', value: 300, limit: 300 }]);
    expect(decide(summary(99, 0, 2000), p, fresh).quarantine).toBe(false);
    expect(decide(summary(100, 0, 2000), p, fresh).trippedBy).toEqual([{ rule: 'type:user', value: 5, limit: 5, of: 2000 }]);
  });

  it("applies a type's percentage only from minimumObjects of that type", () => {
    expect(decide(summary(50, 0, 99), p, fresh).quarantine).toBe(false);
    expect(decide(summary(5, 0, 100), p, fresh).trippedBy).toEqual([{ rule: 'type:user', value: 5, limit: 5, of: 100 }]);
  });

  it('lists every rule that tripped', () => {
    const v = decide(summary(400, 25, 2000), { ...p, threshold: 400 }, fresh);
    expect(v.trippedBy.map((t) => t.rule)).toEqual(['count', 'type:user', 'type:user', 'type:group']);
  });

  it('counts a summary without types as users', () => {
    expect(decide({ deletes: 300 }, p, fresh).trippedBy).toEqual([{ rule: 'type:user', value: 300, limit: 300 }]);
  });
});

describe('decide: window', () => {
  const p: DeletePolicy = { ...base, window: { hours: 24, threshold: 1000 } };
  const history = (applied: { at: number; deletes: number }[]) => ({ released: false, now: NOW, applied });

  it('adds the deletes applied in the last hours to this cycle, and trips at the threshold', () => {
    const h = history([
      { at: NOW - 2 * HOUR, deletes: 499 },
      { at: NOW - HOUR, deletes: 499 },
    ]);
    expect(decide({ deletes: 1 }, p, h).quarantine).toBe(false);
    expect(decide({ deletes: 2 }, p, h).trippedBy).toEqual([{ rule: 'window', value: 1000, limit: 1000 }]);
  });

  it('counts a commit exactly `hours` ago, and not one a millisecond older', () => {
    expect(decide({ deletes: 1 }, p, history([{ at: NOW - 24 * HOUR, deletes: 999 }])).quarantine).toBe(true);
    expect(decide({ deletes: 1 }, p, history([{ at: NOW - 24 * HOUR - 1, deletes: 999 }])).quarantine).toBe(false);
  });

  it('never trips a cycle without deletes, however many were applied before', () => {
    expect(decide({ deletes: 0 }, p, history([{ at: NOW - HOUR, deletes: 5000 }])).quarantine).toBe(false);
  });

  it('trips on this cycle alone when nothing was applied before', () => {
    expect(decide({ deletes: 1000 }, p, history([])).trippedBy).toEqual([{ rule: 'window', value: 1000, limit: 1000 }]);
  });

  it('is off when null', () => {
    expect(decide({ deletes: 1 }, { ...p, window: null }, history([{ at: NOW, deletes: 5000 }])).quarantine).toBe(false);
  });
});

describe('decide: protected', () => {
  const p: DeletePolicy = { ...base, protected: { dnSuffixes: ['ou=admins,dc=example,dc=com'], objectIds: [] } };

  it('quarantines a single protected delete, and nothing without one', () => {
    expect(decide({ deletes: 1, protectedDeletes: 1 }, p, fresh).trippedBy).toEqual([{ rule: 'protected', value: 1, limit: 1 }]);
    expect(decide({ deletes: 400, protectedDeletes: 0 }, p, fresh).quarantine).toBe(false);
  });

  it('is off when null, and a released cycle is applied even with protected deletes', () => {
    expect(decide({ deletes: 1, protectedDeletes: 1 }, { ...p, protected: null }, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 1, protectedDeletes: 1 }, p, { released: true }).quarantine).toBe(false);
  });
});

describe('decide: memberRemovals', () => {
  const p: DeletePolicy = { ...base, memberRemovals: { threshold: 2000 } };

  it('lets limit - 1 removed memberships through and quarantines at the limit, with no delete at all', () => {
    expect(decide({ deletes: 0, memberRemovals: 1999 }, p, fresh)).toEqual({ quarantine: false, trippedBy: [] });
    expect(decide({ deletes: 0, memberRemovals: 2000 }, p, fresh)).toEqual({
      quarantine: true,
      trippedBy: [{ rule: 'memberRemovals', value: 2000, limit: 2000 }],
    });
    expect(decide({ deletes: 0, memberRemovals: 5000 }, p, fresh).trippedBy).toEqual([
      { rule: 'memberRemovals', value: 5000, limit: 2000 },
    ]);
  });

  it('with a threshold of 1, one removed membership trips and none does not', () => {
    const one: DeletePolicy = { ...base, memberRemovals: { threshold: 1 } };
    expect(decide({ deletes: 0, memberRemovals: 1 }, one, fresh).quarantine).toBe(true);
    expect(decide({ deletes: 0, memberRemovals: 0 }, one, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 0 }, one, fresh).quarantine).toBe(false);
  });

  it('is listed between window and protected, beside the other rules that tripped', () => {
    const all: DeletePolicy = { ...p, threshold: 10, protected: { dnSuffixes: [], objectIds: ['x'] } };
    expect(decide({ deletes: 10, memberRemovals: 2000, protectedDeletes: 1 }, all, fresh).trippedBy.map((t) => t.rule)).toEqual([
      'count',
      'memberRemovals',
      'protected',
    ]);
  });

  it('is off when null or when prevention is disabled, and a released cycle is applied', () => {
    expect(decide({ deletes: 0, memberRemovals: 1_000_000 }, { ...p, memberRemovals: null }, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 0, memberRemovals: 1_000_000 }, { ...p, enabled: false }, fresh).quarantine).toBe(false);
    expect(decide({ deletes: 0, memberRemovals: 2000 }, p, { released: true }).quarantine).toBe(false);
  });
});

describe('describeRule', () => {
  it('names a percentage with its share of the objects', () => {
    expect(describeRule({ rule: 'percentage', value: 12.2, limit: 10, of: 5000 })).toBe(
      'percentage: 12.2% of 5,000 objects, limit 10%',
    );
    expect(describeRule({ rule: 'type:group', value: 20, limit: 20 })).toBe('type:group: 20 group deletes >= threshold 20');
    expect(describeRule({ rule: 'window', value: 1000, limit: 1000 })).toContain('>= threshold 1000');
    expect(describeRule({ rule: 'protected', value: 2, limit: 1 })).toBe('protected: 2 protected objects deleted');
    expect(describeRule({ rule: 'memberRemovals', value: 2400, limit: 2000 })).toBe(
      'memberRemovals: 2400 memberships removed from groups >= threshold 2000',
    );
  });
});
