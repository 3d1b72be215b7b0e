import http from 'node:http';
import https from 'node:https';
/**
 * The CLI's client of the controller's HTTP API (Node's global fetch). Every failure
 * becomes a CliError whose message is the API's own error message.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    /** HTTP status, when the API answered. */
    readonly status?: number,
    /** The API's error code, when it gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Connection settings of the CLI beyond URL and token. */
export interface ApiClientOptions {
  /** PEM CA(s) that sign the controller's certificate (SYNCGUARD_CA_FILE / --ca-file). Default: the system CAs. */
  ca?: Buffer;
  /** Longest wait for one call, in ms (SYNCGUARD_TIMEOUT / --timeout). Default 30000. */
  timeoutMs?: number;
}

/** TLS verification failures Node reports, with what the user can do about them. */
const TLS_TRUST_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

export class ApiClient {
  private readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
    private readonly options: ApiClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const url = new URL(`${this.baseUrl.replace(/\/+$/, '')}${path}`);
    const res = await this.send(method, url, headers, payload);
    const text = res.body;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status < 200 || res.status >= 300) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const message = error?.message ?? (text.trim() || `HTTP ${res.status}`);
      throw new CliError(`${message} (HTTP ${res.status}${error?.code ? `, ${error.code}` : ''})`, res.status, error?.code);
    }
    return json as T;
  }

  private send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<{ status: number; body: string }> {
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, ca: this.options.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error) => reject(this.unreachable(error)));
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(
          new CliError(
            `the controller at ${this.baseUrl} did not answer within ${this.timeoutMs / 1000} s ` +
              '(its Redis may be unavailable: see its /healthz); raise --timeout to wait longer',
          ),
        );
      });
      req.on('error', (error) => reject(error instanceof CliError ? error : this.unreachable(error)));
      req.end(payload);
    });
  }

  private unreachable(error: Error): CliError {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (TLS_TRUST_ERRORS.has(code))
      return new CliError(
        `cannot verify the controller's TLS certificate at ${this.baseUrl} (${code}): ` +
          'pass its CA with --ca-file FILE (or SYNCGUARD_CA_FILE)',
      );
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return new CliError(`the controller's certificate does not name the host of ${this.baseUrl}: ${error.message}`);
    return new CliError(`cannot reach the controller at ${this.baseUrl}: ${code || error.message}`);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Every item of a paginated list, following nextCursor. */
  async all<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: T[]; nextCursor?: string | null } = await this.get(
        withQuery(path, { ...query, limit: '1000', cursor: cursor ?? undefined }),
      );
      items.push(...page.items);
      cursor = page.nextCursor ?? null;
    } while (cursor);
    return items;
  }
}

/** `path?k=v&...` with undefined values left out. */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}
