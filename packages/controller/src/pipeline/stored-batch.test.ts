import { ChangeKind, ObjectType, type Change } from '@syncguard/protocol';
import { decodeStoredChange, decodeSummaries, encodeStoredBatch, storedLines } from './stored-batch';

describe('stored batches', () => {
  it('reads back what it wrote, and keeps an attribute named __proto__', () => {
    const change = {
      kind: ChangeKind.CHANGE_KIND_ADD,
      objectType: ObjectType.OBJECT_TYPE_USER,
      objectId: 'u1',
      dn: 'uid=u1,dc=example',
      contentHash: Buffer.alloc(32, 0xab),
      disabled: true,
      attributes: [
        { name: '__proto__', values: ['x'], binary: false },
        { name: 'photo', values: ['AAEC'], binary: true },
      ],
      memberDns: ['cn=g'],
    } as Change;
    const stored = encodeStoredBatch([change]);
    expect(decodeSummaries(stored.summaries)).toEqual([
      [ChangeKind.CHANGE_KIND_ADD, ObjectType.OBJECT_TYPE_USER, 'u1', 'uid=u1,dc=example', 'ab'.repeat(32), 1],
    ]);
    const line = decodeStoredChange(storedLines(stored.changes)[0]!);
    const attributes = JSON.parse(line.attributesJson) as Record<string, string[]>;
    expect(Object.keys(attributes)).toEqual(['__proto__', 'photo']);
    expect(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value).toEqual(['x']);
    expect(attributes.photo).toEqual(['base64:AAEC']);
    expect(JSON.parse(line.memberDnsJson)).toEqual(['cn=g']);
  });
});
