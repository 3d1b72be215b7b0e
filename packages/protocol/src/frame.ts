import { syncguard } from './generated/syncguard';
import { ProtocolError } from './errors';
import { DEFAULT_LIMITS, CONTENT_HASH_BYTES } from './limits';
import { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from './version';
import {
  ChangeKind,
  CycleErrorCode,
  CycleMode,
  ChangeTracking,
  DeleteCause,
  ErrorCode,
  ObjectType,
  type AgentHello,
  type Attribute,
  type BatchAck,
  type Body,
  type BodyInput,
  type BodyMap,
  type BodyType,
  type CacheCursor,
  type Change,
  type ChangeBatch,
  type ControllerWelcome,
  type CycleAborted,
  type CycleComplete,
  type CycleCommitted,
  type CycleFailed,
  type DeepPartial,
  type Frame,
  type Heartbeat,
  type PreviewAck,
  type PreviewBatch,
  type PreviewComplete,
  type PreviewFailed,
  type PreviewObject,
  type Scope,
  type SourceStats,
  type StartCycle,
  type StartPreview,
  type WireError,
} from './messages';

/*
 * The only door to the generated code. Decoding untrusted bytes returns a fully
 * populated, validated Frame or throws a ProtocolError; nothing else escapes.
 * Encoding validates the same invariants, so a bug on our side is caught before the
 * peer sees it.
 */

const Envelope = syncguard.v1.Envelope;
const EMPTY_BYTES = new Uint8Array(0);

export interface DecodeOptions {
  /** Refuse frames larger than this many bytes. Default {@link DEFAULT_LIMITS}.maxFrameBytes. */
  maxFrameBytes?: number;
  /** Protocol versions to accept. Default: every version this build speaks. */
  versions?: readonly number[];
}

export interface EncodeOptions {
  /** Version stamped on the envelope. Default {@link PROTOCOL_VERSION}. */
  protocolVersion?: number;
  /** Envelope message id. Default 0 (unset); {@link FrameEncoder} numbers frames for you. */
  messageId?: number;
  /** Refuse to produce a frame larger than this. Default {@link DEFAULT_LIMITS}.maxFrameBytes. */
  maxFrameBytes?: number;
}

/** Decodes one WebSocket message. Throws only {@link ProtocolError}. */
export function decodeFrame(data: unknown, options: DecodeOptions = {}): Frame {
  const bytes = toBytes(data);
  if (bytes.length === 0) throw new ProtocolError('PROTO_ERR_EMPTY_FRAME', 'empty frame');
  const max = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  if (bytes.length > max) {
    throw new ProtocolError('PROTO_ERR_FRAME_TOO_LARGE', `frame of ${bytes.length} bytes exceeds the limit of ${max} bytes`);
  }
  let envelope: syncguard.v1.Envelope;
  try {
    envelope = Envelope.decode(bytes);
  } catch (cause) {
    throw new ProtocolError('PROTO_ERR_MALFORMED_FRAME', `not a syncguard envelope: ${describe(cause)}`, { cause });
  }
  try {
    const version = envelope.protocolVersion ?? 0;
    const versions = options.versions ?? SUPPORTED_PROTOCOL_VERSIONS;
    if (!versions.includes(version)) {
      throw new ProtocolError(
        'PROTO_ERR_UNSUPPORTED_VERSION',
        `protocol version ${version} is not supported (supported: ${versions.join(', ')})`,
      );
    }
    const type = envelope.body as BodyType | undefined;
    const raw = type === undefined ? undefined : (envelope as unknown as Record<string, unknown>)[type];
    if (type === undefined || !(type in NORMALIZERS) || raw == null) {
      throw new ProtocolError('PROTO_ERR_NO_BODY', 'envelope carries no message');
    }
    const value = NORMALIZERS[type](raw as never, type);
    return { protocolVersion: version, messageId: toNumber(envelope.messageId ?? 0), body: { type, value } as Body };
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError('PROTO_ERR_MALFORMED_FRAME', `not a syncguard envelope: ${describe(error)}`, { cause: error });
  }
}

/** Like {@link decodeFrame}, but returns the error instead of throwing it. */
export function tryDecodeFrame(
  data: unknown,
  options?: DecodeOptions,
): { ok: true; frame: Frame } | { ok: false; error: ProtocolError } {
  try {
    return { ok: true, frame: decodeFrame(data, options) };
  } catch (error) {
    return { ok: false, error: error as ProtocolError };
  }
}

/**
 * Encodes one message into a frame. Fields left out take their defaults. Throws
 * {@link ProtocolError} `PROTO_ERR_INVALID_MESSAGE` when the message breaks an
 * invariant and `PROTO_ERR_FRAME_TOO_LARGE` when the frame would exceed the limit.
 */
export function encodeFrame(body: BodyInput, options: EncodeOptions = {}): Uint8Array {
  const normalize = NORMALIZERS[body.type] as ((v: unknown, path: string) => unknown) | undefined;
  if (normalize === undefined) throw new ProtocolError('PROTO_ERR_INVALID_MESSAGE', `unknown message type ${String(body.type)}`);
  let value: unknown;
  if (body.type === 'changeBatch') {
    // The bulk of the traffic: checked where it is, without a normalised copy of every
    // change and attribute (only the encoded bytes come out of here).
    checkChangeBatch(body.value ?? {}, body.type);
    value = body.value ?? {};
  } else {
    value = normalize(body.value ?? {}, body.type);
  }
  const protocolVersion = options.protocolVersion ?? PROTOCOL_VERSION;
  const bytes = Envelope.encode({
    protocolVersion,
    messageId: options.messageId ?? 0,
    [body.type]: value,
  } as syncguard.v1.Envelope.$Properties).finish();
  const max = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  if (bytes.length > max) {
    throw new ProtocolError(
      'PROTO_ERR_FRAME_TOO_LARGE',
      `${body.type} frame of ${bytes.length} bytes exceeds the limit of ${max} bytes`,
    );
  }
  return bytes;
}

/** Encodes frames for one connection, numbering them 1, 2, 3, ... */
export class FrameEncoder {
  private nextId = 1;
  protocolVersion: number;
  maxFrameBytes: number;

  constructor(options: { protocolVersion?: number; maxFrameBytes?: number } = {}) {
    this.protocolVersion = options.protocolVersion ?? PROTOCOL_VERSION;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  }

  encode(body: BodyInput): Uint8Array {
    const bytes = encodeFrame(body, {
      protocolVersion: this.protocolVersion,
      messageId: this.nextId,
      maxFrameBytes: this.maxFrameBytes,
    });
    this.nextId += 1;
    return bytes;
  }
}

/**
 * Bytes one change adds to an encoded ChangeBatch (field tag, length and body), for
 * packing batches under `maxFrameBytes` without encoding them twice.
 */
export function encodedChangeSize(change: DeepPartial<Change>): number {
  const len = syncguard.v1.Change.encode(change as syncguard.v1.Change.$Properties).len;
  return 1 + varintSize(len) + len;
}

/** Bytes a ChangeBatch's envelope takes besides its changes (ids, sequence, tags). */
export function batchOverheadBytes(batch: { configurationId: string; cycleId: string }): number {
  return 64 + Buffer.byteLength(batch.configurationId) + Buffer.byteLength(batch.cycleId);
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size += 1;
  }
  return size;
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data) && data.every((part) => part instanceof Uint8Array)) return Buffer.concat(data as Uint8Array[]);
  throw new ProtocolError(
    'PROTO_ERR_NOT_BINARY',
    `expected a binary frame, got ${typeof data === 'string' ? 'text' : typeof data}`,
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------
// Normalisers: read a decoded message (fields may sit on the prototype as defaults)
// or a partial input, check the invariants documented in the .proto, and return a
// fully populated plain object.

type Raw = Record<string, unknown> | null | undefined;
/** Where a value sits, for error messages; a thunk so that valid input never pays for the string. */
type Path = string | (() => string);
const at = (path: Path): string => (typeof path === 'string' ? path : path());

function invalid(path: Path, what: string): never {
  throw new ProtocolError('PROTO_ERR_INVALID_MESSAGE', `${at(path)}: ${what}`);
}

function str(raw: Raw, key: string, path: Path, required = false): string {
  const v = raw?.[key] ?? '';
  if (typeof v !== 'string') invalid(`${at(path)}.${key}`, 'must be a string');
  if (required && v.length === 0) invalid(`${at(path)}.${key}`, 'must not be empty');
  return v;
}

function num(raw: Raw, key: string, path: Path, min = 0): number {
  const n = toNumber(raw?.[key] ?? 0);
  if (!Number.isSafeInteger(n) || n < min) invalid(`${at(path)}.${key}`, `must be a whole number >= ${min}`);
  return n;
}

function bool(raw: Raw, key: string, path: Path): boolean {
  const v = raw?.[key] ?? false;
  if (typeof v !== 'boolean') invalid(`${at(path)}.${key}`, 'must be a boolean');
  return v;
}

function list<T>(raw: Raw, key: string, path: Path, item: (v: unknown, path: Path) => T, nonEmpty = false): T[] {
  const v = raw?.[key] ?? [];
  if (!Array.isArray(v)) invalid(`${at(path)}.${key}`, 'must be a list');
  if (nonEmpty && v.length === 0) invalid(`${at(path)}.${key}`, 'must not be empty');
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = item(v[i], () => `${at(path)}.${key}[${i}]`);
  return out;
}

/** A list of strings, checked; the array itself is returned (nothing is copied). */
function strings(raw: Raw, key: string, path: Path): string[] {
  const v = raw?.[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid(`${at(path)}.${key}`, 'must be a list');
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') invalid(`${at(path)}.${key}[${i}]`, 'must be a string');
  }
  // protobufjs leaves a shared, frozen empty array on the prototype of a message without the field.
  return v.length === 0 ? [] : (v as string[]);
}

function obj(v: unknown, path: Path): Raw {
  if (v == null) return undefined;
  if (typeof v !== 'object') invalid(path, 'must be a message');
  return v as Raw;
}

function oneOf<E extends number>(raw: Raw, key: string, path: Path, allowed: readonly E[]): E {
  const v = raw?.[key] ?? 0;
  if (!allowed.includes(v as E)) invalid(`${at(path)}.${key}`, `must be one of ${allowed.join(', ')}, got ${String(v)}`);
  return v as E;
}

/** protobufjs reads 64-bit fields as Long when the `long` package is present. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    // Values above 2^53 - 1 are not safe JavaScript numbers: refuse them as invalid.
    if (high >>> 0 > 0x1fffff) return NaN;
    return (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
  }
  return NaN;
}

const itemUint = (v: unknown, path: Path): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) invalid(path, 'must be a whole number >= 0');
  return v;
};
const enumValues = (e: object): number[] => Object.values(e).filter((x): x is number => typeof x === 'number');
const MODES = [CycleMode.CYCLE_MODE_DELTA, CycleMode.CYCLE_MODE_FULL];
const ANY_MODE = enumValues(CycleMode) as CycleMode[];
const KNOWN_TRACKING = enumValues(ChangeTracking) as ChangeTracking[];
const KNOWN_CAUSES = enumValues(DeleteCause) as DeleteCause[];
const TYPES = [ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP];
const KINDS = [
  ChangeKind.CHANGE_KIND_ADD,
  ChangeKind.CHANGE_KIND_MODIFY,
  ChangeKind.CHANGE_KIND_DELETE,
  ChangeKind.CHANGE_KIND_PRESENT,
];
const CYCLE_ERRORS = enumValues(CycleErrorCode).filter((c) => c !== 0) as CycleErrorCode[];
const ABORT_REASONS = [1, 2, 3] as const;
const WIRE_ERRORS = enumValues(ErrorCode).filter((c) => c !== 0) as ErrorCode[];

function cursor(v: unknown, path: Path): CacheCursor {
  const r = obj(v, path);
  return {
    configurationId: str(r, 'configurationId', path, true),
    committedCycleId: str(r, 'committedCycleId', path),
    pendingCycleId: str(r, 'pendingCycleId', path),
    runningCycleId: str(r, 'runningCycleId', path),
  };
}

function attribute(v: unknown, path: Path): Attribute {
  const r = obj(v, path);
  return { name: str(r, 'name', path, true), values: strings(r, 'values', path), binary: bool(r, 'binary', path) };
}

/** A change's kind and content hash, checked together (only a DELETE may come without a hash). */
function kindAndHash(r: Raw, path: Path): { kind: ChangeKind; hash: Uint8Array; isDelete: boolean } {
  const kind = oneOf(r, 'kind', path, KINDS);
  const hash = r?.['contentHash'] ?? EMPTY_BYTES;
  if (!(hash instanceof Uint8Array)) invalid(`${at(path)}.contentHash`, 'must be bytes');
  const isDelete = kind === ChangeKind.CHANGE_KIND_DELETE;
  if (!isDelete && hash.length !== CONTENT_HASH_BYTES) {
    invalid(`${at(path)}.contentHash`, `must be ${CONTENT_HASH_BYTES} bytes, got ${hash.length}`);
  }
  return { kind, hash, isDelete };
}

function change(v: unknown, path: Path): Change {
  const r = obj(v, path);
  const { kind, hash, isDelete } = kindAndHash(r, path);
  const out: Change = {
    kind,
    objectType: oneOf(r, 'objectType', path, TYPES),
    objectId: str(r, 'objectId', path, true),
    dn: str(r, 'dn', path, !isDelete),
    attributes: list(r, 'attributes', path, attribute),
    contentHash: hash,
    disabled: bool(r, 'disabled', path),
    memberDns: strings(r, 'memberDns', path),
  };
  const cause = deleteCauseOf(r);
  if (cause !== DeleteCause.DELETE_CAUSE_UNSPECIFIED) out.deleteCause = cause;
  const newDn = str(r, 'newDn', path);
  if (newDn !== '') out.newDn = newDn;
  return out;
}

/** Informational: a value this version does not know (a newer agent's) reads as UNSPECIFIED (unknown). */
function deleteCauseOf(r: Raw): DeleteCause {
  const v = r?.['deleteCause'];
  return KNOWN_CAUSES.includes(v as DeleteCause) ? (v as DeleteCause) : DeleteCause.DELETE_CAUSE_UNSPECIFIED;
}

/**
 * Checks a ChangeBatch as the changeBatch normaliser does, throwing the same errors, but
 * builds nothing: for encoding, where the input itself is handed to protobufjs.
 */
function checkChangeBatch(v: unknown, path: Path): void {
  const r = obj(v, path);
  str(r, 'configurationId', path, true);
  str(r, 'cycleId', path, true);
  num(r, 'sequence', path, 1);
  const changes = r?.['changes'] ?? [];
  if (!Array.isArray(changes)) invalid(`${at(path)}.changes`, 'must be a list');
  if (changes.length === 0) invalid(`${at(path)}.changes`, 'must not be empty');
  for (let i = 0; i < changes.length; i++) checkChange(changes[i], () => `${at(path)}.changes[${i}]`);
}

/** {@link change}'s checks, building nothing. */
function checkChange(v: unknown, path: Path): void {
  const r = obj(v, path);
  const { isDelete } = kindAndHash(r, path);
  oneOf(r, 'objectType', path, TYPES);
  str(r, 'objectId', path, true);
  str(r, 'dn', path, !isDelete);
  const attributes = r?.['attributes'] ?? [];
  if (!Array.isArray(attributes)) invalid(`${at(path)}.attributes`, 'must be a list');
  for (let i = 0; i < attributes.length; i++) {
    const ap: Path = () => `${at(path)}.attributes[${i}]`;
    const a = obj(attributes[i], ap);
    str(a, 'name', ap, true);
    strings(a, 'values', ap);
    bool(a, 'binary', ap);
  }
  bool(r, 'disabled', path);
  strings(r, 'memberDns', path);
  const cause = r?.['deleteCause'] ?? 0;
  if (typeof cause !== 'number' || !Number.isInteger(cause)) invalid(`${at(path)}.deleteCause`, 'must be a DeleteCause');
  str(r, 'newDn', path);
}

/** Checks one decoded Change (for {@link ./encoded}'s decodeChange). */
export const normalizeChange = (raw: unknown, path: string): Change => change(raw, path);

const NORMALIZERS: { [K in BodyType]: (raw: Raw, path: Path) => BodyMap[K] } = {
  agentHello: (r, p): AgentHello => ({
    agentId: str(r, 'agentId', p),
    softwareVersion: str(r, 'softwareVersion', p),
    protocolVersions: list(r, 'protocolVersions', p, itemUint, true),
    hostname: str(r, 'hostname', p),
    cursors: list(r, 'cursors', p, cursor),
    features: strings(r, 'features', p),
  }),
  controllerWelcome: (r, p): ControllerWelcome => ({
    protocolVersion: num(r, 'protocolVersion', p, 1),
    sessionId: str(r, 'sessionId', p),
    heartbeatIntervalMs: num(r, 'heartbeatIntervalMs', p, 1),
    maxFrameBytes: num(r, 'maxFrameBytes', p, 1),
    maxBatchChanges: num(r, 'maxBatchChanges', p, 1),
    maxInFlightBatches: num(r, 'maxInFlightBatches', p, 1),
    assignments: list(r, 'assignments', p, (v, path) => {
      const a = obj(v, path);
      return { configurationId: str(a, 'configurationId', path, true), active: bool(a, 'active', path) };
    }),
    agentId: str(r, 'agentId', p),
  }),
  heartbeat: (r, p): Heartbeat => ({ sentAtUnixMs: num(r, 'sentAtUnixMs', p) }),
  startCycle: (r, p): StartCycle => ({
    configurationId: str(r, 'configurationId', p, true),
    cycleId: str(r, 'cycleId', p, true),
    mode: oneOf(r, 'mode', p, MODES),
    scope: scopeOf(r, p),
    baseCycleId: str(r, 'baseCycleId', p),
  }),
  changeBatch: (r, p): ChangeBatch => ({
    configurationId: str(r, 'configurationId', p, true),
    cycleId: str(r, 'cycleId', p, true),
    sequence: num(r, 'sequence', p, 1),
    changes: list(r, 'changes', p, change, true),
  }),
  batchAck: (r, p): BatchAck => ({
    configurationId: str(r, 'configurationId', p, true),
    cycleId: str(r, 'cycleId', p, true),
    ackedThroughSequence: num(r, 'ackedThroughSequence', p, 1),
  }),
  cycleComplete: (r, p): CycleComplete => {
    const t = obj(r?.['totals'], `${at(p)}.totals`);
    const s = obj(r?.['source'], `${at(p)}.source`);
    const tp = `${at(p)}.totals`;
    const sp = `${at(p)}.source`;
    return {
      configurationId: str(r, 'configurationId', p, true),
      cycleId: str(r, 'cycleId', p, true),
      lastSequence: num(r, 'lastSequence', p),
      totals: {
        adds: num(t, 'adds', tp),
        modifies: num(t, 'modifies', tp),
        deletes: num(t, 'deletes', tp),
        presents: num(t, 'presents', tp),
      },
      source: sourceStats(s, sp),
      mode: oneOf(r, 'mode', p, ANY_MODE),
      // Informational: a value this version does not know (a newer agent's) reads as UNSPECIFIED.
      changeTracking: KNOWN_TRACKING.includes(r?.['changeTracking'] as ChangeTracking)
        ? (r?.['changeTracking'] as ChangeTracking)
        : ChangeTracking.CHANGE_TRACKING_UNSPECIFIED,
      consistencyRead: bool(r, 'consistencyRead', p),
      drift: num(r, 'drift', p),
    };
  },
  cycleFailed: (r, p): CycleFailed => ({
    configurationId: str(r, 'configurationId', p, true),
    cycleId: str(r, 'cycleId', p, true),
    code: oneOf(r, 'code', p, CYCLE_ERRORS),
    message: str(r, 'message', p),
    ldapResultCode: num(r, 'ldapResultCode', p),
  }),
  cycleCommitted: (r, p): CycleCommitted => ({
    configurationId: str(r, 'configurationId', p, true),
    cycleId: str(r, 'cycleId', p, true),
  }),
  cycleAborted: (r, p): CycleAborted => ({
    configurationId: str(r, 'configurationId', p, true),
    cycleId: str(r, 'cycleId', p, true),
    reason: oneOf(r, 'reason', p, ABORT_REASONS),
    message: str(r, 'message', p),
  }),
  error: (r, p): WireError => ({
    code: oneOf(r, 'code', p, WIRE_ERRORS),
    message: str(r, 'message', p),
    fatal: bool(r, 'fatal', p),
    cycleId: str(r, 'cycleId', p),
  }),
  startPreview: (r, p): StartPreview => ({
    configurationId: str(r, 'configurationId', p, true),
    previewId: str(r, 'previewId', p, true),
    scope: scopeOf(r, p),
  }),
  previewBatch: (r, p): PreviewBatch => ({
    configurationId: str(r, 'configurationId', p, true),
    previewId: str(r, 'previewId', p, true),
    sequence: num(r, 'sequence', p, 1),
    objects: list(r, 'objects', p, previewObject, true),
  }),
  previewAck: (r, p): PreviewAck => ({
    configurationId: str(r, 'configurationId', p, true),
    previewId: str(r, 'previewId', p, true),
    ackedThroughSequence: num(r, 'ackedThroughSequence', p),
    stop: bool(r, 'stop', p),
  }),
  previewComplete: (r, p): PreviewComplete => ({
    configurationId: str(r, 'configurationId', p, true),
    previewId: str(r, 'previewId', p, true),
    lastSequence: num(r, 'lastSequence', p),
    objects: num(r, 'objects', p),
    source: sourceStats(obj(r?.['source'], `${at(p)}.source`), `${at(p)}.source`),
  }),
  previewFailed: (r, p): PreviewFailed => ({
    configurationId: str(r, 'configurationId', p, true),
    previewId: str(r, 'previewId', p, true),
    code: oneOf(r, 'code', p, CYCLE_ERRORS),
    message: str(r, 'message', p),
    ldapResultCode: num(r, 'ldapResultCode', p),
  }),
};

/** A StartCycle's or StartPreview's scope (required). */
function scopeOf(r: Raw, p: Path): Scope {
  const sp = `${at(p)}.scope`;
  const scope = obj(r?.['scope'], sp);
  if (scope === undefined) invalid(sp, 'is required');
  return {
    baseDn: str(scope, 'baseDn', sp, true),
    filter: str(scope, 'filter', sp),
    objectTypes: list(scope, 'objectTypes', sp, (v, path) => oneOf({ v }, 'v', path, TYPES), true),
    attributes: strings(scope, 'attributes', sp),
    disabledAttribute: str(scope, 'disabledAttribute', sp),
  };
}

function sourceStats(s: Raw, sp: string): SourceStats {
  return {
    entriesRead: num(s, 'entriesRead', sp),
    pages: num(s, 'pages', sp),
    readDurationMs: num(s, 'readDurationMs', sp),
    serverUrl: str(s, 'serverUrl', sp),
  };
}

function previewObject(v: unknown, path: Path): PreviewObject {
  const r = obj(v, path);
  const hash = r?.['contentHash'] ?? EMPTY_BYTES;
  if (!(hash instanceof Uint8Array) || hash.length !== CONTENT_HASH_BYTES) {
    invalid(`${at(path)}.contentHash`, `must be ${CONTENT_HASH_BYTES} bytes`);
  }
  return {
    objectId: str(r, 'objectId', path, true),
    objectType: oneOf(r, 'objectType', path, TYPES),
    dn: str(r, 'dn', path, true),
    contentHash: hash,
    disabled: bool(r, 'disabled', path),
  };
}
