import { syncguard } from './generated/syncguard';
import { CloseCode, type CloseCodeValue } from './close-codes';

const WireCode = syncguard.v1.ErrorCode;

/**
 * Stable codes of {@link ProtocolError}. Each names one way a frame can be refused;
 * docs/errors.md lists them and a test keeps that list true.
 */
export const ProtocolErrorCodes = {
  /** The WebSocket message was a text frame or not bytes at all. */
  PROTO_ERR_NOT_BINARY: 'PROTO_ERR_NOT_BINARY',
  /** The frame had zero bytes. */
  PROTO_ERR_EMPTY_FRAME: 'PROTO_ERR_EMPTY_FRAME',
  /** The frame is larger than the size limit. */
  PROTO_ERR_FRAME_TOO_LARGE: 'PROTO_ERR_FRAME_TOO_LARGE',
  /** The bytes are not a protobuf Envelope. */
  PROTO_ERR_MALFORMED_FRAME: 'PROTO_ERR_MALFORMED_FRAME',
  /** The Envelope carries no message body (or one this version does not know). */
  PROTO_ERR_NO_BODY: 'PROTO_ERR_NO_BODY',
  /** The Envelope's protocol version is not one the receiver speaks. */
  PROTO_ERR_UNSUPPORTED_VERSION: 'PROTO_ERR_UNSUPPORTED_VERSION',
  /** The message decoded but breaks an invariant of the .proto (missing id, bad enum, ...). */
  PROTO_ERR_INVALID_MESSAGE: 'PROTO_ERR_INVALID_MESSAGE',
} as const;

export type ProtocolErrorCode = keyof typeof ProtocolErrorCodes;

const TO_WIRE: Record<ProtocolErrorCode, syncguard.v1.ErrorCode> = {
  PROTO_ERR_NOT_BINARY: WireCode.ERROR_CODE_MALFORMED_FRAME,
  PROTO_ERR_EMPTY_FRAME: WireCode.ERROR_CODE_MALFORMED_FRAME,
  PROTO_ERR_FRAME_TOO_LARGE: WireCode.ERROR_CODE_FRAME_TOO_LARGE,
  PROTO_ERR_MALFORMED_FRAME: WireCode.ERROR_CODE_MALFORMED_FRAME,
  PROTO_ERR_NO_BODY: WireCode.ERROR_CODE_MALFORMED_FRAME,
  PROTO_ERR_UNSUPPORTED_VERSION: WireCode.ERROR_CODE_UNSUPPORTED_VERSION,
  PROTO_ERR_INVALID_MESSAGE: WireCode.ERROR_CODE_INVALID_MESSAGE,
};

const TO_CLOSE: Record<ProtocolErrorCode, CloseCodeValue> = {
  PROTO_ERR_NOT_BINARY: CloseCode.UNSUPPORTED_DATA,
  PROTO_ERR_EMPTY_FRAME: CloseCode.PROTOCOL_ERROR,
  PROTO_ERR_FRAME_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
  PROTO_ERR_MALFORMED_FRAME: CloseCode.PROTOCOL_ERROR,
  PROTO_ERR_NO_BODY: CloseCode.PROTOCOL_ERROR,
  PROTO_ERR_UNSUPPORTED_VERSION: CloseCode.UNSUPPORTED_VERSION,
  PROTO_ERR_INVALID_MESSAGE: CloseCode.PROTOCOL_ERROR,
};

/**
 * The one error type this package throws. Decoding untrusted bytes either returns a
 * frame or throws a ProtocolError; nothing else escapes.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The wire ErrorCode to put in an `Error` message for the peer. */
  get wireCode(): syncguard.v1.ErrorCode {
    return TO_WIRE[this.code];
  }

  /** The WebSocket close code to close the connection with. */
  get closeCode(): CloseCodeValue {
    return TO_CLOSE[this.code];
  }
}

/** True for errors thrown by this package. */
export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}
