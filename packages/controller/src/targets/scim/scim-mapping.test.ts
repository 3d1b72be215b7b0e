import { ENTERPRISE_SCHEMA, diff, flatOf, mapGroup, mapUser, memberPatches, resourceOf, USER_SCHEMA } from './scim-mapping';

describe('SCIM mapping', () => {
  const ldap = {
    uid: ['ada'],
    cn: ['Ada Lovelace'],
    givenName: ['Ada'],
    sn: ['Lovelace'],
    mail: ['ada@example.com', 'a.l@example.com'],
    title: ['Analyst'],
    employeeNumber: ['42'],
    departmentNumber: ['R&D'],
    manager: ['uid=babbage,ou=people,dc=example,dc=com'],
  };

  it('maps an OpenLDAP user by default: uid, names, emails, enterprise fields, externalId, active', () => {
    const m = mapUser('uuid-1', ldap, false, null);
    if ('problem' in m) throw new Error(m.problem);
    expect(m.flat).toEqual({
      userName: 'ada',
      externalId: 'uuid-1',
      active: true,
      displayName: 'Ada Lovelace',
      'name.givenName': 'Ada',
      'name.familyName': 'Lovelace',
      emails: [
        { value: 'ada@example.com', type: 'work', primary: true },
        { value: 'a.l@example.com', type: 'work', primary: false },
      ],
      title: 'Analyst',
      [`${ENTERPRISE_SCHEMA}:employeeNumber`]: '42',
      [`${ENTERPRISE_SCHEMA}:department`]: 'R&D',
    });
    expect(m.managerDn).toBe('uid=babbage,ou=people,dc=example,dc=com');
    expect(resourceOf(m.flat, USER_SCHEMA)).toMatchObject({
      schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      [ENTERPRISE_SCHEMA]: { employeeNumber: '42', department: 'R&D' },
    });
  });

  it('maps an AD user: userPrincipalName (else sAMAccountName), employeeID, department; disabled is active false', () => {
    const ad = { userPrincipalName: ['ada@corp.example'], sAMAccountName: ['ada'], employeeID: ['7'], department: ['Ops'] };
    const m = mapUser('guid-1', ad, true, null);
    if ('problem' in m) throw new Error(m.problem);
    expect(m.flat).toMatchObject({ userName: 'ada@corp.example', active: false, [`${ENTERPRISE_SCHEMA}:employeeNumber`]: '7' });
    const noUpn = mapUser('guid-2', { sAMAccountName: ['bob'] }, false, null);
    expect('flat' in noUpn && noUpn.flat.userName).toBe('bob');
  });

  it('takes overrides per configuration, and says why a user cannot be mapped', () => {
    const m = mapUser('u', ldap, false, { directory: 'openldap', user: { userName: 'mail', title: null }, group: {} });
    if ('problem' in m) throw new Error(m.problem);
    expect(m.flat.userName).toBe('ada@example.com');
    expect(m.flat.title).toBeUndefined();
    expect(mapUser('u', { cn: ['x'] }, false, null)).toEqual({ problem: expect.stringContaining('uid') });
    expect(mapGroup('g', { cn: ['staff'] }, null)).toEqual({ flat: { displayName: 'staff', externalId: 'g' } });
    expect(mapGroup('g', { description: ['x'] }, null)).toEqual({ problem: expect.stringContaining('cn') });
  });

  it('diffs to only what changed, and reads a returned resource in the same form', () => {
    const before = { userName: 'ada', title: 'Analyst', 'name.givenName': 'Ada' };
    expect(diff(before, { ...before })).toEqual([]);
    expect(diff(before, { userName: 'ada', title: 'Engineer' })).toEqual([
      { op: 'replace', path: 'title', value: 'Engineer' },
      { op: 'remove', path: 'name.givenName' },
    ]);
    const returned = {
      id: '1',
      userName: 'ada',
      name: { givenName: 'Ada' },
      title: 'Analyst',
      meta: {},
      [ENTERPRISE_SCHEMA]: { department: 'X' },
    };
    expect(flatOf(returned, { ...before, [`${ENTERPRISE_SCHEMA}:department`]: 'Y' })).toEqual({
      ...before,
      [`${ENTERPRISE_SCHEMA}:department`]: 'X',
    });
  });

  it('splits member changes into bounded PATCH bodies', () => {
    const add = Array.from({ length: 1200 }, (_, i) => `a${i}`);
    const bodies = memberPatches(add, ['r1', 'r2'], 500);
    expect(bodies.map((b) => b.length)).toEqual([2, 1, 1, 1]);
    expect(bodies[0]![0]).toEqual({ op: 'remove', path: 'members[value eq "r1"]' });
    expect(bodies.slice(1).map((b) => (b[0] as { value: unknown[] }).value.length)).toEqual([500, 500, 200]);
  });
});
