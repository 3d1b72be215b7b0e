import { memberKey, removedMemberships } from './member-removals';

const keys = (...dns: string[]) => dns.map(memberKey);

describe('removedMemberships', () => {
  it('counts the previous members missing from the new list', () => {
    expect(removedMemberships(keys('uid=a,dc=x', 'uid=b,dc=x', 'uid=c,dc=x'), ['uid=a,dc=x'])).toBe(2);
    expect(removedMemberships(keys('uid=a,dc=x', 'uid=b,dc=x'), [])).toBe(2);
  });

  it('does not count additions, and a swap counts the one removed', () => {
    expect(removedMemberships(keys('uid=a,dc=x'), ['uid=a,dc=x', 'uid=b,dc=x'])).toBe(0);
    expect(removedMemberships(keys('uid=a,dc=x', 'uid=b,dc=x'), ['uid=a,dc=x', 'uid=c,dc=x'])).toBe(1);
  });

  it('compares DNs case-insensitively and without spaces after commas; duplicates count once', () => {
    expect(removedMemberships(keys('UID=A, DC=X'), ['uid=a,dc=x'])).toBe(0);
    expect(removedMemberships(['uid=a,dc=x', 'uid=a,dc=x'], [])).toBe(1);
  });

  it('knows no removal without a previous record', () => {
    expect(removedMemberships([], ['uid=a,dc=x'])).toBe(0);
  });
});
