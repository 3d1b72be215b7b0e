/**
 * Errors of @syncguard/controller. Each has a stable `code` (listed in docs/errors.md,
 * kept true by a test) and, where it reaches the HTTP API, the status it maps to.
 * Foreign errors (Redis, SMTP, LDAP results reported by agents) are wrapped once, at
 * the boundary, with the original as `cause`.
 */
export class ControllerError extends Error {
  override name = 'ControllerError';
  /** HTTP status the API answers with. */
  readonly status: number;

  constructor(
    readonly code: string,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = options.status ?? 500;
  }
}

/** 400: a setting or request field is invalid; `field` names it (dot path, e.g. `accidentalDeletes.threshold`). */
export class ValidationError extends ControllerError {
  override name = 'ValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('SG_ERR_INVALID_INPUT', `${field}: ${message}`, { status: 400 });
  }
}

/** 404: no such agent, configuration, cycle or token. */
export class NotFoundError extends ControllerError {
  override name = 'NotFoundError';
  constructor(kind: string, id: string) {
    super('SG_ERR_NOT_FOUND', `${kind} ${id} not found`, { status: 404 });
  }
}

/** 409: the request does not fit the current state (not quarantined, already running, ...). */
export class ConflictError extends ControllerError {
  override name = 'ConflictError';
  constructor(code: string, message: string) {
    super(code, message, { status: 409 });
  }
}

/** A setting of the controller program is missing or bad; `setting` names it. */
export class ConfigError extends ControllerError {
  override name = 'ConfigError';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super('SG_ERR_CONFIG', `${setting}: ${message}`);
  }
}

/**
 * Several settings are bad at once (SG_ERR_CONFIG): every one is in `problems`, and the
 * message lists them all, one a line, so that one start shows everything to fix.
 */
export class InvalidSettingsError extends ControllerError {
  override name = 'InvalidSettingsError';
  constructor(readonly problems: readonly ConfigError[]) {
    super('SG_ERR_CONFIG', problems.map((p) => p.message).join('\n'));
  }
}
