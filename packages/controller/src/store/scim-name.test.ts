import { ChangeKind, ObjectType, decodeChange, encodeChangeBatch, encodedChangesOfBatch, type Change } from '@syncguard/protocol';
import { attributesObject } from '../targets/target';
import { nameAttributesOf, scimNameOf } from './scim-name';

function encoded(c: Partial<Change>): Uint8Array {
  const change: Change = {
    kind: ChangeKind.CHANGE_KIND_ADD,
    objectType: ObjectType.OBJECT_TYPE_USER,
    objectId: 'id-1',
    dn: 'uid=Ann,ou=people,dc=example',
    contentHash: Buffer.alloc(32, 3),
    disabled: false,
    attributes: [],
    memberDns: [],
    ...c,
  };
  return encodedChangesOfBatch(encodeChangeBatch({ configurationId: 'c', cycleId: 'c', sequence: 1, changes: [change] }))[0]!;
}

const attr = (name: string, values: string[], binary = false) => ({ name, values, binary });

describe('the SCIM name of an encoded change, read without decoding it', () => {
  it.each<[string, Partial<Change>, string]>([
    ['OpenLDAP uid', { attributes: [attr('mail', ['a@x']), attr('uid', ['Ann']), attr('cn', ['Ann A'])] }, 'ann'],
    [
      'AD userPrincipalName over sAMAccountName',
      { attributes: [attr('sAMAccountName', ['ann']), attr('userPrincipalName', ['Ann@Corp.Example'])] },
      'ann@corp.example',
    ],
    ['AD sAMAccountName alone', { attributes: [attr('sAMAccountName', ['ANN'])] }, 'ann'],
    ['a binary uid is no name: the DN', { attributes: [attr('uid', ['AAEC'], true)] }, 'uid=ann,ou=people,dc=example'],
    ['no name attribute: the DN', { attributes: [attr('mail', ['a@x'])] }, 'uid=ann,ou=people,dc=example'],
    [
      "a group's cn",
      { objectType: ObjectType.OBJECT_TYPE_GROUP, attributes: [attr('cn', ['Staff'])], memberDns: ['uid=a,dc=x'] },
      'staff',
    ],
    ['values after an empty one', { attributes: [attr('uid', ['', 'second'])] }, 'uid=ann,ou=people,dc=example'],
  ])('%s', (_what, c, name) => {
    const bytes = encoded(c);
    const scanned = nameAttributesOf(bytes);
    const full = decodeChange(bytes);
    expect(scanned.dn).toBe(full.dn);
    const type = full.objectType === ObjectType.OBJECT_TYPE_GROUP ? 'group' : 'user';
    // The same name as the whole change gives (what the SCIM view renders).
    expect(scimNameOf(type, full.objectId, full.dn, scanned.attributes)).toBe(
      scimNameOf(type, full.objectId, full.dn, attributesObject(full.attributes)),
    );
    expect(scimNameOf(type, full.objectId, full.dn, scanned.attributes)).toBe(name);
  });
});
