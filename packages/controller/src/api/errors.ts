import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ControllerError } from '../errors';

/**
 * Error codes produced by the HTTP layer itself (docs/errors.md, section API). The
 * engine's ControllerError codes pass through unchanged with their status.
 */
export const API_ERROR_CODES = {
  /** 401: no token, a malformed Authorization header, or an unknown or revoked token. */
  UNAUTHORIZED: 'SG_ERR_UNAUTHORIZED',
  /** 403: a reader token on a call that needs admin. */
  FORBIDDEN: 'SG_ERR_FORBIDDEN',
  /** 400: the request fails its JSON schema, or the body is not JSON. */
  INVALID_INPUT: 'SG_ERR_INVALID_INPUT',
  /** 405: a method the route does not take (every change through the read-only /admin/queues dashboard). */
  METHOD_NOT_ALLOWED: 'SG_ERR_METHOD_NOT_ALLOWED',
  /** 429: this client address failed authentication too often; retry after `Retry-After` seconds. */
  TOO_MANY_REQUESTS: 'SG_ERR_TOO_MANY_REQUESTS',
  /** 404: no such route, or no such id. */
  NOT_FOUND: 'SG_ERR_NOT_FOUND',
  /** 415: the body is not application/json. */
  UNSUPPORTED_MEDIA_TYPE: 'SG_ERR_UNSUPPORTED_MEDIA_TYPE',
  /** 413: the body is larger than the limit (1 MiB). */
  BODY_TOO_LARGE: 'SG_ERR_BODY_TOO_LARGE',
  /** 503: the controller's Redis did not answer in time or is not connected; retry later. */
  UNAVAILABLE: 'SG_ERR_UNAVAILABLE',
  /** 500: anything unexpected; the details are in the controller's log. */
  INTERNAL: 'SG_ERR_INTERNAL',
} as const;

export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
}

/** An error raised by the HTTP layer, answered as `{error: {code, message}}` with `status`. */
export class ApiError extends ControllerError {
  override name = 'ApiError';
  constructor(
    code: string,
    message: string,
    status: number,
    readonly field?: string,
  ) {
    super(code, message, { status });
  }
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** The dot path of the field an Ajv error is about, e.g. `accidentalDeletes.threshold`. */
export function fieldOf(error: AjvError, context: string | undefined): string {
  const segments = (error.instancePath ?? '').split('/').filter((s) => s.length > 0);
  const params = error.params ?? {};
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') segments.push(params.missingProperty);
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string')
    segments.push(params.additionalProperty);
  if (segments.length === 0) return context ?? 'body';
  return segments.map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
}

function describe(error: AjvError): string {
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'enum' && Array.isArray(error.params?.allowedValues))
    return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return error.message ?? 'is invalid';
}

/**
 * Whether an error is ioredis saying that Redis did not answer (commandTimeout), is not
 * connected, or gave up retrying: the API answers 503, not 500.
 */
export function isRedisUnavailable(error: unknown): boolean {
  const e = error as { name?: string; message?: string; code?: string } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === 'ETIMEDOUT') return true;
  return /^(Command timed out|Connection is closed|Stream isn't writeable)/.test(e.message ?? '');
}

/** Maps any error to the status and body the API answers with. */
export function toApiError(error: unknown, request: FastifyRequest): { status: number; body: ApiErrorBody } {
  const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation) && fe.validation.length > 0) {
    const first = fe.validation[0] as AjvError;
    const field = fieldOf(first, fe.validationContext);
    return {
      status: 400,
      body: { error: { code: API_ERROR_CODES.INVALID_INPUT, message: `${field}: ${describe(first)}`, field } },
    };
  }
  if (error instanceof ControllerError) {
    const field = (error as ControllerError & { field?: unknown }).field;
    const body: ApiErrorBody = { error: { code: error.code, message: error.message } };
    if (typeof field === 'string') body.error.field = field;
    return { status: error.status, body };
  }
  if (isRedisUnavailable(error)) {
    request.log.warn({ err: error }, 'Redis unavailable');
    return {
      status: 503,
      body: {
        error: {
          code: API_ERROR_CODES.UNAVAILABLE,
          message: "the controller's Redis is unavailable (it did not answer in time); retry later",
        },
      },
    };
  }
  const code = typeof fe?.code === 'string' ? fe.code : '';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return {
      status: 415,
      body: { error: { code: API_ERROR_CODES.UNSUPPORTED_MEDIA_TYPE, message: 'the body must be application/json' } },
    };
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, body: { error: { code: API_ERROR_CODES.BODY_TOO_LARGE, message: 'the body is too large' } } };
  if (code.startsWith('FST_ERR_CTP_') || (fe?.statusCode === 400 && fe instanceof SyntaxError))
    return {
      status: 400,
      body: { error: { code: API_ERROR_CODES.INVALID_INPUT, message: `body: ${fe.message}`, field: 'body' } },
    };
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, body: { error: { code: API_ERROR_CODES.INVALID_INPUT, message: fe.message } } };
  request.log.error({ err: error }, 'unexpected error in the HTTP API');
  return { status: 500, body: { error: { code: API_ERROR_CODES.INTERNAL, message: 'internal error; see the controller log' } } };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } } satisfies ApiErrorBody);
}
