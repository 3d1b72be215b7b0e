/**
 * WebSocket close codes used on the agent connection.
 *
 * 1000-1015 are RFC 6455 section 7.4.1 codes; 4000-4999 are reserved by the RFC for
 * private use and are syncguard's own. `retry` tells the agent whether reconnecting
 * (with backoff) can help; for the others an operator has to act first.
 */
export const CloseCode = {
  /** RFC 6455: the purpose of the connection is fulfilled (orderly shutdown). */
  NORMAL: 1000,
  /** RFC 6455: the endpoint is going away (server shutdown, agent stopping). */
  GOING_AWAY: 1001,
  /** RFC 6455: the peer broke the protocol (malformed frame, message out of order). */
  PROTOCOL_ERROR: 1002,
  /** RFC 6455: a data type the endpoint cannot accept (a text frame). */
  UNSUPPORTED_DATA: 1003,
  /** RFC 6455: a message broke the endpoint's policy. */
  POLICY_VIOLATION: 1008,
  /** RFC 6455: a frame larger than the endpoint accepts. */
  MESSAGE_TOO_BIG: 1009,
  /** RFC 6455: an unexpected condition at the endpoint. */
  INTERNAL_ERROR: 1011,
  /** RFC 6455: the server is restarting; reconnect. */
  SERVICE_RESTART: 1012,
  /** RFC 6455: try again later (overload). */
  TRY_AGAIN_LATER: 1013,
  /** syncguard: the agent token is missing, unknown or does not match the agent id. */
  AUTH_FAILED: 4001,
  /** syncguard: the peers share no protocol version. */
  UNSUPPORTED_VERSION: 4002,
  /** syncguard: another connection with the same agent id replaced this one. */
  SUPERSEDED: 4003,
  /** syncguard: the agent sent faster than allowed. */
  RATE_LIMITED: 4004,
  /** syncguard: no frame or pong from the peer within the heartbeat timeout. */
  HEARTBEAT_TIMEOUT: 4005,
  /** syncguard: the agent did not send AgentHello in time. */
  HELLO_TIMEOUT: 4006,
  /** syncguard: the agent was deleted or its token revoked while connected. */
  AGENT_REVOKED: 4007,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

interface CloseCodeInfo {
  readonly name: CloseCodeName;
  readonly description: string;
  /** Whether reconnecting with backoff can succeed without an operator's action. */
  readonly retry: boolean;
}

const INFO: Record<CloseCodeValue, CloseCodeInfo> = {
  1000: { name: 'NORMAL', description: 'normal closure', retry: true },
  1001: { name: 'GOING_AWAY', description: 'the peer is going away', retry: true },
  1002: { name: 'PROTOCOL_ERROR', description: 'protocol error', retry: true },
  1003: { name: 'UNSUPPORTED_DATA', description: 'unsupported data (text frame)', retry: true },
  1008: { name: 'POLICY_VIOLATION', description: 'policy violation', retry: true },
  1009: { name: 'MESSAGE_TOO_BIG', description: 'frame too large', retry: true },
  1011: { name: 'INTERNAL_ERROR', description: 'internal error at the peer', retry: true },
  1012: { name: 'SERVICE_RESTART', description: 'the service is restarting', retry: true },
  1013: { name: 'TRY_AGAIN_LATER', description: 'try again later', retry: true },
  4001: { name: 'AUTH_FAILED', description: 'agent authentication failed', retry: false },
  4002: { name: 'UNSUPPORTED_VERSION', description: 'no protocol version in common', retry: false },
  4003: { name: 'SUPERSEDED', description: 'another connection of this agent replaced this one', retry: true },
  4004: { name: 'RATE_LIMITED', description: 'rate limited', retry: true },
  4005: { name: 'HEARTBEAT_TIMEOUT', description: 'the peer was silent for too long', retry: true },
  4006: { name: 'HELLO_TIMEOUT', description: 'no hello in time', retry: true },
  4007: { name: 'AGENT_REVOKED', description: 'the agent was deleted or its token revoked', retry: false },
};

/** What a close code means; codes we do not define give `undefined`. */
export function describeCloseCode(code: number): CloseCodeInfo | undefined {
  return INFO[code as CloseCodeValue];
}

/**
 * Whether the agent should reconnect after the connection closed with `code`.
 * Unknown codes (including 1005/1006, closed without a code) are retryable.
 */
export function isRetryableClose(code: number): boolean {
  return describeCloseCode(code)?.retry ?? true;
}
