import { ChangeKind, ObjectType, decodeChange, encodeChangeBatch, encodedChangesOfBatch, type Change } from '@syncguard/protocol';
import { readVarint, varintSize, writeVarint } from '../store/varint';
import { attributesObject } from '../targets/target';
import { StoredBatch, decodeSummaries, encodeStoredBatch } from './stored-batch';

const change = (id: string, extra: Partial<Change> = {}): Change => ({
  kind: ChangeKind.CHANGE_KIND_ADD,
  objectType: ObjectType.OBJECT_TYPE_USER,
  objectId: id,
  dn: `uid=${id},dc=example`,
  contentHash: Buffer.alloc(32, 0xab),
  disabled: true,
  attributes: [
    { name: '__proto__', values: ['x'], binary: false },
    { name: 'photo', values: ['AAEC'], binary: true },
  ],
  memberDns: ['cn=g'],
  ...extra,
});

function encoded(changes: Change[]): Uint8Array[] {
  return encodedChangesOfBatch(encodeChangeBatch({ configurationId: 'c', cycleId: 'c', sequence: 1, changes }));
}

describe('stored batches', () => {
  it('keep each change as encoded, with its summary, and read them back by position', () => {
    // Big enough for multi-byte lengths.
    const changes = [change('u1'), change('u2', { memberDns: Array.from({ length: 300 }, (_, i) => `cn=m${i}`) })];
    const stored = encodeStoredBatch(changes, encoded(changes), 1);
    expect(stored.changes[0]).toBe(0x00);
    expect(decodeSummaries(stored.summaries)).toEqual([
      [ChangeKind.CHANGE_KIND_ADD, ObjectType.OBJECT_TYPE_USER, 'u1', 'uid=u1,dc=example', 'ab'.repeat(32), 1],
      [ChangeKind.CHANGE_KIND_ADD, ObjectType.OBJECT_TYPE_USER, 'u2', 'uid=u2,dc=example', 'ab'.repeat(32), 1],
    ]);
    const batch = StoredBatch.decode(stored.changes, stored.summaries);
    expect(batch.size).toBe(2);
    changes.forEach((c, i) => {
      const read = batch.change(i)!;
      expect(read.header[2]).toBe(c.objectId);
      expect(read.encoded?.protocolVersion).toBe(1);
      expect(decodeChange(read.encoded!.change)).toEqual(c);
    });
    expect(batch.change(2)).toBeUndefined();
    expect(batch.change(-1)).toBeUndefined();
  });

  it('refuse encoded changes that do not match the batch, and a binary batch without summaries', () => {
    const changes = [change('u1'), change('u2')];
    expect(() => encodeStoredBatch(changes, encoded(changes.slice(1)), 1)).toThrow(/1 encoded changes for a batch of 2/);
    expect(() => encodeStoredBatch(changes, encoded(changes), 256)).toThrow(/does not fit/);
    const stored = encodeStoredBatch(changes, encoded(changes), 1);
    expect(() => StoredBatch.decode(stored.changes, null)).toThrow(/without its summaries/);
    expect(() => StoredBatch.decode(stored.changes, '[]')).toThrow(/2 changes with 0 summaries/);
  });

  it('refuse a batch in any other format (the text batches of unreleased earlier builds included)', () => {
    const header = [ChangeKind.CHANGE_KIND_ADD, ObjectType.OBJECT_TYPE_USER, 'u1', 'uid=u1,dc=example', 'ab'.repeat(32), 1];
    const text = `${JSON.stringify(header)}\t{"cn":["u1"]}\t[]`;
    expect(() => StoredBatch.decode(Buffer.from(text), null)).toThrow(/format this build does not read/);
    expect(() => StoredBatch.decode(Buffer.alloc(0), null)).toThrow(/format this build does not read/);
  });
});

describe('target attributes', () => {
  it('keep an attribute named __proto__ and mark binary values', () => {
    const attributes = attributesObject(change('u1').attributes);
    expect(Object.keys(attributes)).toEqual(['__proto__', 'photo']);
    expect(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value).toEqual(['x']);
    expect(attributes.photo).toEqual(['base64:AAEC']);
  });
});

describe('varints', () => {
  it('round-trip whole numbers up to 2^53 - 1 in the bytes protobuf uses', () => {
    for (const n of [0, 1, 127, 128, 300, 2 ** 32, Date.now(), Number.MAX_SAFE_INTEGER]) {
      const out = new Uint8Array(10);
      const end = writeVarint(out, 1, n);
      expect(end - 1).toBe(varintSize(n));
      expect(readVarint(out, 1)).toEqual({ value: n, next: end });
    }
    expect(Array.from(out300())).toEqual([0xac, 0x02]); // protobuf's own example
    expect(() => readVarint(Uint8Array.from([0x80, 0x80]), 0)).toThrow(/malformed varint/);
  });
});

function out300(): Uint8Array {
  const out = new Uint8Array(2);
  writeVarint(out, 0, 300);
  return out;
}
