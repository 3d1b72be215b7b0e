import { encodePlanEntry } from './plan-entry';
import { parentDnOf, StagedDeleteGrouper, stagedDeleteOf } from './staged-deletes';

describe('staged deletes', () => {
  it('takes the first RDN off a DN, escaped commas included', () => {
    expect(parentDnOf('uid=a,ou=eng,dc=example,dc=com')).toBe('ou=eng,dc=example,dc=com');
    expect(parentDnOf('cn=Doe\\, John,ou=eng,dc=x')).toBe('ou=eng,dc=x');
    expect(parentDnOf('cn=a\\\\,ou=b')).toBe('ou=b');
    expect(parentDnOf('dc=com')).toBe('');
  });

  it('reads a delete plan entry, with the fallback cause where the entry names none', () => {
    const e = encodePlanEntry({ kind: 'delete', objectId: 'id1', objectType: 'group', dn: 'cn=g,ou=groups,dc=x' });
    expect(stagedDeleteOf(e, 'scopeChanged')).toEqual({
      objectId: 'id1',
      objectType: 'group',
      dn: 'cn=g,ou=groups,dc=x',
      parentDn: 'ou=groups,dc=x',
      cause: 'scopeChanged',
    });
    expect(() => stagedDeleteOf(encodePlanEntry({ kind: 'create', from: 'retry', objectId: 'x' }), 'unknown')).toThrow();
  });

  it('groups by parent case-insensitively, largest first, with a sample of 3', () => {
    const g = new StagedDeleteGrouper('parent');
    const d = (dn: string) =>
      stagedDeleteOf(encodePlanEntry({ kind: 'delete', objectId: dn, objectType: 'user', dn }), 'unknown');
    for (let i = 0; i < 5; i++) g.add(d(`uid=e${i},ou=Eng,dc=x`));
    g.add(d('uid=e9,OU=eng,DC=x'));
    g.add(d('uid=s1,ou=sales,dc=x'));
    const groups = g.result();
    expect(groups.map((x) => [x.key, x.count, x.sample.length])).toEqual([
      ['ou=Eng,dc=x', 6, 3],
      ['ou=sales,dc=x', 1, 1],
    ]);
    const byCause = new StagedDeleteGrouper('cause');
    byCause.add(d('uid=a,ou=b'));
    expect(byCause.result()).toEqual([{ key: 'unknown', count: 1, sample: [d('uid=a,ou=b')] }]);
  });
});
