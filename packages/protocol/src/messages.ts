import { syncguard } from './generated/syncguard';

/*
 * Plain, fully populated views of the protocol messages. `decodeFrame` returns these
 * (every scalar and list present, nested messages filled with their defaults); the
 * field docs are in proto/syncguard/v1/protocol.proto.
 */

const pb = syncguard.v1;

export const CycleMode = pb.CycleMode;
export type CycleMode = syncguard.v1.CycleMode;
export const ObjectType = pb.ObjectType;
export type ObjectType = syncguard.v1.ObjectType;
export const ChangeKind = pb.ChangeKind;
export type ChangeKind = syncguard.v1.ChangeKind;
export const DeleteCause = pb.DeleteCause;
export type DeleteCause = syncguard.v1.DeleteCause;
export const ChangeTracking = pb.ChangeTracking;
export type ChangeTracking = syncguard.v1.ChangeTracking;
export const CycleErrorCode = pb.CycleErrorCode;
export type CycleErrorCode = syncguard.v1.CycleErrorCode;
export const AbortReason = pb.AbortReason;
export type AbortReason = syncguard.v1.AbortReason;
export const ErrorCode = pb.ErrorCode;
export type ErrorCode = syncguard.v1.ErrorCode;

export interface CacheCursor {
  configurationId: string;
  committedCycleId: string;
  pendingCycleId: string;
  runningCycleId: string;
}

export interface AgentHello {
  agentId: string;
  softwareVersion: string;
  protocolVersions: number[];
  hostname: string;
  cursors: CacheCursor[];
  /** Optional capabilities, e.g. `preview` ({@link AGENT_FEATURES}). */
  features: string[];
}

export interface Assignment {
  configurationId: string;
  active: boolean;
}

export interface ControllerWelcome {
  protocolVersion: number;
  sessionId: string;
  heartbeatIntervalMs: number;
  maxFrameBytes: number;
  maxBatchChanges: number;
  maxInFlightBatches: number;
  assignments: Assignment[];
  agentId: string;
}

export interface Heartbeat {
  sentAtUnixMs: number;
}

export interface Scope {
  baseDn: string;
  filter: string;
  objectTypes: ObjectType[];
  attributes: string[];
  disabledAttribute: string;
}

export interface StartCycle {
  configurationId: string;
  cycleId: string;
  mode: CycleMode;
  scope: Scope;
  baseCycleId: string;
}

export interface Attribute {
  name: string;
  values: string[];
  binary: boolean;
}

export interface Change {
  kind: ChangeKind;
  objectType: ObjectType;
  objectId: string;
  dn: string;
  attributes: Attribute[];
  /** SHA-256, 32 bytes; empty for DELETE. */
  contentHash: Uint8Array;
  disabled: boolean;
  memberDns: string[];
  /**
   * DELETE only: why the object left the scope. Decoded changes carry it only when set (a
   * value this version does not know reads as left out): absent means unknown.
   */
  deleteCause?: DeleteCause;
  /** DELETE with cause MOVED_OUT_OF_SCOPE: the object's DN now (outside the base), when known; absent when empty. */
  newDn?: string;
}

export interface ChangeBatch {
  configurationId: string;
  cycleId: string;
  sequence: number;
  changes: Change[];
}

export interface BatchAck {
  configurationId: string;
  cycleId: string;
  ackedThroughSequence: number;
}

export interface CycleTotals {
  adds: number;
  modifies: number;
  deletes: number;
  presents: number;
}

export interface SourceStats {
  entriesRead: number;
  pages: number;
  readDurationMs: number;
  serverUrl: string;
}

export interface CycleComplete {
  configurationId: string;
  cycleId: string;
  lastSequence: number;
  totals: CycleTotals;
  source: SourceStats;
  mode: CycleMode;
  changeTracking: ChangeTracking;
  /** A full consistency read (the log, then a scan). */
  consistencyRead: boolean;
  /** With consistencyRead: the changes the scan found beyond the log. */
  drift: number;
}

export interface CycleFailed {
  configurationId: string;
  cycleId: string;
  code: CycleErrorCode;
  message: string;
  ldapResultCode: number;
}

export interface CycleCommitted {
  configurationId: string;
  cycleId: string;
}

export interface CycleAborted {
  configurationId: string;
  cycleId: string;
  reason: AbortReason;
  message: string;
}

export interface StartPreview {
  configurationId: string;
  previewId: string;
  scope: Scope;
}

export interface PreviewObject {
  objectId: string;
  objectType: ObjectType;
  dn: string;
  /** SHA-256, 32 bytes. */
  contentHash: Uint8Array;
  disabled: boolean;
}

export interface PreviewBatch {
  configurationId: string;
  previewId: string;
  sequence: number;
  objects: PreviewObject[];
}

export interface PreviewAck {
  configurationId: string;
  previewId: string;
  ackedThroughSequence: number;
  /** The controller no longer wants the preview: stop reading. */
  stop: boolean;
}

export interface PreviewComplete {
  configurationId: string;
  previewId: string;
  lastSequence: number;
  objects: number;
  source: SourceStats;
}

export interface PreviewFailed {
  configurationId: string;
  previewId: string;
  code: CycleErrorCode;
  message: string;
  ldapResultCode: number;
}

/** Names of the optional capabilities an agent lists in AgentHello.features. */
export const AGENT_FEATURES = Object.freeze({
  /** The agent answers StartPreview. */
  preview: 'preview',
} as const);

/** The protocol's `Error` message (named so as not to shadow the global Error). */
export interface WireError {
  code: ErrorCode;
  message: string;
  fatal: boolean;
  cycleId: string;
}

/** Every message body, by its name in the Envelope's `body` oneof. */
export interface BodyMap {
  agentHello: AgentHello;
  controllerWelcome: ControllerWelcome;
  heartbeat: Heartbeat;
  startCycle: StartCycle;
  changeBatch: ChangeBatch;
  batchAck: BatchAck;
  cycleComplete: CycleComplete;
  cycleFailed: CycleFailed;
  cycleCommitted: CycleCommitted;
  cycleAborted: CycleAborted;
  error: WireError;
  startPreview: StartPreview;
  previewBatch: PreviewBatch;
  previewAck: PreviewAck;
  previewComplete: PreviewComplete;
  previewFailed: PreviewFailed;
}

export type BodyType = keyof BodyMap;

/** A message body tagged with its type; `switch (body.type)` narrows `value`. */
export type Body = { [K in BodyType]: { type: K; value: BodyMap[K] } }[BodyType];

export type DeepPartial<T> = T extends Uint8Array
  ? T
  : T extends (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/** What `encodeFrame` accepts: a body whose fields may be left out (they take their defaults). */
export type BodyInput = { [K in BodyType]: { type: K; value: DeepPartial<BodyMap[K]> } }[BodyType];

/** One decoded WebSocket message. */
export interface Frame {
  protocolVersion: number;
  messageId: number;
  body: Body;
}

export const BODY_TYPES: readonly BodyType[] = Object.freeze([
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
]);
