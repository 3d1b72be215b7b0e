import { decodeChange, encodeChangeBatch, encodedChangesOfBatch, encodedChangesOfFrame } from './encoded';
import { ProtocolError } from './errors';
import { decodeFrame, encodeFrame } from './frame';
import { ChangeKind, ObjectType, type Change, type ChangeBatch } from './messages';

const hash = (fill: number) => new Uint8Array(32).fill(fill);

function changes(n: number, from = 0): Change[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: i % 3 === 2 ? ChangeKind.CHANGE_KIND_DELETE : ChangeKind.CHANGE_KIND_ADD,
    objectType: i % 2 === 0 ? ObjectType.OBJECT_TYPE_USER : ObjectType.OBJECT_TYPE_GROUP,
    objectId: `id-${from + i}`,
    dn: `cn=u${from + i},dc=example,dc=com`,
    attributes:
      i % 3 === 2
        ? []
        : [
            { name: 'cn', values: [`u${from + i}`], binary: false },
            { name: 'jpegPhoto', values: ['AAEC'], binary: true },
          ],
    contentHash: i % 3 === 2 ? new Uint8Array(0) : hash(i),
    disabled: i % 4 === 0,
    memberDns: i % 2 === 1 ? [`cn=u${i - 1},dc=example,dc=com`] : [],
  }));
}

function batchFrame(list: Change[], sequence = 1): Uint8Array {
  return encodeFrame({ type: 'changeBatch', value: { configurationId: 'cfg', cycleId: 'c-1', sequence, changes: list } });
}

describe('encoded changes', () => {
  it('are views into the frame, one per decoded change, each decoding to that change', () => {
    const frame = Buffer.from(batchFrame(changes(25)));
    const decoded = decodeFrame(frame).body.value as ChangeBatch;
    const encoded = encodedChangesOfFrame(frame);
    expect(encoded).toHaveLength(25);
    encoded.forEach((bytes, i) => {
      expect(bytes.buffer).toBe(frame.buffer); // a view, not a copy
      expect(decodeChange(bytes)).toEqual(decoded.changes[i]);
    });
  });

  it('follow protobuf merge rules as the decoder does (a body sent twice in one frame)', () => {
    // Two encoded envelopes back to back are one envelope whose ChangeBatch fields merge.
    const frame = Buffer.concat([batchFrame(changes(3)), batchFrame(changes(2, 100), 7)]);
    const decoded = decodeFrame(frame).body.value as ChangeBatch;
    expect(decoded.changes.map((c) => c.objectId)).toEqual(['id-0', 'id-1', 'id-2', 'id-100', 'id-101']);
    expect(encodedChangesOfFrame(frame).map((b) => decodeChange(b).objectId)).toEqual(decoded.changes.map((c) => c.objectId));
  });

  it('follow the oneof rule as the decoder does (another body between two batches drops the first)', () => {
    const heartbeat = encodeFrame({ type: 'heartbeat', value: { sentAtUnixMs: 1 } });
    const frame = Buffer.concat([batchFrame(changes(2)), heartbeat, batchFrame(changes(1, 100), 2)]);
    const decoded = decodeFrame(frame).body.value as ChangeBatch;
    expect(decoded.changes.map((c) => c.objectId)).toEqual(['id-100']);
    expect(encodedChangesOfFrame(frame).map((b) => decodeChange(b).objectId)).toEqual(['id-100']);
    // A body that is not a batch, last: decodeFrame says heartbeat; no changes either way.
    expect(decodeFrame(Buffer.concat([batchFrame(changes(2)), heartbeat])).body.type).toBe('heartbeat');
    expect(encodedChangesOfFrame(Buffer.concat([batchFrame(changes(2)), heartbeat]))).toEqual([]);
  });

  it('round-trip through a bare ChangeBatch', () => {
    const batch: ChangeBatch = { configurationId: 'cfg', cycleId: 'c-1', sequence: 4, changes: changes(7) };
    const encoded = encodedChangesOfBatch(encodeChangeBatch(batch));
    expect(encoded.map((b) => decodeChange(b))).toEqual(batch.changes);
  });

  it('refuse bytes that are not protobuf, and changes that break an invariant', () => {
    expect(() => encodedChangesOfFrame(Buffer.from([0x72, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(ProtocolError);
    expect(() => decodeChange(Buffer.from([0x1a, 0x05, 0x61]))).toThrow(ProtocolError);
    // A change without an object id is refused, as decodeFrame refuses it in a batch.
    const frame = batchFrame(changes(1));
    const [bytes] = encodedChangesOfFrame(frame);
    const noId = { ...decodeChange(bytes!), objectId: '' };
    const reencoded = encodeChangeBatch({ configurationId: 'c', cycleId: 'c', sequence: 1, changes: [noId] });
    expect(() => decodeChange(encodedChangesOfBatch(reencoded)[0]!)).toThrow(/objectId: must not be empty/);
  });
});
