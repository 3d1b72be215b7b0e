import { DeleteCause } from '@syncguard/protocol';
import { guidToString } from './entry-mapper';
import { guidBytes, idAssertion, reasonAt } from './locate';

describe('looking objects up by id', () => {
  it("turns an objectGUID string back into the directory's bytes", () => {
    const raw = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const id = guidToString(raw);
    expect(id).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(guidBytes(id)?.equals(raw)).toBe(true);
    expect(guidBytes('not-a-guid')).toBeUndefined();
  });

  it('builds filters with the raw bytes for AD and refuses ids that are not ids', () => {
    const f = idAssertion('ad', '33221100-5544-7766-8899-aabbccddeeff') as unknown as { value: Buffer };
    expect(Buffer.isBuffer(f.value) && f.value.toString('hex')).toBe('00112233445566778899aabbccddeeff');
    expect(idAssertion('openldap', '4f1a2b3c-0000-4000-8000-000000000001')?.toString()).toBe(
      '(entryUUID=4f1a2b3c-0000-4000-8000-000000000001)',
    );
    expect(idAssertion('openldap', 'x)(objectClass=*')).toBeUndefined();
    expect(idAssertion('ad', 'x')).toBeUndefined();
  });

  it('calls an object found outside the base moved, under it filtered out', () => {
    expect(reasonAt('uid=a,ou=attic,dc=x', 'ou=people,dc=x')).toEqual({
      cause: DeleteCause.DELETE_CAUSE_MOVED_OUT_OF_SCOPE,
      newDn: 'uid=a,ou=attic,dc=x',
    });
    expect(reasonAt('uid=a, OU=People,dc=x', 'ou=people,dc=x')).toEqual({ cause: DeleteCause.DELETE_CAUSE_FILTERED_OUT });
  });
});
