import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import SCIMMYRouters, { SCIMMY } from 'scimmy-routers';

/** A request the peer received, as it answered it. */
export interface ScimRequest {
  method: string;
  /** Path and query, e.g. `/scim/v2/Users?filter=...`. */
  path: string;
  contentType: string | null;
  authorization: string | null;
  body: unknown;
  status: number;
  /** When the request arrived and when its answer was sent (how many were in flight at once, in tests). */
  at: Date;
  answeredAt: Date;
}

/** A resource as the peer holds it (SCIM JSON, `id` and `meta` included). */
export type ScimResource = Record<string, unknown> & { id: string };

export interface ScimPeerOptions {
  /** The bearer token the peer accepts (default: a random one, `peer.token`). */
  token?: string;
  /**
   * OAuth 2.0 client credentials: the peer also serves `POST /oauth/token`
   * (`grant_type=client_credentials`) and accepts the tokens it issued.
   */
  oauth?: { clientId: string; clientSecret: string; expiresInSeconds?: number };
}

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** What the peer does to the requests it is sent, set by its switches. */
interface Switches {
  throttle: { count: number; retryAfterSeconds: number; status: 429 | 503 };
  failures: { count: number; status: number };
  latencyMs: number;
  rejected: Map<string, string>;
  /** Every PATCH answers this status (a provider without PATCH: 501 or 405); null: PATCH works. */
  patchStatus: number | null;
}

/** One store per peer: SCIMMY's resources are global, so handlers find theirs in the context. */
class PeerStore {
  readonly users = new Map<string, ScimResource>();
  readonly groups = new Map<string, ScimResource>();
  readonly userByName = new Map<string, string>();
  readonly userByExternalId = new Map<string, string>();
  readonly groupByName = new Map<string, string>();
  readonly groupByExternalId = new Map<string, string>();
  constructor(readonly switches: Switches) {}
}

/** SCIMMY's filter is an array of expressions (`[{userName: ['eq', 'x']}]`) with `match()`. */
type ScimmyResource = {
  id?: string;
  constraints?: { count?: number; totalResults?: number };
  filter?: Array<Record<string, unknown>> & { match(values: unknown[]): unknown[] };
};
type Context = { store: PeerStore };

function scimError(status: number, scimType: string | null, detail: string): Error {
  return new SCIMMY.Types.Error(status, scimType as never, detail);
}

/**
 * Filters of `eq` terms on indexed attributes joined by `or` (`userName eq "x" or externalId eq "y"`)
 * are answered from the indexes; any other filter by SCIMMY's matcher over every resource.
 * (SCIMMY gives a filter as an array of alternatives, each an object of ANDed terms.)
 */
function byFilter(
  resource: ScimmyResource,
  all: Map<string, ScimResource>,
  indexes: Record<string, Map<string, string>>,
): ScimResource[] {
  const expression = resource.filter;
  if (Array.isArray(expression) && expression.length > 0) {
    const ids = new Set<string>();
    let indexed = true;
    for (const alternative of expression) {
      const keys = Object.keys(alternative);
      const test = keys.length === 1 ? alternative[keys[0]!] : undefined;
      const index = keys.length === 1 ? indexes[keys[0]!.toLowerCase()] : undefined;
      if (!index || !Array.isArray(test) || test[0] !== 'eq' || typeof test[1] !== 'string') {
        indexed = false;
        break;
      }
      const id = index.get(keys[0]!.toLowerCase() === 'username' ? test[1].toLowerCase() : test[1]);
      if (id !== undefined) ids.add(id);
    }
    if (indexed) return [...ids].map((id) => all.get(id)!).filter(Boolean);
  }
  const values = [...all.values()];
  return resource.filter ? (resource.filter.match(values) as ScimResource[]) : values;
}

/**
 * `count=0` without a filter (how many are there?): answered with the total alone. SCIMMY would
 * otherwise build every resource before it pages, which takes seconds at 10,000.
 */
function countOnly(resource: ScimmyResource, total: number): boolean {
  if (resource.filter || !resource.constraints || Number(resource.constraints.count) !== 0) return false;
  resource.constraints.totalResults = total;
  return true;
}

function plain(instance: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(instance)) as Record<string, unknown>;
}

/** SCIMMY's handler registration, typed as this file uses it (its own types want schema instances). */
interface Declared {
  egress(handler: (resource: ScimmyResource, ctx: Context) => unknown): Declared;
  ingress(handler: (resource: ScimmyResource, instance: unknown, ctx: Context) => unknown): Declared;
  degress(handler: (resource: ScimmyResource, ctx: Context) => void): Declared;
}

let declared = false;

/** Declares SCIMMY's User (with the enterprise extension) and Group once per process. */
function declareResources(): void {
  if (declared) return;
  declared = true;
  (SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false)) as unknown as Declared)
    .egress((resource: ScimmyResource, ctx: Context) => {
      const s = ctx.store;
      if (resource.id) {
        const found = s.users.get(resource.id);
        if (!found) throw scimError(404, null, `Resource ${resource.id} not found`);
        return found;
      }
      if (countOnly(resource, s.users.size)) return [];
      return byFilter(resource, s.users, { username: s.userByName, externalid: s.userByExternalId });
    })
    .ingress((resource: ScimmyResource, instance: unknown, ctx: Context) => {
      const s = ctx.store;
      const data = plain(instance);
      const userName = String(data.userName ?? '');
      const rejected = s.switches.rejected.get(userName.toLowerCase());
      if (rejected !== undefined) throw scimError(400, 'invalidValue', rejected);
      const owner = s.userByName.get(userName.toLowerCase());
      if (owner !== undefined && owner !== resource.id)
        throw scimError(409, 'uniqueness', `userName ${userName} is already taken`);
      const before = resource.id ? s.users.get(resource.id) : undefined;
      if (resource.id && !before) throw scimError(404, null, `Resource ${resource.id} not found`);
      const now = new Date().toISOString();
      const id = resource.id ?? randomUUID();
      const created = (before?.meta as { created?: string } | undefined)?.created ?? now;
      const stored: ScimResource = { ...data, id, meta: { resourceType: 'User', created, lastModified: now } };
      if (before) {
        s.userByName.delete(String(before.userName ?? '').toLowerCase());
        if (before.externalId !== undefined) s.userByExternalId.delete(String(before.externalId));
      }
      s.users.set(id, stored);
      s.userByName.set(userName.toLowerCase(), id);
      if (data.externalId !== undefined) s.userByExternalId.set(String(data.externalId), id);
      return stored;
    })
    .degress((resource: ScimmyResource, ctx: Context) => {
      const s = ctx.store;
      const before = resource.id ? s.users.get(resource.id) : undefined;
      if (!before) throw scimError(404, null, `Resource ${resource.id} not found`);
      s.users.delete(before.id);
      s.userByName.delete(String(before.userName ?? '').toLowerCase());
      if (before.externalId !== undefined) s.userByExternalId.delete(String(before.externalId));
      for (const g of s.groups.values()) {
        const members = g.members as Array<{ value: string }> | undefined;
        if (members?.some((m) => m.value === before.id)) g.members = members.filter((m) => m.value !== before.id);
      }
    });
  (SCIMMY.Resources.declare(SCIMMY.Resources.Group) as unknown as Declared)
    .egress((resource: ScimmyResource, ctx: Context) => {
      const s = ctx.store;
      if (resource.id) {
        const found = s.groups.get(resource.id);
        if (!found) throw scimError(404, null, `Resource ${resource.id} not found`);
        return found;
      }
      if (countOnly(resource, s.groups.size)) return [];
      return byFilter(resource, s.groups, { displayname: s.groupByName, externalid: s.groupByExternalId });
    })
    .ingress((resource: ScimmyResource, instance: unknown, ctx: Context) => {
      const s = ctx.store;
      const data = plain(instance);
      const displayName = String(data.displayName ?? '');
      const owner = s.groupByName.get(displayName);
      if (owner !== undefined && owner !== resource.id)
        throw scimError(409, 'uniqueness', `displayName ${displayName} is already taken`);
      const before = resource.id ? s.groups.get(resource.id) : undefined;
      if (resource.id && !before) throw scimError(404, null, `Resource ${resource.id} not found`);
      const members = (data.members as Array<{ value: string }> | undefined) ?? [];
      for (const m of members)
        if (!s.users.has(m.value) && !s.groups.has(m.value))
          throw scimError(400, 'invalidValue', `member ${m.value} does not exist`);
      const now = new Date().toISOString();
      const id = resource.id ?? randomUUID();
      const created = (before?.meta as { created?: string } | undefined)?.created ?? now;
      const stored: ScimResource = { ...data, members, id, meta: { resourceType: 'Group', created, lastModified: now } };
      if (before) {
        s.groupByName.delete(String(before.displayName ?? ''));
        if (before.externalId !== undefined) s.groupByExternalId.delete(String(before.externalId));
      }
      s.groups.set(id, stored);
      s.groupByName.set(displayName, id);
      if (data.externalId !== undefined) s.groupByExternalId.set(String(data.externalId), id);
      return stored;
    })
    .degress((resource: ScimmyResource, ctx: Context) => {
      const s = ctx.store;
      const before = resource.id ? s.groups.get(resource.id) : undefined;
      if (!before) throw scimError(404, null, `Resource ${resource.id} not found`);
      s.groups.delete(before.id);
      s.groupByName.delete(String(before.displayName ?? ''));
      if (before.externalId !== undefined) s.groupByExternalId.delete(String(before.externalId));
    });
}

/**
 * A real SCIM 2.0 service provider (SCIMMY with its Express routers) on a free loopback
 * port, keeping users (with the enterprise extension) and groups in memory. It records
 * every request, and has switches for the failures a SCIM client must survive: 429 or 503
 * with `Retry-After`, 500s, latency, and a permanent 400 for one user.
 *
 * SCIMMY's resource declarations are process-wide, so several peers share the handlers,
 * which find each peer's own store in the request's context.
 */
export class ScimPeer {
  readonly requests: ScimRequest[] = [];
  private readonly switches: Switches = {
    throttle: { count: 0, retryAfterSeconds: 1, status: 429 },
    failures: { count: 0, status: 500 },
    latencyMs: 0,
    rejected: new Map(),
    patchStatus: null,
  };
  private readonly store = new PeerStore(this.switches);
  private readonly issued = new Map<string, number>();
  private server?: Server;
  private port = 0;

  private constructor(
    readonly token: string,
    private readonly oauth: ScimPeerOptions['oauth'],
  ) {}

  /** The SCIM base URL, `http://127.0.0.1:<port>/scim/v2`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/scim/v2`;
  }

  /** The OAuth token endpoint (only with `oauth` options). */
  get tokenUrl(): string {
    return `http://127.0.0.1:${this.port}/oauth/token`;
  }

  static async start(options: ScimPeerOptions = {}): Promise<ScimPeer> {
    declareResources();
    const peer = new ScimPeer(options.token ?? randomUUID(), options.oauth);
    await peer.listen();
    return peer;
  }

  private async listen(): Promise<void> {
    const app = express();
    app.disable('x-powered-by');
    app.use((req, res, next) => {
      const at = new Date();
      res.on('finish', () => {
        this.requests.push({
          method: req.method,
          path: req.originalUrl,
          contentType: req.headers['content-type'] ?? null,
          authorization: req.headers.authorization ?? null,
          body: (req as { body?: unknown }).body ?? null,
          status: res.statusCode,
          at,
          answeredAt: new Date(),
        });
      });
      next();
    });
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => {
      const body = req.body as Record<string, string | undefined>;
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      const [id, secret] = basic
        ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')
        : [body.client_id, body.client_secret];
      if (!this.oauth || body.grant_type !== 'client_credentials') {
        res.status(400).json({ error: 'unsupported_grant_type' });
        return;
      }
      if (id !== this.oauth.clientId || secret !== this.oauth.clientSecret) {
        res.status(401).json({ error: 'invalid_client' });
        return;
      }
      const token = randomUUID();
      const expiresIn = this.oauth.expiresInSeconds ?? 3600;
      this.issued.set(token, Date.now() + expiresIn * 1000);
      res.json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn });
    });
    app.use('/scim/v2', (req, res, next) => {
      const sw = this.switches;
      const go = (): void => {
        if (sw.throttle.count > 0) {
          sw.throttle.count -= 1;
          res
            .status(sw.throttle.status)
            .set('Retry-After', String(sw.throttle.retryAfterSeconds))
            .type('application/scim+json')
            .send(JSON.stringify(errorBody(sw.throttle.status, null, 'Too many requests')));
          return;
        }
        if (sw.patchStatus !== null && req.method === 'PATCH') {
          res
            .status(sw.patchStatus)
            .type('application/scim+json')
            .send(JSON.stringify(errorBody(sw.patchStatus, null, 'PATCH is not supported by this provider')));
          return;
        }
        if (sw.failures.count > 0) {
          sw.failures.count -= 1;
          res
            .status(sw.failures.status)
            .type('application/scim+json')
            .send(JSON.stringify(errorBody(sw.failures.status, null, 'Injected failure')));
          return;
        }
        next();
      };
      if (sw.latencyMs > 0) setTimeout(go, sw.latencyMs);
      else go();
    });
    app.use(
      '/scim/v2',
      new SCIMMYRouters({
        type: 'bearer',
        handler: (req) => {
          const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
          const token = m?.[1];
          const expires = token === undefined ? undefined : this.issued.get(token);
          if (token !== this.token && (expires === undefined || expires < Date.now())) throw new Error('Authorization failure');
          return 'syncguard';
        },
        context: (): Context => ({ store: this.store }),
      }),
    );
    await new Promise<void>((resolve, reject) => {
      const server = app.listen(0, '127.0.0.1', () => resolve());
      server.once('error', reject);
      server.keepAliveTimeout = 30_000;
      this.server = server;
    });
    this.port = (this.server!.address() as AddressInfo).port;
  }

  /** The users the peer holds. */
  users(): ScimResource[] {
    return [...this.store.users.values()];
  }

  groups(): ScimResource[] {
    return [...this.store.groups.values()];
  }

  user(userName: string): ScimResource | undefined {
    const id = this.store.userByName.get(userName.toLowerCase());
    return id === undefined ? undefined : this.store.users.get(id);
  }

  group(displayName: string): ScimResource | undefined {
    const id = this.store.groupByName.get(displayName);
    return id === undefined ? undefined : this.store.groups.get(id);
  }

  /** The next `count` SCIM requests answer `status` (429 or 503) with `Retry-After: retryAfterSeconds`. */
  throttle(count: number, retryAfterSeconds = 1, status: 429 | 503 = 429): void {
    this.switches.throttle = { count, retryAfterSeconds, status };
  }

  /** The next `count` SCIM requests answer `status` (500 by default). */
  fail(count: number, status = 500): void {
    this.switches.failures = { count, status };
  }

  /** Every SCIM request waits this long before it is answered. */
  latency(ms: number): void {
    this.switches.latencyMs = ms;
  }

  /**
   * Every PATCH answers `status` (501 or 405: a provider that supports only PUT; a 5xx: a
   * PATCH that keeps failing); null makes PATCH work again.
   */
  refusePatch(status: number | null = 501): void {
    this.switches.patchStatus = status;
  }

  /** Creating or changing this user answers a permanent 400 (`invalidValue`, with `detail`); null detail lifts it. */
  reject(userName: string, detail: string | null = 'rejected by the test peer'): void {
    if (detail === null) this.switches.rejected.delete(userName.toLowerCase());
    else this.switches.rejected.set(userName.toLowerCase(), detail);
  }

  /** Requests that change something (POST, PUT, PATCH, DELETE). */
  writes(): ScimRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function errorBody(status: number, scimType: string | null, detail: string): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: String(status),
    ...(scimType ? { scimType } : {}),
    detail,
  };
}

export { ENTERPRISE as ENTERPRISE_USER_SCHEMA };
