import { randomBytes } from 'node:crypto';
import protobuf from 'protobufjs/minimal';
import {
  AbortReason,
  ChangeKind,
  ChangeTracking,
  CycleErrorCode,
  CycleMode,
  DeleteCause,
  ErrorCode,
  ObjectType,
  type BodyInput,
  type ChangeBatch,
} from './messages';
import { decodeFrame, encodeFrame, encodedChangeSize, FrameEncoder, tryDecodeFrame, batchOverheadBytes } from './frame';
import { ProtocolError } from './errors';
import { CloseCode } from './close-codes';

const hash = (fill: number) => new Uint8Array(32).fill(fill);

/** One fully populated sample of every message type. */
const SAMPLES: BodyInput[] = [
  {
    type: 'agentHello',
    value: {
      agentId: 'agent-1',
      softwareVersion: '0.1.0',
      protocolVersions: [1, 2],
      hostname: 'dc1.example.com',
      cursors: [{ configurationId: 'cfg-1', committedCycleId: 'c-9', pendingCycleId: 'c-10', runningCycleId: '' }],
      features: ['preview'],
    },
  },
  {
    type: 'controllerWelcome',
    value: {
      protocolVersion: 1,
      sessionId: 's-1',
      heartbeatIntervalMs: 15000,
      maxFrameBytes: 4194304,
      maxBatchChanges: 1000,
      maxInFlightBatches: 16,
      assignments: [
        { configurationId: 'cfg-1', active: true },
        { configurationId: 'cfg-2', active: false },
      ],
      agentId: 'agent-1',
    },
  },
  { type: 'heartbeat', value: { sentAtUnixMs: 1_795_000_000_123 } },
  {
    type: 'startCycle',
    value: {
      configurationId: 'cfg-1',
      cycleId: 'c-11',
      mode: CycleMode.CYCLE_MODE_FULL,
      scope: {
        baseDn: 'ou=people,dc=example,dc=com',
        filter: '(objectClass=inetOrgPerson)',
        objectTypes: [ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP],
        attributes: ['mail', 'cn'],
        disabledAttribute: 'pwdAccountLockedTime',
      },
      baseCycleId: 'c-10',
    },
  },
  {
    type: 'changeBatch',
    value: {
      configurationId: 'cfg-1',
      cycleId: 'c-11',
      sequence: 7,
      changes: [
        {
          kind: ChangeKind.CHANGE_KIND_ADD,
          objectType: ObjectType.OBJECT_TYPE_USER,
          objectId: '8c4a7e2e-0000-4000-8000-000000000001',
          dn: 'uid=ada,ou=people,dc=example,dc=com',
          attributes: [
            { name: 'cn', values: ['Ada Lovelace'], binary: false },
            { name: 'jpegPhoto', values: ['/9j/4AAQ'], binary: true },
          ],
          contentHash: hash(1),
          disabled: false,
          memberDns: [],
        },
        {
          kind: ChangeKind.CHANGE_KIND_MODIFY,
          objectType: ObjectType.OBJECT_TYPE_GROUP,
          objectId: '8c4a7e2e-0000-4000-8000-000000000002',
          dn: 'cn=staff,ou=groups,dc=example,dc=com',
          attributes: [{ name: 'cn', values: ['staff'], binary: false }],
          contentHash: hash(2),
          disabled: false,
          memberDns: ['uid=ada,ou=people,dc=example,dc=com'],
        },
        {
          kind: ChangeKind.CHANGE_KIND_DELETE,
          objectType: ObjectType.OBJECT_TYPE_USER,
          objectId: '8c4a7e2e-0000-4000-8000-000000000003',
          dn: 'uid=gone,ou=people,dc=example,dc=com',
          attributes: [],
          contentHash: new Uint8Array(0),
          disabled: false,
          memberDns: [],
        },
        {
          kind: ChangeKind.CHANGE_KIND_PRESENT,
          objectType: ObjectType.OBJECT_TYPE_USER,
          objectId: '8c4a7e2e-0000-4000-8000-000000000004',
          dn: 'uid=same,ou=people,dc=example,dc=com',
          attributes: [],
          contentHash: hash(4),
          disabled: true,
          memberDns: [],
        },
      ],
    },
  },
  { type: 'batchAck', value: { configurationId: 'cfg-1', cycleId: 'c-11', ackedThroughSequence: 7 } },
  {
    type: 'cycleComplete',
    value: {
      configurationId: 'cfg-1',
      cycleId: 'c-11',
      lastSequence: 7,
      totals: { adds: 1, modifies: 1, deletes: 1, presents: 6000 },
      source: { entriesRead: 6003, pages: 7, readDurationMs: 812, serverUrl: 'ldap://127.0.0.1:389' },
      mode: CycleMode.CYCLE_MODE_FULL,
      changeTracking: ChangeTracking.CHANGE_TRACKING_SCAN,
      consistencyRead: true,
      drift: 3,
    },
  },
  {
    type: 'cycleFailed',
    value: {
      configurationId: 'cfg-1',
      cycleId: 'c-11',
      code: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT,
      message: 'size limit exceeded after 500 entries',
      ldapResultCode: 4,
    },
  },
  { type: 'cycleCommitted', value: { configurationId: 'cfg-1', cycleId: 'c-11' } },
  {
    type: 'cycleAborted',
    value: { configurationId: 'cfg-1', cycleId: 'c-11', reason: AbortReason.ABORT_REASON_DISCARDED, message: 'restart by admin' },
  },
  {
    type: 'error',
    value: { code: ErrorCode.ERROR_CODE_SEQUENCE_GAP, message: 'expected 8, got 9', fatal: false, cycleId: 'c-11' },
  },
  {
    type: 'startPreview',
    value: {
      configurationId: 'cfg-1',
      previewId: 'p-1',
      scope: {
        baseDn: 'ou=people,dc=example,dc=com',
        filter: '(departmentNumber=7)',
        objectTypes: [ObjectType.OBJECT_TYPE_USER],
        attributes: ['mail'],
        disabledAttribute: 'pwdAccountLockedTime',
      },
    },
  },
  {
    type: 'previewBatch',
    value: {
      configurationId: 'cfg-1',
      previewId: 'p-1',
      sequence: 1,
      objects: [
        {
          objectId: 'id-1',
          objectType: ObjectType.OBJECT_TYPE_GROUP,
          dn: 'cn=g,dc=example,dc=com',
          contentHash: hash(7),
          disabled: true,
        },
      ],
    },
  },
  { type: 'previewAck', value: { configurationId: 'cfg-1', previewId: 'p-1', ackedThroughSequence: 3, stop: true } },
  {
    type: 'previewComplete',
    value: {
      configurationId: 'cfg-1',
      previewId: 'p-1',
      lastSequence: 3,
      objects: 2500,
      source: { entriesRead: 2600, pages: 9, readDurationMs: 120, serverUrl: 'ldap://127.0.0.1:389' },
    },
  },
  {
    type: 'previewFailed',
    value: {
      configurationId: 'cfg-1',
      previewId: 'p-1',
      code: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT,
      message: 'size limit',
      ldapResultCode: 4,
    },
  },
];

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

describe('round trip', () => {
  it.each(SAMPLES.map((s) => [s.type, s] as const))('%s survives encode and decode unchanged', (_type, sample) => {
    const frame = decodeFrame(encodeFrame(sample, { messageId: 42 }));
    expect(frame.protocolVersion).toBe(1);
    expect(frame.messageId).toBe(42);
    expect(frame.body.type).toBe(sample.type);
    // Buffers decode as Buffer; compare bytes, not classes.
    expect(JSON.parse(JSON.stringify(frame.body.value, bytesAsArray))).toEqual(
      JSON.parse(JSON.stringify(sample.value, bytesAsArray)),
    );
  });

  it('covers every message type of the envelope', () => {
    const types = new Set(SAMPLES.map((s) => s.type));
    const oneof = protobuf.util.oneOfGetter; // keep the import honest: we rely on protobufjs' oneof support
    expect(typeof oneof).toBe('function');
    expect([...types].sort()).toEqual(
      [
        'agentHello',
        'controllerWelcome',
        'heartbeat',
        'startCycle',
        'changeBatch',
        'batchAck',
        'cycleComplete',
        'cycleFailed',
        'cycleCommitted',
        'cycleAborted',
        'error',
        'startPreview',
        'previewBatch',
        'previewAck',
        'previewComplete',
        'previewFailed',
      ].sort(),
    );
  });

  it('fills left-out fields with their defaults', () => {
    const frame = decodeFrame(encodeFrame({ type: 'cycleComplete', value: { configurationId: 'a', cycleId: 'b' } }));
    expect(frame.body).toEqual({
      type: 'cycleComplete',
      value: {
        configurationId: 'a',
        cycleId: 'b',
        lastSequence: 0,
        totals: { adds: 0, modifies: 0, deletes: 0, presents: 0 },
        source: { entriesRead: 0, pages: 0, readDurationMs: 0, serverUrl: '' },
        mode: CycleMode.CYCLE_MODE_UNSPECIFIED,
        changeTracking: ChangeTracking.CHANGE_TRACKING_UNSPECIFIED,
        consistencyRead: false,
        drift: 0,
      },
    });
  });

  it("reads a changeTracking this version does not know (a newer agent's) as UNSPECIFIED", () => {
    const value = { configurationId: 'a', cycleId: 'b', changeTracking: 99 as ChangeTracking };
    const frame = decodeFrame(encodeFrame({ type: 'cycleComplete', value }));
    expect(frame.body.type === 'cycleComplete' && frame.body.value.changeTracking).toBe(
      ChangeTracking.CHANGE_TRACKING_UNSPECIFIED,
    );
  });

  it("carries a delete's cause and new DN, absent when unknown, an unknown cause read as unknown", () => {
    const del = (extra: object) => ({
      kind: ChangeKind.CHANGE_KIND_DELETE,
      objectType: ObjectType.OBJECT_TYPE_USER,
      objectId: 'u1',
      dn: 'uid=a,ou=people,dc=x',
      ...extra,
    });
    const frame = decodeFrame(
      encodeFrame({
        type: 'changeBatch',
        value: {
          configurationId: 'c',
          cycleId: 'y',
          sequence: 1,
          changes: [
            del({ deleteCause: DeleteCause.DELETE_CAUSE_MOVED_OUT_OF_SCOPE, newDn: 'uid=a,ou=gone,dc=x' }),
            del({ deleteCause: DeleteCause.DELETE_CAUSE_DELETED }),
            del({}),
            del({ deleteCause: 77 as DeleteCause }),
          ],
        },
      }),
    );
    const changes = (frame.body.value as ChangeBatch).changes;
    expect(changes.map((c) => [c.deleteCause, c.newDn])).toEqual([
      [DeleteCause.DELETE_CAUSE_MOVED_OUT_OF_SCOPE, 'uid=a,ou=gone,dc=x'],
      [DeleteCause.DELETE_CAUSE_DELETED, undefined],
      [undefined, undefined],
      [undefined, undefined],
    ]);
    expect('deleteCause' in changes[2]!).toBe(false);
  });

  it('keeps 64-bit numbers as plain numbers', () => {
    const frame = decodeFrame(encodeFrame({ type: 'heartbeat', value: { sentAtUnixMs: Number.MAX_SAFE_INTEGER } }));
    expect(frame.body.value).toEqual({ sentAtUnixMs: Number.MAX_SAFE_INTEGER });
  });

  it('FrameEncoder numbers frames from 1', () => {
    const encoder = new FrameEncoder();
    const ids = [1, 2, 3].map(() => decodeFrame(encoder.encode({ type: 'heartbeat', value: {} })).messageId);
    expect(ids).toEqual([1, 2, 3]);
  });

  it('accepts ArrayBuffer and fragmented Buffer[] input as ws delivers them', () => {
    const bytes = encodeFrame(SAMPLES[4]!);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    expect(decodeFrame(ab).body.type).toBe('changeBatch');
    const parts = [Buffer.from(bytes.subarray(0, 10)), Buffer.from(bytes.subarray(10))];
    expect(decodeFrame(parts).body.type).toBe('changeBatch');
  });

  it('encodedChangeSize predicts the batch size exactly', () => {
    const sample = SAMPLES[4]!;
    if (sample.type !== 'changeBatch') throw new Error('sample 4 is a batch');
    const changes = sample.value.changes!;
    const frame = encodeFrame(sample);
    const changeBytes = changes.reduce((sum, c) => sum + encodedChangeSize(c!), 0);
    expect(changeBytes).toBeLessThan(frame.length);
    expect(frame.length - changeBytes).toBeLessThanOrEqual(batchOverheadBytes({ configurationId: 'cfg-1', cycleId: 'c-11' }));
  });
});

function bytesAsArray(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer')
    return (value as { data: number[] }).data;
  if (value instanceof Uint8Array) return Array.from(value);
  if (
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).every((k) => /^\d+$/.test(k)) &&
    Object.keys(value).length > 0
  ) {
    return Object.values(value);
  }
  return value;
}

describe('unknown fields', () => {
  it('are ignored at the envelope and inside messages (a newer peer may add fields)', () => {
    const base = encodeFrame(SAMPLES[0]!);
    // field 99 (varint) appended to the envelope; field 50 (length-delimited) appended inside AgentHello
    const writer = protobuf.Writer.create();
    writer.uint32((99 << 3) | 0).uint64(12345);
    const extraEnvelope = Buffer.concat([Buffer.from(base), Buffer.from(writer.finish())]);
    expect(decodeFrame(extraEnvelope).body.type).toBe('agentHello');

    const inner = protobuf.Writer.create();
    inner.uint32((1 << 3) | 2).string('agent-9');
    inner.uint32((3 << 3) | 0).uint32(1);
    inner.uint32((50 << 3) | 2).string('from the future');
    const innerBytes = inner.finish();
    const env = protobuf.Writer.create();
    env.uint32((1 << 3) | 0).uint32(1);
    env.uint32((10 << 3) | 2).bytes(innerBytes);
    const frame = decodeFrame(env.finish());
    expect(frame.body).toEqual({
      type: 'agentHello',
      value: { agentId: 'agent-9', softwareVersion: '', protocolVersions: [1], hostname: '', cursors: [], features: [] },
    });
  });

  it('an unknown body type (a newer message) is PROTO_ERR_NO_BODY', () => {
    const env = protobuf.Writer.create();
    env.uint32((1 << 3) | 0).uint32(1);
    env.uint32((40 << 3) | 2).bytes(new Uint8Array([8, 1]));
    expect(codeOf(() => decodeFrame(env.finish()))).toBe('PROTO_ERR_NO_BODY');
  });
});

describe('bad input', () => {
  const valid = encodeFrame(SAMPLES[4]!);

  it('text frames are PROTO_ERR_NOT_BINARY', () => {
    expect(codeOf(() => decodeFrame('hello'))).toBe('PROTO_ERR_NOT_BINARY');
    expect(codeOf(() => decodeFrame(undefined))).toBe('PROTO_ERR_NOT_BINARY');
    expect(codeOf(() => decodeFrame({ length: 3 }))).toBe('PROTO_ERR_NOT_BINARY');
  });

  it('empty frames are PROTO_ERR_EMPTY_FRAME', () => {
    expect(codeOf(() => decodeFrame(new Uint8Array(0)))).toBe('PROTO_ERR_EMPTY_FRAME');
  });

  it('truncated frames are PROTO_ERR_MALFORMED_FRAME', () => {
    for (const cut of [1, 5, Math.floor(valid.length / 2), valid.length - 1]) {
      expect(codeOf(() => decodeFrame(valid.subarray(0, cut)))).toMatch(
        /PROTO_ERR_(MALFORMED_FRAME|NO_BODY|UNSUPPORTED_VERSION)/,
      );
    }
    expect(codeOf(() => decodeFrame(valid.subarray(0, valid.length - 1)))).toBe('PROTO_ERR_MALFORMED_FRAME');
  });

  it('garbage is PROTO_ERR_MALFORMED_FRAME', () => {
    expect(codeOf(() => decodeFrame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])))).toBe(
      'PROTO_ERR_MALFORMED_FRAME',
    );
    expect(codeOf(() => decodeFrame(Buffer.from('GET / HTTP/1.1\r\n\r\n')))).toBe('PROTO_ERR_MALFORMED_FRAME');
  });

  it('oversized frames are PROTO_ERR_FRAME_TOO_LARGE, before any decoding', () => {
    expect(codeOf(() => decodeFrame(valid, { maxFrameBytes: valid.length - 1 }))).toBe('PROTO_ERR_FRAME_TOO_LARGE');
    expect(decodeFrame(valid, { maxFrameBytes: valid.length }).body.type).toBe('changeBatch');
    expect(codeOf(() => decodeFrame(Buffer.alloc(5 * 1024 * 1024)))).toBe('PROTO_ERR_FRAME_TOO_LARGE');
  });

  it('a frame of another protocol version is PROTO_ERR_UNSUPPORTED_VERSION', () => {
    expect(codeOf(() => decodeFrame(encodeFrame(SAMPLES[2]!, { protocolVersion: 2 })))).toBe('PROTO_ERR_UNSUPPORTED_VERSION');
    expect(codeOf(() => decodeFrame(encodeFrame(SAMPLES[2]!, { protocolVersion: 0 })))).toBe('PROTO_ERR_UNSUPPORTED_VERSION');
    expect(decodeFrame(encodeFrame(SAMPLES[2]!, { protocolVersion: 2 }), { versions: [1, 2] }).protocolVersion).toBe(2);
  });

  it('an envelope without a body is PROTO_ERR_NO_BODY', () => {
    const env = protobuf.Writer.create();
    env.uint32((1 << 3) | 0).uint32(1);
    env.uint32((2 << 3) | 0).uint32(5);
    expect(codeOf(() => decodeFrame(env.finish()))).toBe('PROTO_ERR_NO_BODY');
  });

  it('an AgentHello may leave agent_id empty: the token alone identifies the agent', () => {
    const frame = decodeFrame(encodeFrame({ type: 'agentHello', value: { protocolVersions: [1] } }));
    expect(frame.body).toMatchObject({ type: 'agentHello', value: { agentId: '', protocolVersions: [1] } });
  });

  it('messages that break invariants are PROTO_ERR_INVALID_MESSAGE on decode and on encode', () => {
    const bad: BodyInput[] = [
      { type: 'agentHello', value: { agentId: 'a', protocolVersions: [] } },
      { type: 'changeBatch', value: { configurationId: 'c', cycleId: 'x', sequence: 0, changes: [] } },
      { type: 'changeBatch', value: { configurationId: 'c', cycleId: 'x', sequence: 1, changes: [] } },
      {
        type: 'changeBatch',
        value: {
          configurationId: 'c',
          cycleId: 'x',
          sequence: 1,
          changes: [
            { kind: ChangeKind.CHANGE_KIND_ADD, objectType: 1, objectId: 'o', dn: 'cn=o', contentHash: hash(1).subarray(0, 31) },
          ],
        },
      },
      {
        type: 'changeBatch',
        value: {
          configurationId: 'c',
          cycleId: 'x',
          sequence: 1,
          changes: [{ kind: 0 as ChangeKind, objectType: 1, objectId: 'o', dn: 'cn=o', contentHash: hash(1) }],
        },
      },
      {
        type: 'changeBatch',
        value: {
          configurationId: 'c',
          cycleId: 'x',
          sequence: 1,
          changes: [{ kind: ChangeKind.CHANGE_KIND_DELETE, objectType: 1, objectId: '' }],
        },
      },
      { type: 'startCycle', value: { configurationId: 'c', cycleId: 'x', mode: CycleMode.CYCLE_MODE_DELTA } },
      {
        type: 'startCycle',
        value: {
          configurationId: 'c',
          cycleId: 'x',
          mode: CycleMode.CYCLE_MODE_DELTA,
          scope: { baseDn: 'dc=x', objectTypes: [] },
        },
      },
      {
        type: 'startCycle',
        value: { configurationId: 'c', cycleId: 'x', mode: 0 as CycleMode, scope: { baseDn: 'dc=x', objectTypes: [1] } },
      },
      { type: 'cycleFailed', value: { configurationId: 'c', cycleId: 'x' } },
      { type: 'batchAck', value: { configurationId: 'c', cycleId: 'x', ackedThroughSequence: 0 } },
      {
        type: 'controllerWelcome',
        value: { protocolVersion: 1, heartbeatIntervalMs: 0, maxFrameBytes: 1, maxBatchChanges: 1, maxInFlightBatches: 1 },
      },
    ];
    for (const body of bad) {
      expect(codeOf(() => encodeFrame(body))).toBe('PROTO_ERR_INVALID_MESSAGE');
      // The same bytes sent by a peer that skipped validation:
      const raw = rawEncode(body);
      expect(codeOf(() => decodeFrame(raw))).toBe('PROTO_ERR_INVALID_MESSAGE');
    }
  });

  it('names the field at fault, down to the item of a nested list', () => {
    const attribute = (name: string, values: unknown[]) => ({ name, values: values as string[], binary: false });
    const user = (n: number, attributes: ReturnType<typeof attribute>[], memberDns: unknown[] = []) => ({
      kind: ChangeKind.CHANGE_KIND_ADD,
      objectType: 1,
      objectId: `o${n}`,
      dn: `cn=o${n}`,
      contentHash: hash(n),
      attributes,
      memberDns: memberDns as string[],
    });
    const batch = (changes: ReturnType<typeof user>[]): BodyInput => ({
      type: 'changeBatch',
      value: { configurationId: 'c', cycleId: 'x', sequence: 1, changes },
    });
    const messageOf = (fn: () => unknown): string => {
      try {
        fn();
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    const ok = attribute('cn', ['a', 'b']);
    expect(messageOf(() => encodeFrame(batch([user(0, [ok]), user(1, [ok, ok, attribute('mail', ['m', 7])])])))).toBe(
      'changeBatch.changes[1].attributes[2].values[1]: must be a string',
    );
    expect(messageOf(() => encodeFrame(batch([user(0, [ok]), user(1, [ok]), user(2, [attribute('', [])])])))).toBe(
      'changeBatch.changes[2].attributes[0].name: must not be empty',
    );
    expect(messageOf(() => encodeFrame(batch([user(0, [ok], ['cn=a', null])])))).toBe(
      'changeBatch.changes[0].memberDns[1]: must be a string',
    );
    // Valid lists come back whole, empty ones as fresh arrays.
    const decoded = decodeFrame(encodeFrame(batch([user(0, [ok, attribute('empty', [])])]))).body;
    expect(decoded.type === 'changeBatch' && decoded.value.changes[0]!.attributes.map((a) => a.values)).toEqual([['a', 'b'], []]);
  });

  it('encodes a batch as given (checked in place): sparse changes decode fully populated, bad ones are refused', () => {
    const sparse = { kind: ChangeKind.CHANGE_KIND_ADD, objectType: 1, objectId: 'o', dn: 'cn=o', contentHash: hash(1) };
    const value = { configurationId: 'c', cycleId: 'x', sequence: 2, changes: [sparse] };
    const decoded = decodeFrame(encodeFrame({ type: 'changeBatch', value })).body;
    expect(decoded).toEqual({
      type: 'changeBatch',
      value: {
        configurationId: 'c',
        cycleId: 'x',
        sequence: 2,
        changes: [{ ...sparse, attributes: [], disabled: false, memberDns: [] }],
      },
    });
    expect(value.changes[0]).toBe(sparse); // nothing was added to the input
    expect(Object.keys(sparse)).toEqual(['kind', 'objectType', 'objectId', 'dn', 'contentHash']);
    const bad = (change: object) => () =>
      encodeFrame({
        type: 'changeBatch',
        value: { configurationId: 'c', cycleId: 'x', sequence: 1, changes: [change as never] },
      });
    expect(bad({ ...sparse, attributes: 'cn' })).toThrow('changeBatch.changes[0].attributes: must be a list');
    expect(bad({ ...sparse, attributes: [{ name: 'cn', values: [], binary: 'yes' }] })).toThrow(
      'changeBatch.changes[0].attributes[0].binary: must be a boolean',
    );
    expect(bad({ ...sparse, contentHash: hash(1).subarray(1) })).toThrow(
      'changeBatch.changes[0].contentHash: must be 32 bytes, got 31',
    );
    expect(() =>
      encodeFrame({ type: 'changeBatch', value: { configurationId: 'c', cycleId: 'x', sequence: 1, changes: [] } }),
    ).toThrow('changeBatch.changes: must not be empty');
  });

  it('refuses to encode a frame over the limit', () => {
    expect(codeOf(() => encodeFrame(SAMPLES[4]!, { maxFrameBytes: 100 }))).toBe('PROTO_ERR_FRAME_TOO_LARGE');
  });

  it('errors carry the wire code and close code to answer with', () => {
    const error = tryDecodeFrame(Buffer.alloc(10_000), { maxFrameBytes: 100 });
    expect(error.ok).toBe(false);
    if (error.ok) return;
    expect(error.error.wireCode).toBe(ErrorCode.ERROR_CODE_FRAME_TOO_LARGE);
    expect(error.error.closeCode).toBe(CloseCode.MESSAGE_TOO_BIG);
    const version = tryDecodeFrame(encodeFrame(SAMPLES[2]!, { protocolVersion: 9 }));
    expect(!version.ok && version.error.closeCode).toBe(CloseCode.UNSUPPORTED_VERSION);
  });
});

function rawEncode(body: BodyInput): Uint8Array {
  const { syncguard } = require('./generated/syncguard') as typeof import('./generated/syncguard');
  return syncguard.v1.Envelope.encode({ protocolVersion: 1, [body.type]: body.value } as never).finish();
}

describe('fuzz', () => {
  it('10,000 random buffers each decode to a frame or a ProtocolError, nothing else', () => {
    let frames = 0;
    let errors = 0;
    for (let i = 0; i < 10_000; i++) {
      const buf = randomBytes(1 + (i % 257));
      const result = tryDecodeFrame(buf);
      if (result.ok) frames++;
      else {
        expect(result.error).toBeInstanceOf(ProtocolError);
        errors++;
      }
    }
    expect(frames + errors).toBe(10_000);
    expect(errors).toBeGreaterThan(9_000);
  });

  it('10,000 mutations of valid frames each decode to a frame or a ProtocolError', () => {
    const valids = SAMPLES.map((s) => Buffer.from(encodeFrame(s)));
    let frames = 0;
    for (let i = 0; i < 10_000; i++) {
      const buf = Buffer.from(valids[i % valids.length]!);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) buf[(i * 7919 + f * 104729) % buf.length] = (i * 31 + f) & 0xff;
      const result = tryDecodeFrame(i % 3 === 0 ? buf.subarray(0, buf.length - (i % 5)) : buf);
      if (result.ok) frames++;
      else expect(result.error).toBeInstanceOf(ProtocolError);
    }
    expect(frames).toBeGreaterThan(0);
  });
});

describe('previews', () => {
  it('refuse a preview object without a 32-byte hash, id or DN, and an empty batch', () => {
    const object = { objectId: 'id-1', objectType: ObjectType.OBJECT_TYPE_USER, dn: 'uid=a,dc=x', contentHash: hash(1) };
    const batch = (o: object[]) =>
      encodeFrame({ type: 'previewBatch', value: { configurationId: 'c', previewId: 'p', sequence: 1, objects: o } });
    expect(() => batch([object])).not.toThrow();
    expect(() => batch([{ ...object, contentHash: new Uint8Array(31) }])).toThrow(/objects\[0\]\.contentHash: must be 32 bytes/);
    expect(() => batch([{ ...object, objectId: '' }])).toThrow(/objectId: must not be empty/);
    expect(() => batch([{ ...object, dn: '' }])).toThrow(/dn: must not be empty/);
    expect(() => batch([])).toThrow(/objects: must not be empty/);
  });

  it('a StartPreview needs a scope with a base DN and object types', () => {
    expect(() => encodeFrame({ type: 'startPreview', value: { configurationId: 'c', previewId: 'p' } })).toThrow(
      /startPreview\.scope: is required/,
    );
    expect(() =>
      encodeFrame({ type: 'startPreview', value: { configurationId: 'c', previewId: 'p', scope: { baseDn: 'dc=x' } } }),
    ).toThrow(/objectTypes: must not be empty/);
  });

  it('a hello without features (an older agent) decodes with none', () => {
    const frame = decodeFrame(encodeFrame({ type: 'agentHello', value: { protocolVersions: [1] } }));
    expect(frame.body.type === 'agentHello' && frame.body.value.features).toEqual([]);
  });
});
