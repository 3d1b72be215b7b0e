import type {
  Agent,
  AllowDeletesResult,
  Configuration,
  ConfigurationPatch,
  ConfigurationStatus,
  Cycle,
  DeleteApproval,
  KeptDeleteResult,
  KeptObject,
  Page,
  Preview,
  ProvisioningAction,
  ProvisioningLogEntry,
  RejectResult,
  Role,
  StagedDeleteGroup,
} from './model';

/**
 * An answer of the API that is not 2xx, or a call that did not reach it. `status` is 0
 * when the network failed; `field` is the dot path a 400 message names
 * (`accidentalDeletes.threshold: must be >= 1` -> `accidentalDeletes.threshold`), and
 * `detail` the message without it (`must be >= 1`), for display next to that field.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly detail: string;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    detail?: string,
  ) {
    super(message);
    this.detail = detail ?? message;
  }
}

const FIELD_PREFIX = /^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*):\s+(.+)$/s;
// Fastify's schema validation: "body/accidentalDeletes/threshold must be >= 1".
const SCHEMA_PATH = /^body\/([\w/]+)\s+(.+)$/s;

/**
 * Reads the field a validation message names: the API's `field: message` form, or a
 * Fastify schema message (`body/a/b must ...`). Null when it names none.
 */
export function parseFieldMessage(message: string): { field: string; detail: string } | null {
  const m = FIELD_PREFIX.exec(message);
  if (m) return { field: m[1]!, detail: m[2]! };
  const s = SCHEMA_PATH.exec(message);
  if (s) return { field: s[1]!.split('/').filter(Boolean).join('.'), detail: s[2]! };
  return null;
}

/** Builds an ApiError from a non-2xx answer whose body may or may not be the API's error JSON. */
export function apiErrorFrom(status: number, body: unknown, statusText = ''): ApiError {
  const err = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' ? err.code : `HTTP_${status}`;
  let message = typeof err?.message === 'string' && err.message ? err.message : '';
  if (!message) {
    // Fastify's own errors answer {statusCode, error, message}.
    const fastify = body as { message?: unknown } | null;
    message = typeof fastify?.message === 'string' && fastify.message ? fastify.message : defaultMessage(status, statusText);
  }
  if (status !== 400) return new ApiError(status, code, message);
  // The API names the field in `error.field` and again at the start of the message.
  const named = parseFieldMessage(message);
  if (typeof err?.field === 'string' && err.field) {
    const detail = message.startsWith(`${err.field}: `) ? message.slice(err.field.length + 2) : message;
    return new ApiError(status, code, message, err.field, detail);
  }
  return new ApiError(status, code, message, named?.field ?? null, named?.detail);
}

function defaultMessage(status: number, statusText: string): string {
  switch (status) {
    case 401:
      return 'The API token is missing, unknown or revoked.';
    case 403:
      return 'Your token’s role does not allow this.';
    case 404:
      return 'Not found.';
    case 409:
      return 'This does not fit the current state.';
    default:
      return `The controller answered ${status}${statusText ? ` ${statusText}` : ''}.`;
  }
}

type Query = Record<string, string | number | null | undefined>;

/** Appends the query's set values (empty strings, null and undefined are left out). */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  token: string;
  /** Prefix of every path; default '/api/v1' (same origin). */
  baseUrl?: string;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Called on every 401, e.g. to send the user back to sign-in. */
  onUnauthorized?: (error: ApiError) => void;
}

export interface LogQuery {
  action?: ProvisioningAction | '';
  cycleId?: string;
  dn?: string;
  limit?: number;
  cursor?: string | null;
}

/** The controller's HTTP API as the portal uses it. One instance per signed-in token. */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchFn: FetchLike;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = (options.baseUrl ?? '/api/v1').replace(/\/$/, '');
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.options.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new ApiError(0, 'NETWORK', `Cannot reach the controller (${(cause as Error)?.message ?? String(cause)}).`);
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!res.ok) {
      const error = apiErrorFrom(res.status, parsed, res.statusText);
      if (res.status === 401) this.options.onUnauthorized?.(error);
      throw error;
    }
    return parsed as T;
  }

  /**
   * The token's role: `GET /tokens` needs admin, so 200 means admin and 403 reader.
   * Any other answer (an older controller without the route) gives null: the portal then
   * shows the admin actions and lets the API refuse them.
   */
  async role(): Promise<Role | null> {
    try {
      await this.request('GET', '/tokens');
      return 'admin';
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) return 'reader';
      if (e instanceof ApiError && e.status === 401) throw e;
      return null;
    }
  }

  /** Every item of a paginated list (configurations, agents: a handful), following nextCursor. */
  async listAll<T>(path: string, maxPages = 20): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < maxPages; i++) {
      const body: T[] | Page<T> = await this.request('GET', withQuery(path, { limit: 100, cursor }));
      all.push(...listOf(body));
      cursor = Array.isArray(body) ? null : (body?.nextCursor ?? null);
      if (!cursor) break;
    }
    return all;
  }

  listConfigurations(): Promise<Configuration[]> {
    return this.listAll<Configuration>('/configurations');
  }
  getConfiguration(id: string): Promise<Configuration> {
    return this.request('GET', `/configurations/${encodeURIComponent(id)}`);
  }
  updateConfiguration(id: string, patch: ConfigurationPatch): Promise<Configuration> {
    return this.request('PATCH', `/configurations/${encodeURIComponent(id)}`, patch);
  }
  /** Starts a preview of a configuration patch (nothing is applied); read it with getPreview. */
  startPreview(id: string, patch: ConfigurationPatch): Promise<{ previewId: string }> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/preview`, patch);
  }
  getPreview(id: string, previewId: string): Promise<Preview> {
    return this.request('GET', `/configurations/${encodeURIComponent(id)}/previews/${encodeURIComponent(previewId)}`);
  }
  getStatus(id: string): Promise<ConfigurationStatus> {
    return this.request('GET', `/configurations/${encodeURIComponent(id)}/status`);
  }
  listCycles(id: string, limit = 10): Promise<Cycle[]> {
    return this.request<Cycle[] | Page<Cycle>>(
      'GET',
      withQuery(`/configurations/${encodeURIComponent(id)}/cycles`, { limit }),
    ).then(listOf);
  }
  startCycle(id: string): Promise<{ cycleId: string }> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/cycles`, {});
  }
  listLogs(id: string, q: LogQuery): Promise<Page<ProvisioningLogEntry>> {
    return this.request<Page<ProvisioningLogEntry>>(
      'GET',
      withQuery(`/configurations/${encodeURIComponent(id)}/provisioning-logs`, {
        action: q.action,
        cycleId: q.cycleId,
        dn: q.dn,
        limit: q.limit,
        cursor: q.cursor,
      }),
    ).then((p) => ({ items: p?.items ?? [], nextCursor: p?.nextCursor ?? null }));
  }
  /** The quarantine's held deletes by cause, parent DN or type (empty groups while not quarantined). */
  stagedGroups(id: string, groupBy: 'cause' | 'parent' | 'type'): Promise<StagedDeleteGroup[]> {
    return this.request<{ groups?: StagedDeleteGroup[] }>(
      'GET',
      withQuery(`/configurations/${encodeURIComponent(id)}/staged-deletes`, { groupBy }),
    ).then((r) => r?.groups ?? []);
  }
  /** The configuration's pre-approvals of deletes (active, used, expired and revoked), newest first. */
  listDeleteApprovals(id: string): Promise<DeleteApproval[]> {
    return this.request<DeleteApproval[] | { items?: DeleteApproval[] }>(
      'GET',
      `/configurations/${encodeURIComponent(id)}/delete-approvals`,
    ).then(listOf);
  }
  /** Approves a planned change ahead: the next cycle with at most `maxDeletes` deletes before it expires is applied, once. */
  createDeleteApproval(
    id: string,
    body: { maxDeletes: number; expiresInHours: number; reason: string },
  ): Promise<DeleteApproval> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/delete-approvals`, body);
  }
  revokeDeleteApproval(id: string, approvalId: string): Promise<unknown> {
    return this.request('DELETE', `/configurations/${encodeURIComponent(id)}/delete-approvals/${encodeURIComponent(approvalId)}`);
  }
  /** Sends a test event to every recipient and webhook of the configuration. */
  testNotifications(id: string): Promise<{ eventId: string; deliveries: number }> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/notifications/test`, {});
  }
  /** `{}`: every staged delete; `{parentDns}` / `{objectIds}`: those only, the others become kept objects. */
  allowDeletes(id: string, choice: { parentDns?: string[]; objectIds?: string[] } = {}): Promise<AllowDeletesResult> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/allow-deletes`, choice);
  }
  /** Keeps the staged deletes (all, or `objectIds`): they stay in the target as kept objects. */
  rejectDeletes(id: string, choice: { objectIds?: string[] } = {}): Promise<RejectResult> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/reject-deletes`, choice);
  }
  /** The kept objects (the first 500). */
  listKept(id: string): Promise<KeptObject[]> {
    return this.request<Page<KeptObject>>(
      'GET',
      withQuery(`/configurations/${encodeURIComponent(id)}/kept-objects`, { limit: 500 }),
    ).then(listOf);
  }
  /** Deletes kept objects from the target (audited). */
  deleteKept(id: string, objectIds: string[]): Promise<KeptDeleteResult> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/kept-objects/delete`, { objectIds });
  }
  restart(id: string): Promise<unknown> {
    return this.request('POST', `/configurations/${encodeURIComponent(id)}/restart`, {});
  }
  listAgents(): Promise<Agent[]> {
    return this.listAll<Agent>('/agents');
  }
  getAgent(id: string): Promise<Agent> {
    return this.request('GET', `/agents/${encodeURIComponent(id)}`);
  }
}

/** Lists may come bare or as a `{items}` page; the portal takes either. */
export function listOf<T>(body: T[] | Page<T> | { items?: T[] } | null | undefined): T[] {
  if (Array.isArray(body)) return body;
  return body?.items ?? [];
}
