import {
  trippedRuleText,
  countsLabel,
  cycleStateLabel,
  filterByDn,
  formatAgo,
  formatTime,
  notificationLabel,
  plural,
  serverFilteredByDn,
  stateLabel,
  stateTone,
  subtreeCount,
  thresholdRatio,
} from './format';

describe('trippedRuleText', () => {
  it('names what tripped with value and limit', () => {
    expect(trippedRuleText({ rule: 'percentage', value: 12.2, limit: 10, of: 5000 })).toBe('12.2% of 5,000 objects, limit 10%');
    expect(trippedRuleText({ rule: 'type:group', value: 20, limit: 20 })).toBe('20 groups deleted, limit 20');
    expect(trippedRuleText({ rule: 'protected', value: 1, limit: 1 })).toBe('1 protected object deleted');
    expect(trippedRuleText({ rule: 'count', value: 612, limit: 500 })).toBe('612 deletes, limit 500');
    expect(trippedRuleText({ rule: 'memberRemovals', value: 2400, limit: 2000 })).toBe(
      '2,400 memberships removed from groups, limit 2,000',
    );
  });
});

describe('format', () => {
  it('formats times in UTC and durations coarsely', () => {
    expect(formatTime('2026-11-24T10:00:05.123Z')).toBe('2026-11-24 10:00:05 UTC');
    expect(formatTime(null)).toBe('—');
    expect(formatTime('not a time')).toBe('not a time');
    const now = Date.parse('2026-11-24T10:00:00Z');
    expect(formatAgo('2026-11-24T09:59:58Z', now)).toBe('just now');
    expect(formatAgo('2026-11-24T09:59:30Z', now)).toBe('30 s ago');
    expect(formatAgo('2026-11-24T09:57:00Z', now)).toBe('3 min ago');
    expect(formatAgo('2026-11-24T07:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2026-11-20T10:00:00Z', now)).toBe('4 days ago');
    expect(formatAgo(null, now)).toBe('never');
  });

  it('says "Delete threshold exceeded" for a quarantined configuration, "Quarantined" for a cycle', () => {
    expect(stateLabel('quarantined')).toBe('Delete threshold exceeded');
    expect(stateLabel('healthy')).toBe('Healthy');
    expect(cycleStateLabel('quarantined')).toBe('Quarantined');
    expect(stateTone('quarantined')).toBe('danger');
    expect(stateTone('healthy')).toBe('ok');
    expect(stateTone('pending')).toBe('muted');
  });

  it('counts in words', () => {
    expect(plural(1, 'object')).toBe('1 object');
    expect(plural(1612, 'object')).toBe('1,612 objects');
    expect(countsLabel({ create: 1, update: 2, delete: 612, failed: 0 })).toBe('+1 ~2 −612');
    expect(countsLabel({ create: 1, update: 0, delete: 0, failed: 3 })).toBe('+1 ~0 −0 ✗3');
    expect(countsLabel(null)).toBe('—');
    expect(thresholdRatio(612, 500)).toBeCloseTo(1.224);
    expect(thresholdRatio(5, 0)).toBe(1);
  });

  it('describes the notification', () => {
    expect(notificationLabel('sent', 'ops@example.com')).toBe('Sent to ops@example.com');
    expect(notificationLabel('none', null)).toMatch(/no notification address/);
    expect(notificationLabel('failed', 'ops@example.com')).toBe('Failed');
  });

  it('searches DNs case-insensitively and tells whether the server did', () => {
    const items = [{ dn: 'uid=Alice,ou=Sales,dc=x' }, { dn: 'uid=bob,ou=it,dc=x' }];
    expect(filterByDn(items, 'sales')).toEqual([items[0]]);
    expect(filterByDn(items, '  ')).toEqual(items);
    expect(serverFilteredByDn(items, 'sales')).toBe(false);
    expect(serverFilteredByDn([items[0]!], 'sales')).toBe(true);
    expect(serverFilteredByDn([], 'sales')).toBe(true);
  });
});

describe('subtreeCount', () => {
  test('a parent OU counts its own group and those under it, case and spaces ignored, not a sibling', () => {
    const groups = [
      { key: 'ou=eng,dc=x', count: 4 },
      { key: 'ou=team, OU=Eng,dc=x', count: 2 },
      { key: 'ou=reng,dc=x', count: 7 },
      { key: 'ou=sales,dc=x', count: 1 },
    ];
    expect(subtreeCount(groups, 'OU=Eng,dc=x')).toBe(6);
    expect(subtreeCount(groups, 'ou=sales,dc=x')).toBe(1);
    expect(subtreeCount(groups, 'ou=hr,dc=x')).toBe(0);
  });
});
