import { isUtf8 } from 'node:buffer';
import { DEFAULT_LIMITS, CONTENT_HASH_BYTES } from './limits';
import { ChangeKind, DeleteCause, ObjectType } from './messages';
import { SUPPORTED_PROTOCOL_VERSIONS } from './version';
import type { DecodeOptions } from './frame';

/*
 * A fast path for the receiver of ChangeBatch frames that keeps the changes as encoded
 * (the controller): it checks a frame as decodeFrame would and reads only what such a
 * receiver needs of each change (kind, type, id, DN, hash, disabled flag), without
 * building JavaScript strings for the attributes. It takes only the encoding protobufjs
 * itself writes: known fields with their wire types, singular fields at most once. For
 * anything else, or anything decodeFrame would refuse, it answers null, and the caller
 * decodes the frame with decodeFrame, which then accepts it or names the error. A test
 * compares the two on generated and mutated frames.
 */

/** What the fast path reads of a change. */
export interface ChangeHeader {
  kind: ChangeKind;
  objectType: ObjectType;
  objectId: string;
  dn: string;
  contentHash: Uint8Array;
  disabled: boolean;
  /** DELETE: why the object left; absent when unknown (or a value this version does not know), as decodeFrame reads it. */
  deleteCause?: DeleteCause;
  /** DELETE moved out of scope: the DN it has now; absent when not known. */
  newDn?: string;
}

export interface ChangeBatchFrame {
  protocolVersion: number;
  messageId: number;
  configurationId: string;
  cycleId: string;
  sequence: number;
  changes: ChangeHeader[];
  /** Each change as encoded, a view into the frame. */
  encoded: Uint8Array[];
}

/** Thrown inside the walk: not for the fast path (the caller falls back to decodeFrame). */
class NotFast extends Error {}
const notFast = (): never => {
  throw new NotFast();
};

const KINDS = new Set<number>([
  ChangeKind.CHANGE_KIND_ADD,
  ChangeKind.CHANGE_KIND_MODIFY,
  ChangeKind.CHANGE_KIND_DELETE,
  ChangeKind.CHANGE_KIND_PRESENT,
]);
const TYPES = new Set<number>([ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP]);
const CAUSES = new Set<number>(Object.values(DeleteCause).filter((v): v is number => typeof v === 'number'));

class Walk {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint of at most 7 bytes (below 2^49): larger ones are not for the fast path. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) notFast();
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    return notFast();
  }

  /** The bounds of a length-delimited field's content. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) notFast();
    this.pos = end;
    return [start, end];
  }

  /** A string field: valid UTF-8 (as protobufjs's strict read demands). */
  string(): string {
    const [start, end] = this.span();
    checkUtf8(this.buf, start, end);
    return this.buf.toString('utf8', start, end);
  }

  /** A string field that is only checked, never read. Returns its byte length. */
  checkString(): number {
    const [start, end] = this.span();
    checkUtf8(this.buf, start, end);
    return end - start;
  }
}

function checkUtf8(buf: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      if (!isUtf8(buf.subarray(start, end))) notFast();
      return;
    }
  }
}

/**
 * Reads a ChangeBatch frame by the fast path, or answers null (then use decodeFrame). Only
 * a frame that decodeFrame accepts, with the same values, comes back.
 */
export function readChangeBatchFrame(data: Uint8Array, options: DecodeOptions = {}): ChangeBatchFrame | null {
  const max = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  if (data.length === 0 || data.length > max) return null;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  try {
    return walkEnvelope(buf, options.versions ?? SUPPORTED_PROTOCOL_VERSIONS);
  } catch (error) {
    if (error instanceof NotFast) return null;
    throw error;
  }
}

function walkEnvelope(buf: Buffer, versions: readonly number[]): ChangeBatchFrame | null {
  const w = new Walk(buf, 0, buf.length);
  let version: number | undefined;
  let messageId: number | undefined;
  let batch: [number, number] | undefined;
  while (w.pos < w.end) {
    const tag = w.varint();
    if (tag === 0x08 && version === undefined) version = w.varint();
    else if (tag === 0x10 && messageId === undefined) messageId = w.varint();
    else if (tag === 0x72 && batch === undefined) batch = w.span();
    else return null;
  }
  if (batch === undefined || !versions.includes(version ?? 0) || (version ?? 0) > 0xffffffff) return null;
  const b = new Walk(buf, batch[0], batch[1]);
  let configurationId: string | undefined;
  let cycleId: string | undefined;
  let sequence: number | undefined;
  const changes: ChangeHeader[] = [];
  const encoded: Uint8Array[] = [];
  while (b.pos < b.end) {
    const tag = b.varint();
    if (tag === 0x0a && configurationId === undefined) configurationId = b.string();
    else if (tag === 0x12 && cycleId === undefined) cycleId = b.string();
    else if (tag === 0x18 && sequence === undefined) sequence = b.varint();
    else if (tag === 0x22) {
      const [start, end] = b.span();
      changes.push(walkChange(buf, start, end));
      encoded.push(buf.subarray(start, end));
    } else return null;
  }
  if (!configurationId || !cycleId || !sequence || changes.length === 0) return null;
  return { protocolVersion: version ?? 0, messageId: messageId ?? 0, configurationId, cycleId, sequence, changes, encoded };
}

function walkChange(buf: Buffer, start: number, end: number): ChangeHeader {
  const w = new Walk(buf, start, end);
  let kind: number | undefined;
  let objectType: number | undefined;
  let objectId: string | undefined;
  let dn: string | undefined;
  let hash: Uint8Array | undefined;
  let disabled: boolean | undefined;
  let cause: number | undefined;
  let newDn: string | undefined;
  while (w.pos < w.end) {
    const tag = w.varint();
    if (tag === 0x08 && kind === undefined) kind = w.varint();
    else if (tag === 0x10 && objectType === undefined) objectType = w.varint();
    else if (tag === 0x1a && objectId === undefined) objectId = w.string();
    else if (tag === 0x22 && dn === undefined) dn = w.string();
    else if (tag === 0x2a) {
      const [s, e] = w.span();
      walkAttribute(buf, s, e);
    } else if (tag === 0x32 && hash === undefined) {
      const [s, e] = w.span();
      hash = buf.subarray(s, e);
    } else if (tag === 0x38 && disabled === undefined) {
      const v = w.varint();
      if (v > 1) notFast();
      disabled = v === 1;
    } else if (tag === 0x42) w.checkString();
    else if (tag === 0x48 && cause === undefined) {
      // An int32 enum: larger varints are truncated by protobufjs; leave those to it.
      cause = w.varint();
      if (cause > 0x7fffffff) notFast();
    } else if (tag === 0x52 && newDn === undefined) newDn = w.string();
    else notFast();
  }
  if (kind === undefined || !KINDS.has(kind) || objectType === undefined || !TYPES.has(objectType)) notFast();
  const isDelete = kind === ChangeKind.CHANGE_KIND_DELETE;
  const contentHash = hash ?? new Uint8Array(0);
  if (!objectId || (!isDelete && !dn) || (!isDelete && contentHash.length !== CONTENT_HASH_BYTES)) notFast();
  const header: ChangeHeader = {
    kind: kind as ChangeKind,
    objectType: objectType as ObjectType,
    objectId: objectId!,
    dn: dn ?? '',
    contentHash,
    disabled: disabled ?? false,
  };
  if (cause !== undefined && cause !== DeleteCause.DELETE_CAUSE_UNSPECIFIED && CAUSES.has(cause)) header.deleteCause = cause;
  if (newDn) header.newDn = newDn;
  return header;
}

function walkAttribute(buf: Buffer, start: number, end: number): void {
  const w = new Walk(buf, start, end);
  let name = -1;
  let binarySeen = false;
  while (w.pos < w.end) {
    const tag = w.varint();
    if (tag === 0x0a && name === -1) name = w.checkString();
    else if (tag === 0x12) w.checkString();
    else if (tag === 0x18 && !binarySeen) {
      if (w.varint() > 1) notFast();
      binarySeen = true;
    } else notFast();
  }
  if (name <= 0) notFast();
}
