import { readChangeBatchFrame } from './batch-frame';
import { encodedChangesOfFrame } from './encoded';
import { decodeFrame, encodeFrame, tryDecodeFrame } from './frame';
import { ChangeKind, DeleteCause, ObjectType, type Change, type ChangeBatch } from './messages';

/*
 * The fast path must never accept what decodeFrame refuses, nor read a value differently.
 * It may give up (null) on anything; on what our own encoder writes it must not.
 */

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = ['', 'a', 'Ada Lovelace', 'ünïcödé ✓', '😀 emoji', 'x'.repeat(200), 'tab\tand\nnewline', '\u0000nul'];

function randomChange(rnd: () => number, i: number): Change {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const kind = pick([
    ChangeKind.CHANGE_KIND_ADD,
    ChangeKind.CHANGE_KIND_MODIFY,
    ChangeKind.CHANGE_KIND_DELETE,
    ChangeKind.CHANGE_KIND_PRESENT,
  ]);
  const isDelete = kind === ChangeKind.CHANGE_KIND_DELETE;
  const attributes = Array.from({ length: isDelete ? 0 : Math.floor(rnd() * 6) }, (_, j) => ({
    name: `${pick(['cn', 'mail', 'ü-name', 'jpegPhoto'])}${j}`,
    values: Array.from({ length: Math.floor(rnd() * 4) }, () => pick(TEXTS)),
    binary: rnd() < 0.2,
  }));
  return {
    kind,
    objectType: pick([ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP]),
    objectId: `id-${i}-${pick(TEXTS.slice(1))}`,
    dn: isDelete && rnd() < 0.5 ? '' : `cn=${pick(TEXTS.slice(1))},dc=example`,
    attributes,
    contentHash: isDelete ? new Uint8Array(0) : Uint8Array.from({ length: 32 }, () => Math.floor(rnd() * 256)),
    disabled: rnd() < 0.3,
    memberDns: Array.from({ length: Math.floor(rnd() * 3) }, () => `cn=${pick(TEXTS)}`),
    ...(isDelete && rnd() < 0.7 ? { deleteCause: pick([0, 1, 2, 3] as DeleteCause[]) } : {}),
    ...(isDelete && rnd() < 0.4 ? { newDn: `cn=${pick(TEXTS.slice(1))},ou=elsewhere` } : {}),
  };
}

function randomFrame(rnd: () => number): Buffer {
  const changes = Array.from({ length: 1 + Math.floor(rnd() * 8) }, (_, i) => randomChange(rnd, i));
  return Buffer.from(
    encodeFrame(
      {
        type: 'changeBatch',
        value: { configurationId: 'cfg-1', cycleId: 'cycle-ü', sequence: 1 + Math.floor(rnd() * 1000), changes },
      },
      { messageId: Math.floor(rnd() * 1e6) },
    ),
  );
}

/** The fast path's reading must be decodeFrame's, field for field. Returns whether it read the frame. */
function expectSameReading(frame: Buffer): boolean {
  const fast = readChangeBatchFrame(frame);
  if (fast === null) return false;
  const slow = tryDecodeFrame(frame);
  if (!slow.ok)
    throw new Error(`the fast path accepted a frame decodeFrame refuses (${slow.error.message}): ${frame.toString('hex')}`);
  expect(slow.frame.body.type).toBe('changeBatch');
  const batch = slow.frame.body.value as ChangeBatch;
  expect({
    protocolVersion: fast.protocolVersion,
    messageId: fast.messageId,
    configurationId: fast.configurationId,
    cycleId: fast.cycleId,
    sequence: fast.sequence,
  }).toEqual({
    protocolVersion: slow.frame.protocolVersion,
    messageId: slow.frame.messageId,
    configurationId: batch.configurationId,
    cycleId: batch.cycleId,
    sequence: batch.sequence,
  });
  expect(fast.changes).toEqual(
    batch.changes.map((c) => ({
      kind: c.kind,
      objectType: c.objectType,
      objectId: c.objectId,
      dn: c.dn,
      contentHash: c.contentHash,
      disabled: c.disabled,
      deleteCause: c.deleteCause,
      newDn: c.newDn,
    })),
  );
  expect(fast.encoded.map((b) => Buffer.from(b).toString('hex'))).toEqual(
    encodedChangesOfFrame(frame).map((b) => Buffer.from(b).toString('hex')),
  );
  return true;
}

describe('the ChangeBatch fast path', () => {
  it('reads what our encoder writes, exactly as decodeFrame does', () => {
    const rnd = prng(1);
    for (let i = 0; i < 300; i++) {
      const frame = randomFrame(rnd);
      expect(readChangeBatchFrame(frame)).not.toBeNull();
      expectSameReading(frame);
    }
  });

  it('never accepts a mutated frame that decodeFrame refuses, nor reads one differently', () => {
    const rnd = prng(2);
    let refusedBySlow = 0;
    let readByFast = 0;
    for (let i = 0; i < 3000; i++) {
      const frame = randomFrame(rnd);
      const mutated = Buffer.from(frame);
      const what = rnd();
      if (what < 0.5) {
        // Flip a few bytes.
        for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) mutated[Math.floor(rnd() * mutated.length)] = Math.floor(rnd() * 256);
        if (expectSameReading(mutated)) readByFast++;
      } else if (what < 0.75) {
        expectSameReading(mutated.subarray(0, Math.floor(rnd() * mutated.length)));
      } else {
        const at = Math.floor(rnd() * mutated.length);
        expectSameReading(Buffer.concat([mutated.subarray(0, at), Buffer.from([Math.floor(rnd() * 256)]), mutated.subarray(at)]));
      }
      if (!tryDecodeFrame(mutated).ok) refusedBySlow++;
    }
    // The mutations reach both sides: frames decodeFrame refuses, and changed frames the fast path reads.
    expect(refusedBySlow).toBeGreaterThan(300);
    expect(readByFast).toBeGreaterThan(100);
  });

  it('gives up on what decodeFrame takes in another shape, and on what it refuses', () => {
    const base = randomFrame(prng(3));
    // Invalid UTF-8 in an attribute value: decodeFrame refuses it.
    const badUtf8 = Buffer.from(
      encodeFrame({
        type: 'changeBatch',
        value: {
          configurationId: 'c',
          cycleId: 'x',
          sequence: 1,
          changes: [
            {
              kind: ChangeKind.CHANGE_KIND_ADD,
              objectType: 1,
              objectId: 'o',
              dn: 'cn=o',
              contentHash: new Uint8Array(32),
              attributes: [{ name: 'cn', values: ['AB'], binary: false }],
            },
          ],
        },
      }),
    );
    const at = badUtf8.indexOf(Buffer.from('AB'));
    badUtf8[at] = 0xc3;
    badUtf8[at + 1] = 0x28; // not a continuation byte
    expect(tryDecodeFrame(badUtf8).ok).toBe(false);
    expect(readChangeBatchFrame(badUtf8)).toBeNull();
    // An unknown envelope field: decodeFrame skips it; the fast path leaves it to decodeFrame.
    const unknown = Buffer.concat([base, Buffer.from([0xf8, 0x07, 0x01])]);
    expect(tryDecodeFrame(unknown).ok).toBe(true);
    expect(readChangeBatchFrame(unknown)).toBeNull();
    // Another message type, and a batch of a version not spoken.
    expect(readChangeBatchFrame(Buffer.from(encodeFrame({ type: 'heartbeat', value: { sentAtUnixMs: 1 } })))).toBeNull();
    expect(readChangeBatchFrame(base, { versions: [2] })).toBeNull();
    expect(readChangeBatchFrame(base, { maxFrameBytes: 10 })).toBeNull();
    expect(decodeFrame(base).body.type).toBe('changeBatch');
  });
});
