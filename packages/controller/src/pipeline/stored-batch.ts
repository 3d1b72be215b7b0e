import {
  encodedChangesOfBatch,
  type ChangeHeader,
  type ChangeKind,
  type DeleteCause,
  type ObjectType,
} from '@syncguard/protocol';
import { varintSize, writeVarint } from '../store/varint';
import { STORED_CHANGE_VERSIONS } from '../targets/target';

/**
 * How a ChangeBatch's changes are kept in Redis while its cycle is staged. It is
 * written once when the batch arrives (already decoded and validated by the gateway),
 * as two fields of the cycle's batches hash:
 *
 * - `<seq>`: the changes as the agent encoded them (protobuf `Change` messages, the bytes
 *   of the frame they came in: nothing is decoded and encoded again). Byte 0 is 0x00 (a
 *   binary batch), byte 1 the protocol version of the frame, then the changes framed as
 *   the `changes` field of a ChangeBatch message. Apply hands each change's bytes to the
 *   target as they are; the cloud directory stores them so.
 * - `s<seq>`: the JSON array of the changes' {@link ChangeSummary} tuples, all that
 *   evaluation reads (and what apply takes ids, DNs and hashes from).
 */
export type ChangeSummary = [
  kind: ChangeKind,
  objectType: ObjectType,
  objectId: string,
  dn: string,
  /** Hex SHA-256; '' for DELETE. */
  hash: string,
  disabled: 0 | 1,
  /** DELETE only, left out when unknown: the agent's DeleteCause and the DN it found the object at. */
  deleteCause?: DeleteCause,
  newDn?: string,
];

/** One change as apply reads it back: its summary and the change as the agent encoded it. */
export interface StoredChange {
  header: ChangeSummary;
  encoded: { protocolVersion: number; change: Uint8Array };
}

/** Byte 0 of a stored batch: the format's version. */
const BINARY = 0x00;

/** The hash field of a batch's summaries. */
export function summaryField(sequence: number | string): string {
  return `s${sequence}`;
}

/** The summary tuple of a change. */
function summary(c: ChangeHeader): ChangeSummary {
  const s: ChangeSummary = [
    c.kind,
    c.objectType,
    c.objectId,
    c.dn,
    Buffer.from(c.contentHash.buffer, c.contentHash.byteOffset, c.contentHash.byteLength).toString('hex'),
    c.disabled ? 1 : 0,
  ];
  if (c.deleteCause !== undefined || c.newDn !== undefined) s.push(c.deleteCause ?? 0, c.newDn ?? '');
  return s;
}

/**
 * The two fields of a batch: `changes` are the decoded changes and `encoded` the same
 * changes as encoded on the wire (one entry per change, in the same order).
 */
export function encodeStoredBatch(
  changes: readonly ChangeHeader[],
  encoded: readonly Uint8Array[],
  protocolVersion: number,
): { changes: Buffer; summaries: string; objectIds: string[] } {
  if (encoded.length !== changes.length) throw new Error(`${encoded.length} encoded changes for a batch of ${changes.length}`);
  // What is stored must be read back (by this build, and the cloud directory keeps it too).
  if (!STORED_CHANGE_VERSIONS.includes(protocolVersion))
    throw new Error(`protocol version ${protocolVersion} does not fit the stored formats`);
  let size = 2;
  for (const e of encoded) size += 1 + varintSize(e.length) + e.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = BINARY;
  out[1] = protocolVersion;
  let at = 2;
  for (const e of encoded) {
    out[at++] = 0x22; // field 4 (changes), length-delimited
    at = writeVarint(out, at, e.length);
    out.set(e, at);
    at += e.length;
  }
  return { changes: out, summaries: JSON.stringify(changes.map(summary)), objectIds: changes.map((c) => c.objectId) };
}

export function decodeSummaries(text: string): ChangeSummary[] {
  return JSON.parse(text) as ChangeSummary[];
}

/** A stored batch as apply reads it: its changes by position. */
export class StoredBatch {
  private constructor(
    readonly size: number,
    private readonly at: (idx: number) => StoredChange,
  ) {}

  /** `changes` is field `<seq>` (as bytes), `summaries` field `s<seq>`. */
  static decode(changes: Buffer, summaries: string | null): StoredBatch {
    if (changes[0] !== BINARY) throw new Error('a stored batch in a format this build does not read');
    const protocolVersion = changes[1] ?? 0;
    if (!STORED_CHANGE_VERSIONS.includes(protocolVersion))
      throw new Error(`a stored batch of protocol version ${protocolVersion}, which this build does not read`);
    const encoded = encodedChangesOfBatch(changes.subarray(2));
    if (summaries === null) throw new Error('a stored batch without its summaries');
    const headers = decodeSummaries(summaries);
    if (headers.length !== encoded.length)
      throw new Error(`a stored batch of ${encoded.length} changes with ${headers.length} summaries`);
    return new StoredBatch(encoded.length, (idx) => ({
      header: headers[idx]!,
      encoded: { protocolVersion, change: encoded[idx]! },
    }));
  }

  /** The change at `idx`, or undefined past the end. */
  change(idx: number): StoredChange | undefined {
    return Number.isInteger(idx) && idx >= 0 && idx < this.size ? this.at(idx) : undefined;
  }
}
