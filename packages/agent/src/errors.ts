import { CycleErrorCode } from '@syncguard/protocol';

/**
 * Stable codes of {@link AgentError}. docs/errors.md lists them (section "Agent") and a
 * test keeps that list true. Each code that can end a cycle maps to the wire
 * `CycleErrorCode` sent in `CycleFailed`.
 */
export const AgentErrorCodes = {
  /** A setting is missing or bad; the message names it. The program stops at start. */
  AGENT_ERR_INVALID_SETTING: CycleErrorCode.CYCLE_ERROR_INTERNAL,
  /** The directory could not be reached, or the connection dropped during a read. */
  AGENT_ERR_LDAP_UNAVAILABLE: CycleErrorCode.CYCLE_ERROR_LDAP_UNAVAILABLE,
  /** The bind was refused (bad DN or password, account locked, TLS required). */
  AGENT_ERR_LDAP_BIND_FAILED: CycleErrorCode.CYCLE_ERROR_LDAP_BIND_FAILED,
  /** The server's size limit (or an admin limit) cut the search short. */
  AGENT_ERR_LDAP_SIZE_LIMIT: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT,
  /** The server's or the agent's time limit cut the search short. */
  AGENT_ERR_LDAP_TIME_LIMIT: CycleErrorCode.CYCLE_ERROR_LDAP_TIME_LIMIT,
  /** Paged results were refused or the paging cookie broke. */
  AGENT_ERR_LDAP_PAGING: CycleErrorCode.CYCLE_ERROR_LDAP_PAGING,
  /** The scope's base DN does not exist. */
  AGENT_ERR_LDAP_NO_SUCH_OBJECT: CycleErrorCode.CYCLE_ERROR_LDAP_NO_SUCH_OBJECT,
  /** Any other LDAP result code (see `ldapResultCode`). */
  AGENT_ERR_LDAP_OTHER: CycleErrorCode.CYCLE_ERROR_LDAP_OTHER,
  /** The scope sent by the controller is invalid (bad DN, bad filter, no object types). */
  AGENT_ERR_INVALID_SCOPE: CycleErrorCode.CYCLE_ERROR_INVALID_SCOPE,
  /** The local cache (SQLite in SYNCGUARD_STATE_DIR) could not be read or written. */
  AGENT_ERR_CACHE: CycleErrorCode.CYCLE_ERROR_CACHE,
  /** The agent is shutting down; the running cycle was abandoned. */
  AGENT_ERR_SHUTDOWN: CycleErrorCode.CYCLE_ERROR_SHUTDOWN,
  /** A cycle was asked for a configuration that already runs one. */
  AGENT_ERR_BUSY: CycleErrorCode.CYCLE_ERROR_BUSY,
  /** The controller aborted the cycle while it was being read; it stops without a CycleFailed. */
  AGENT_ERR_CYCLE_ABORTED: CycleErrorCode.CYCLE_ERROR_INTERNAL,
  /** One object's change is larger than the controller's maxFrameBytes and cannot be sent. */
  AGENT_ERR_OBJECT_TOO_LARGE: CycleErrorCode.CYCLE_ERROR_INTERNAL,
  /** The controller closed the connection with a close code that forbids reconnecting
   * (AUTH_FAILED, AGENT_REVOKED, UNSUPPORTED_VERSION); the program exits with status 2. */
  AGENT_ERR_CONNECTION_REFUSED: CycleErrorCode.CYCLE_ERROR_INTERNAL,
  /** The controller broke the protocol (bad frame, no welcome in time). The connection is dropped and retried. */
  AGENT_ERR_PROTOCOL: CycleErrorCode.CYCLE_ERROR_INTERNAL,
  /** A bug or an unexpected condition in the agent. */
  AGENT_ERR_INTERNAL: CycleErrorCode.CYCLE_ERROR_INTERNAL,
} as const satisfies Record<string, CycleErrorCode>;

export type AgentErrorCode = keyof typeof AgentErrorCodes;

/** The one error type of @syncguard/agent: a stable `code`, the foreign error as `cause`. */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  readonly code: AgentErrorCode;
  /** The LDAP result code (RFC 4511) when the error came from the directory, else 0. */
  readonly ldapResultCode: number;

  constructor(code: AgentErrorCode, message: string, options: { cause?: unknown; ldapResultCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.ldapResultCode = options.ldapResultCode ?? 0;
  }

  /** The wire code for `CycleFailed.code`. */
  get cycleErrorCode(): CycleErrorCode {
    return AgentErrorCodes[this.code];
  }
}

/** A setting is missing or bad; `setting` is its name (environment name or option path). */
export class SettingError extends AgentError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super('AGENT_ERR_INVALID_SETTING', `${setting}: ${message}`);
  }
}

/** Several settings are bad at once: each in `problems`, so that one start shows them all. */
export class SettingsError extends AgentError {
  constructor(readonly problems: readonly SettingError[]) {
    super('AGENT_ERR_INVALID_SETTING', problems.map((p) => p.message).join('\n'));
  }
}

export function isAgentError(error: unknown): error is AgentError {
  return error instanceof AgentError;
}

/** Wraps anything into an AgentError (AGENT_ERR_INTERNAL unless it already is one). */
export function toAgentError(error: unknown, fallback: AgentErrorCode = 'AGENT_ERR_INTERNAL'): AgentError {
  if (error instanceof AgentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AgentError(fallback, message, { cause: error });
}

// LDAP result codes (RFC 4511 section 4.1.9) that get their own agent code.
const LDAP_RESULT: Record<number, AgentErrorCode> = {
  3: 'AGENT_ERR_LDAP_TIME_LIMIT', // timeLimitExceeded
  4: 'AGENT_ERR_LDAP_SIZE_LIMIT', // sizeLimitExceeded
  7: 'AGENT_ERR_LDAP_BIND_FAILED', // authMethodNotSupported
  8: 'AGENT_ERR_LDAP_BIND_FAILED', // strongerAuthRequired
  11: 'AGENT_ERR_LDAP_SIZE_LIMIT', // adminLimitExceeded
  12: 'AGENT_ERR_LDAP_PAGING', // unavailableCriticalExtension (paged results refused)
  13: 'AGENT_ERR_LDAP_BIND_FAILED', // confidentialityRequired
  32: 'AGENT_ERR_LDAP_NO_SUCH_OBJECT', // noSuchObject
  34: 'AGENT_ERR_INVALID_SCOPE', // invalidDNSyntax
  48: 'AGENT_ERR_LDAP_BIND_FAILED', // inappropriateAuthentication
  49: 'AGENT_ERR_LDAP_BIND_FAILED', // invalidCredentials
  51: 'AGENT_ERR_LDAP_UNAVAILABLE', // busy
  52: 'AGENT_ERR_LDAP_UNAVAILABLE', // unavailable
  87: 'AGENT_ERR_INVALID_SCOPE', // filterError (client side)
};

/** What an operator should do about an LDAP result code: named, with the setting to check. */
function ldapHint(resultCode: number, during: string, baseDn: string | undefined): string | null {
  switch (resultCode) {
    case 49:
      return 'invalid credentials: check LDAP_BIND_DN and LDAP_BIND_PASSWORD';
    case 32:
      return during === 'search' && baseDn
        ? `no such object: the base DN ${baseDn} does not exist (check the configuration's source.baseDn)`
        : 'no such object: the DN does not exist';
    case 8:
    case 13:
      return 'the directory requires TLS: use an ldaps:// LDAP_URL or LDAP_STARTTLS=true';
    case 48:
      return 'inappropriate authentication: the directory refuses a simple bind for LDAP_BIND_DN';
    case 50:
      return 'insufficient access rights: give LDAP_BIND_DN read access to the scope';
    case 4:
      return "size limit exceeded: lift the directory's size limit for LDAP_BIND_DN";
    default:
      return null;
  }
}

/** Node's codes for a certificate it cannot verify: a CA file fixes them. */
const TLS_TRUST_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * The message for a TLS error that names the setting fixing it (`caSetting`:
 * LDAP_CA_FILE or SYNCGUARD_CA_FILE), or null when the error is not about trust.
 */
export function tlsTrustHint(error: unknown, peer: string, caSetting: string): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (TLS_TRUST_ERRORS.has(code))
    return `cannot verify the ${peer}'s TLS certificate (${code}: self-signed or signed by an unknown CA): set ${caSetting} to the PEM file of the CA that signed it`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `the ${peer}'s TLS certificate does not name the host in the URL: ${(error as Error).message}`;
  if (code === 'CERT_HAS_EXPIRED') return `the ${peer}'s TLS certificate has expired`;
  return null;
}

/**
 * Maps an error thrown by ldapts (or the socket under it) to an AgentError. This is the
 * only place LDAP result codes are interpreted. `during` says what was being done, for
 * the message and to tell a refused bind from other failures; `baseDn`, the searched base.
 */
export function fromLdapError(error: unknown, during: 'connect' | 'bind' | 'search', baseDn?: string): AgentError {
  if (error instanceof AgentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const resultCode = ldapResultCodeOf(error);
  const tls = tlsTrustHint(error, 'directory', 'LDAP_CA_FILE');
  if (tls) return new AgentError('AGENT_ERR_LDAP_UNAVAILABLE', `LDAP ${during} failed: ${tls}`, { cause: error });
  if (resultCode !== undefined) {
    let code = LDAP_RESULT[resultCode] ?? 'AGENT_ERR_LDAP_OTHER';
    if (during === 'bind' && code === 'AGENT_ERR_LDAP_OTHER') code = 'AGENT_ERR_LDAP_BIND_FAILED';
    // Paging problems come back as protocolError/operationsError/unwillingToPerform on a paged search.
    if (during === 'search' && (resultCode === 1 || resultCode === 2 || resultCode === 53) && /pag|cookie/i.test(message)) {
      code = 'AGENT_ERR_LDAP_PAGING';
    }
    const hint = ldapHint(resultCode, during, baseDn);
    return new AgentError(code, `LDAP ${during} failed (result ${resultCode}): ${hint ? `${hint} (${message})` : message}`, {
      cause: error,
      ldapResultCode: resultCode,
    });
  }
  if (/filter/i.test(message) && error instanceof Error && error.constructor.name.includes('Filter')) {
    return new AgentError('AGENT_ERR_INVALID_SCOPE', `invalid LDAP filter: ${message}`, { cause: error });
  }
  if (/timeout|timed out/i.test(message) && during === 'search') {
    return new AgentError('AGENT_ERR_LDAP_TIME_LIMIT', `LDAP ${during} timed out: ${message}`, { cause: error });
  }
  return new AgentError('AGENT_ERR_LDAP_UNAVAILABLE', `LDAP ${during} failed: ${message}`, { cause: error });
}

function ldapResultCodeOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  // ldapts ResultCodeError subclasses carry the numeric RFC 4511 result code as `code`.
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && Number.isInteger(code) && code > 0 && code < 0x1000) return code;
  return undefined;
}
