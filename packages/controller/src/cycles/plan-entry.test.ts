import { decodePlanEntry, encodePlanEntry, type PlanEntry } from './plan-entry';

describe('plan entries', () => {
  const entries: PlanEntry[] = [
    { kind: 'create', from: 'batch', sequence: 1, index: 0 },
    { kind: 'update', from: 'batch', sequence: 12, index: 999 },
    { kind: 'create', from: 'retry', objectId: 'a7f3-uuid' },
    { kind: 'update', from: 'retry', objectId: 'x\ty' },
    { kind: 'delete', objectId: 'id1', objectType: 'user', dn: 'uid=a,ou=people,dc=example,dc=com' },
    { kind: 'delete', objectId: 'id2', objectType: 'group', dn: 'cn=odd\tname,dc=x' },
    { kind: 'delete', objectId: 'id3', objectType: 'user', dn: '' },
    { kind: 'delete', objectId: 'id4', objectType: 'user', dn: 'uid=a,ou=people,dc=x', cause: 'deleted' },
    {
      kind: 'delete',
      objectId: 'id5',
      objectType: 'group',
      dn: 'cn=g\t1,ou=p,dc=x',
      cause: 'movedOutOfScope',
      newDn: 'cn=g\t1,ou=attic,dc=x',
    },
    { kind: 'delete', objectId: 'id6', objectType: 'user', dn: '', cause: 'disabled' },
  ];

  it('writes the short form when the cause is unknown', () => {
    expect(encodePlanEntry({ kind: 'delete', objectId: 'i', objectType: 'user', dn: 'uid=a', cause: 'unknown' })).toBe(
      'd\ti\tu\tuid=a',
    );
  });

  it.each(entries.map((e) => [encodePlanEntry(e), e]))('round-trip %j', (_text, entry) => {
    expect(decodePlanEntry(encodePlanEntry(entry))).toEqual(entry);
  });

  it.each([
    '',
    'x',
    'c\t1',
    'c\ta\t0',
    'c\t0\t1',
    'u\t1\t-1',
    'C\t',
    'd\tid\tq\tdn',
    'd\t\tu\tdn',
    'ca\t1\t2',
    'D\tid\tu\tlost\t0\tdn',
    'D\tid\tu\tdeleted\t9\tdn',
    'D\tid\tu\tdeleted\tx\tdn',
    'D\tid\tu\tdeleted',
  ])('refuses %j', (text) => {
    expect(() => decodePlanEntry(text)).toThrow('not a plan entry');
  });
});
