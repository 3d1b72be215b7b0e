import { ObjectType } from '@syncguard/protocol';
import { contentHash, guidToString, mapEntry } from './entry-mapper';

const openldap = {
  flavor: 'openldap' as const,
  objectTypes: [ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP],
  disabledAttribute: '',
};

describe('mapEntry', () => {
  const user = {
    dn: 'uid=ann,ou=people,dc=example,dc=com',
    objectClass: ['top', 'inetOrgPerson'],
    entryUUID: '3f1c2d9e-0000-4000-8000-000000000001',
    uid: 'ann',
    mail: ['b@example.com', 'a@example.com'],
    cn: 'Ann',
    userPassword: '{SSHA}secret',
    modifyTimestamp: '20261124000000Z',
  };

  it('maps an OpenLDAP user: id from entryUUID, sorted attributes and values, no secrets or bookkeeping', () => {
    const object = mapEntry(user, openldap)!;
    expect(object).toMatchObject({
      id: user.entryUUID,
      type: ObjectType.OBJECT_TYPE_USER,
      dn: user.dn,
      disabled: false,
      memberDns: [],
    });
    expect(object.attributes.map((a) => a.name)).toEqual(['cn', 'mail', 'objectClass', 'uid']);
    expect(object.attributes.find((a) => a.name === 'mail')!.values).toEqual(['a@example.com', 'b@example.com']);
    expect(object.hash).toHaveLength(32);
    expect(object.hash).toEqual(contentHash(object));
  });

  it('hashes content, not order: same entry in another order has the same hash; a DN or value change does not', () => {
    const a = mapEntry(user, openldap)!;
    const b = mapEntry({ ...user, mail: ['a@example.com', 'b@example.com'], modifyTimestamp: '20991231000000Z' }, openldap)!;
    expect(b.hash).toEqual(a.hash);
    expect(mapEntry({ ...user, dn: 'uid=ann2,ou=people,dc=example,dc=com' }, openldap)!.hash).not.toEqual(a.hash);
    expect(mapEntry({ ...user, cn: 'Anne' }, openldap)!.hash).not.toEqual(a.hash);
  });

  it('leaves out attributes without values (ldapts reports the requested * as one)', () => {
    const a = mapEntry(user, openldap)!;
    const b = mapEntry({ ...user, '*': [], description: [] }, openldap)!;
    expect(b.attributes.map((x) => x.name)).toEqual(['cn', 'mail', 'objectClass', 'uid']);
    expect(b.hash).toEqual(a.hash);
  });

  it('maps groupOfNames and groupOfUniqueNames members to memberDns', () => {
    const group = mapEntry(
      {
        dn: 'cn=g,dc=x',
        objectClass: 'groupOfUniqueNames',
        entryUUID: 'g-1',
        cn: 'g',
        uniqueMember: ['uid=b,dc=x', 'uid=a,dc=x'],
      },
      openldap,
    )!;
    expect(group.type).toBe(ObjectType.OBJECT_TYPE_GROUP);
    expect(group.memberDns).toEqual(['uid=a,dc=x', 'uid=b,dc=x']);
    expect(group.attributes.map((a) => a.name)).toEqual(['cn', 'objectClass']);
  });

  it('leaves out entries of types not in scope and entries without an id', () => {
    expect(mapEntry(user, { ...openldap, objectTypes: [ObjectType.OBJECT_TYPE_GROUP] })).toBeUndefined();
    expect(mapEntry({ ...user, entryUUID: '' }, openldap)).toBeUndefined();
    expect(mapEntry({ dn: 'ou=x', objectClass: 'organizationalUnit', entryUUID: 'x' }, openldap)).toBeUndefined();
  });

  it('reads the OpenLDAP disabled attribute: any value but FALSE or 0 disables', () => {
    const options = { ...openldap, disabledAttribute: 'employeeType' };
    expect(mapEntry({ ...user, employeeType: 'disabled' }, options)!.disabled).toBe(true);
    expect(mapEntry({ ...user, employeeType: 'FALSE' }, options)!.disabled).toBe(false);
    expect(mapEntry({ ...user, employeeType: '0' }, options)!.disabled).toBe(false);
    expect(mapEntry(user, options)!.disabled).toBe(false);
  });

  it('maps Active Directory users and groups: objectGUID in canonical form, ACCOUNTDISABLE bit, binary values as base64', () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const ad = {
      flavor: 'ad' as const,
      objectTypes: [ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP],
      disabledAttribute: '',
    };
    const aduser = mapEntry(
      {
        dn: 'CN=Ann,OU=Staff,DC=corp,DC=example',
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        objectGUID: guid,
        objectSid: Buffer.from([1, 2, 3]),
        userAccountControl: '514',
        sAMAccountName: 'ann',
        lastLogon: '133000000000000000',
      },
      ad,
    )!;
    expect(aduser.id).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(aduser.type).toBe(ObjectType.OBJECT_TYPE_USER);
    expect(aduser.disabled).toBe(true);
    expect(aduser.attributes.find((a) => a.name === 'objectSid')).toEqual({ name: 'objectSid', values: ['AQID'], binary: true });
    expect(aduser.attributes.map((a) => a.name)).not.toContain('lastLogon');
    const enabled = mapEntry({ dn: 'CN=B,DC=x', objectClass: ['user'], objectGUID: guid, userAccountControl: '512' }, ad)!;
    expect(enabled.disabled).toBe(false);
    const computer = mapEntry({ dn: 'CN=PC,DC=x', objectClass: ['user', 'computer'], objectGUID: guid }, ad);
    expect(computer).toBeUndefined();
    const group = mapEntry({ dn: 'CN=G,DC=x', objectClass: ['group'], objectGUID: guid, member: 'CN=Ann,DC=x' }, ad)!;
    expect(group.memberDns).toEqual(['CN=Ann,DC=x']);
  });

  it("leaves out AD's memberOf (a back link that changes without the user's uSNChanged), but not OpenLDAP's", () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const entry = { dn: 'CN=Ann,DC=x', objectClass: ['user'], objectGUID: guid, sn: 'Ann' };
    const ad = { flavor: 'ad' as const, objectTypes: [ObjectType.OBJECT_TYPE_USER], disabledAttribute: '' };
    const inGroup = mapEntry({ ...entry, memberOf: 'CN=G,DC=x' }, ad)!;
    expect(inGroup.attributes.map((a) => a.name)).toEqual(['objectClass', 'sn']);
    expect(inGroup.hash.equals(mapEntry(entry, ad)!.hash)).toBe(true);
    const openldap = mapEntry(
      { dn: 'uid=a,dc=x', objectClass: ['inetOrgPerson'], entryUUID: 'u-1', memberOf: 'cn=g,dc=x' },
      { flavor: 'openldap', objectTypes: [ObjectType.OBJECT_TYPE_USER], disabledAttribute: '' },
    )!;
    expect(openldap.attributes.map((a) => a.name)).toEqual(['memberOf', 'objectClass']);
  });

  it('formats GUIDs as Active Directory does', () => {
    expect(guidToString(Buffer.from('c6ad5b4a1f0e4d4ba3a1b2c3d4e5f607', 'hex'))).toBe('4a5badc6-0e1f-4b4d-a3a1-b2c3d4e5f607');
  });
});

describe('content hash values', () => {
  // The controller compares these with hashes it stored from earlier cycles: any change to the
  // canonical form or the hash turns every object into a MODIFY. Computed by the agent's
  // first canonical form (JSON.stringify of [dn, type, disabled, [[name, binary, values]...], members]),
  // except the first: attributes without values (the empty '*' ldapts reports) are left out since
  // 2026-11-25, a deliberate one-time change (before any release).
  const user = { flavor: 'openldap' as const, objectTypes: [ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP] };
  const cases: [string, Parameters<typeof mapEntry>[0], Parameters<typeof mapEntry>[1], string][] = [
    [
      'an OpenLDAP user as ldapts returns it for [*, entryUUID]',
      {
        dn: 'uid=ann,ou=people,dc=example,dc=com',
        objectClass: 'inetOrgPerson',
        uid: 'ann',
        cn: 'Ann Example',
        sn: 'Example',
        mail: ['b@example.com', 'a@example.com'],
        title: 'Engineer 3',
        entryUUID: '3f1c2d9e-0000-4000-8000-000000000001',
        '*': [],
      },
      { ...user, disabledAttribute: '' },
      '174a5a7a47c0d461a9fda2b9b83dc9f75419efb67c3fc37a7726a7bbeadaea39',
    ],
    [
      'escapes, non-ASCII, a lone surrogate, mixed-case names, a binary value and a disabled flag',
      {
        dn: 'cn=Zoë "Z" \\\\ Smith,ou=people,dc=example,dc=com',
        objectClass: ['top', 'inetOrgPerson'],
        entryUUID: '3f1c2d9e-0000-4000-8000-000000000002',
        description: ['line1\nline2\ttab\u0001', 'emoji \ud83d\ude00', 'lone \ud800 surrogate', '\u2028sep'],
        Title: 'CEO',
        cn: 'Zoë',
        pwdAccountLockedTime: '000001010000Z',
        userPassword: 'x',
        'userCertificate;binary': Buffer.from([0, 255, 1]),
      },
      { ...user, disabledAttribute: 'pwdAccountLockedTime' },
      '2b6c0c69ac8d2ba0a4096e630b1477ce98adc058d687d04bd3d99ae11759753b',
    ],
    [
      'an OpenLDAP group with members',
      {
        dn: 'cn=staff,ou=groups,dc=example,dc=com',
        objectClass: ['top', 'groupOfNames'],
        entryUUID: '3f1c2d9e-0000-4000-8000-000000000003',
        cn: 'staff',
        member: ['uid=zed,dc=example,dc=com', 'uid=ann,dc=example,dc=com'],
        uniqueMember: 'uid=bob,dc=example,dc=com',
      },
      { ...user, disabledAttribute: '' },
      '3252a3f54c9f963ea456164d0091af62a232dcda0d75431c93ea0cb885b47a35',
    ],
    [
      'an Active Directory user with binary values',
      {
        dn: 'CN=Ann,OU=Staff,DC=corp,DC=example',
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        objectGUID: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
        objectSid: Buffer.from([1, 2, 3]),
        userAccountControl: '514',
        sAMAccountName: 'ann',
        lastLogon: '1',
        thumbnailPhoto: [Buffer.from('zz'), Buffer.from('aa')],
      },
      { ...user, flavor: 'ad', disabledAttribute: '' },
      '7adee3df47d2947325a815a25ca884b2d215357bfa30526098ae188bd334da9f',
    ],
  ];

  it.each(cases)('stay the same for %s', (_label, entry, options, hex) => {
    const object = mapEntry(entry, options)!;
    expect(object.hash.toString('hex')).toBe(hex);
    expect(contentHash(object).toString('hex')).toBe(hex);
  });
});
