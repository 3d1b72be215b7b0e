/** How the client authenticates, with its secrets opened. */
export type ScimCredentials =
  | { type: 'bearer'; token: string }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret: string; scope: string | null };

export interface ScimClientOptions {
  /** The base URL, without a trailing slash. */
  baseUrl: string;
  credentials: ScimCredentials;
  /** Requests in flight at once. */
  concurrency: number;
  /** Most requests started per second; null: no limit. */
  maxRequestsPerSecond: number | null;
  /** One request's time limit, in ms; then it is retried like a 5xx. */
  timeoutMs: number;
  /** Attempts of one request before its transient error is given up on. Default 6. */
  maxAttempts?: number;
  /** First backoff after a 5xx or a timeout, in ms, doubled each attempt (with jitter). Default 250. */
  backoffMs?: number;
  /** The longest `Retry-After` honoured, in ms (a longer one is cut to it). Default 60000. */
  maxRetryAfterMs?: number;
}

/** An answer of the service provider (any status but the transient ones, which are retried). */
export interface ScimResponse {
  status: number;
  body: Record<string, unknown> | null;
}

/** The service provider could not be reached or kept answering 429, 503, 5xx (but 501) or timing out, through every attempt. */
export class ScimTransientError extends Error {
  override name = 'ScimTransientError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The text of a SCIM error answer: `HTTP 400 invalidValue: detail`. */
export function describeScimError(response: ScimResponse): string {
  const b = response.body ?? {};
  const scimType = typeof b.scimType === 'string' ? ` ${b.scimType}` : '';
  const detail = typeof b.detail === 'string' ? `: ${b.detail}` : '';
  return `HTTP ${response.status}${scimType}${detail}`;
}

const SCIM_JSON = 'application/scim+json';

/** Retry-After as delta-seconds or an HTTP date, in ms from now. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * HTTP to one SCIM service provider: `application/scim+json`, bearer or OAuth 2.0 client
 * credentials (the token fetched, cached until shortly before it expires, fetched again on a
 * 401), at most `concurrency` requests in flight and `maxRequestsPerSecond` started, 429 and
 * 503 honouring `Retry-After` (every request of the client waits, not only the throttled
 * one), 5xx, network errors and timeouts retried with exponential backoff and jitter.
 */
export class ScimClient {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private pausedUntil = 0;
  private nextStartAt = 0;
  private token: { value: string; expiresAt: number } | null = null;
  private tokenPending: Promise<string> | null = null;
  /** Requests sent (attempts included), for tests and metrics. */
  requestsSent = 0;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;

  constructor(private readonly options: ScimClientOptions) {
    this.maxAttempts = options.maxAttempts ?? 6;
    this.backoffMs = options.backoffMs ?? 250;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  }

  /** Sends one request (path relative to the base URL), retrying transient failures. */
  async request(method: string, path: string, body?: unknown): Promise<ScimResponse> {
    let lastError = '';
    let lastRetryAfter: number | undefined;
    let refreshed = false;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      await this.acquire();
      let outcome: { response?: ScimResponse; transient?: string; retryAfter?: number };
      try {
        outcome = await this.once(method, path, body);
      } finally {
        this.release();
      }
      if (outcome.response) {
        if (outcome.response.status === 401 && this.options.credentials.type === 'oauth2' && !refreshed) {
          // The cached token may have been revoked or expired early: fetch another, once.
          refreshed = true;
          this.token = null;
          attempt -= 1;
          continue;
        }
        return outcome.response;
      }
      lastError = outcome.transient ?? 'unknown error';
      lastRetryAfter = outcome.retryAfter;
      if (attempt === this.maxAttempts) break;
      if (outcome.retryAfter !== undefined) {
        // Throttled: the whole client waits, so that every request slows down, not only this one.
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + Math.min(outcome.retryAfter, this.maxRetryAfterMs));
      } else {
        const backoff = this.backoffMs * 2 ** (attempt - 1);
        await sleep(backoff / 2 + Math.random() * backoff);
      }
    }
    throw new ScimTransientError(`${lastError} (after ${this.maxAttempts} attempts)`, lastRetryAfter);
  }

  private async once(
    method: string,
    path: string,
    body: unknown,
  ): Promise<{ response?: ScimResponse; transient?: string; retryAfter?: number }> {
    let token: string;
    try {
      token = await this.bearer();
    } catch (error) {
      return { transient: `the OAuth token could not be fetched: ${(error as Error).message}` };
    }
    this.requestsSent += 1;
    let res: Response;
    try {
      res = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          accept: SCIM_JSON,
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': SCIM_JSON }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `timed out after ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.message);
      return { transient: `${method} ${path}: ${why}` };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      return { transient: `${method} ${path}: the answer was cut off: ${(error as Error).message}` };
    }
    let parsed: Record<string, unknown> | null = null;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { detail: text.slice(0, 200) };
      }
    }
    const response: ScimResponse = { status: res.status, body: parsed };
    if (res.status === 429 || res.status === 503) {
      const wait = retryAfterMs(res.headers.get('retry-after')) ?? this.backoffMs * 4;
      return { transient: `${method} ${path}: ${describeScimError(response)}`, retryAfter: wait };
    }
    // 501 Not Implemented is the provider's lasting answer (a method it lacks, PATCH say), not a passing failure.
    if (res.status >= 500 && res.status !== 501) return { transient: `${method} ${path}: ${describeScimError(response)}` };
    return { response };
  }

  /** The bearer token: the configured one, or the OAuth token (fetched once for concurrent callers). */
  private async bearer(): Promise<string> {
    const c = this.options.credentials;
    if (c.type === 'bearer') return c.token;
    if (this.token && this.token.expiresAt > Date.now()) return this.token.value;
    this.tokenPending ??= this.fetchToken(c).finally(() => {
      this.tokenPending = null;
    });
    return this.tokenPending;
  }

  private async fetchToken(c: Extract<ScimCredentials, { type: 'oauth2' }>): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (c.scope) form.set('scope', c.scope);
    const basic = Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64');
    const res = await fetch(c.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${basic}`,
        accept: 'application/json',
      },
      body: form.toString(),
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    if (!res.ok || typeof body.access_token !== 'string')
      throw new Error(`the token endpoint answered HTTP ${res.status}${typeof body.error === 'string' ? ` ${body.error}` : ''}`);
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 3600_000;
    // Refreshed a minute (or a tenth of its life, for short ones) before it expires.
    this.token = { value: body.access_token, expiresAt: Date.now() + lifetimeMs - Math.min(60_000, lifetimeMs / 10) };
    return body.access_token;
  }

  /** Waits for a slot (concurrency), the end of a throttling pause and the rate limit. */
  private async acquire(): Promise<void> {
    // A released slot is handed to the first waiter as it is (inFlight unchanged), so none is overtaken.
    if (this.inFlight >= this.options.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight += 1;
    for (;;) {
      const now = Date.now();
      const wait = Math.max(this.pausedUntil - now, this.rateWait(now));
      if (wait <= 0) break;
      await sleep(wait);
    }
  }

  /** Reserves the next start time of the rate limit; how long to wait for it. */
  private rateWait(now: number): number {
    const rps = this.options.maxRequestsPerSecond;
    if (rps === null) return 0;
    const interval = 1000 / rps;
    if (this.nextStartAt <= now) {
      this.nextStartAt = now + interval;
      return 0;
    }
    return this.nextStartAt - now;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight -= 1;
  }
}
