/**
 * @syncguard/protocol: the wire contract between the syncguard agent and controller.
 * No I/O: message types, framing with size and version checks, close codes and limits.
 */
export * from './messages';
export {
  decodeFrame,
  tryDecodeFrame,
  encodeFrame,
  FrameEncoder,
  encodedChangeSize,
  batchOverheadBytes,
  type DecodeOptions,
  type EncodeOptions,
} from './frame';
export { readChangeBatchFrame, type ChangeBatchFrame, type ChangeHeader } from './batch-frame';
export { encodedChangesOfFrame, encodedChangesOfBatch, encodeChangeBatch, decodeChange } from './encoded';
export { ProtocolError, ProtocolErrorCodes, isProtocolError, type ProtocolErrorCode } from './errors';
export { CloseCode, describeCloseCode, isRetryableClose, type CloseCodeName, type CloseCodeValue } from './close-codes';
export { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, isSupportedVersion, negotiateVersion } from './version';
export { DEFAULT_LIMITS, HEARTBEAT_MISSES_ALLOWED, CONTENT_HASH_BYTES } from './limits';
export { SECRET_ATTRIBUTES, attributeBaseName, isSecretAttribute } from './secret-attributes';
