import { AjvCompiler } from '@fastify/ajv-compiler';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AuthFailureLimiter } from '../auth/auth-failure-limiter';
import { authHook } from './auth-hook';
import { Authenticator } from '../auth/authenticator';
import type { HttpStores } from '../store/http-stores';
import { DEFAULT_HTTP_SECURITY, type HttpSecurityOptions } from '../controller-options';
import type { ControllerService } from '../controller-service';
import type { ControllerMetrics } from '../metrics';
import { redactRequestUrl } from '../redact';
import { agentRoutes } from './agent-routes';
import type { ApiContext } from './api-context';
import { auditRoutes } from './audit-routes';
import { configurationRoutes } from './configuration-routes';
import { API_ERROR_CODES, sendError, toApiError } from './errors';
import { DEFAULT_PORTAL_DIR, registerPortal } from './portal';
import { registerQueuesDashboard } from './queues-dashboard';
import { scimRoutes } from './scim-routes';
import { sharedSchemas } from './schemas';
import { refreshScrapeGauges } from './scrape';
import { tokenRoutes } from './token-routes';
import { notificationRoutes } from './notification-routes';
import { stagedDeleteRoutes } from './staged-delete-routes';
import { deleteApprovalRoutes } from './delete-approval-routes';
import { previewRoutes } from './preview-routes';

/** What the HTTP layer needs from the rest of the controller. */
export interface HttpAppDeps {
  service: ControllerService;
  metrics: ControllerMetrics;
  /** API tokens, failed authentications, dashboard sessions (store/http-stores.ts builds them). */
  stores: HttpStores;
  /** The bootstrap admin token (SYNCGUARD_ADMIN_TOKEN). */
  adminToken: string;
  logger: Logger;
  /** BullMQ queues to show in the /admin/queues dashboard. */
  queues?: readonly import('bullmq').Queue[];
  /**
   * The web portal's build folder, served at `/` when it holds an index.html. Default
   * packages/portal/dist (resolved from this file); `false` serves no portal.
   */
  portalDir?: string | false;
  /** Version shown in the OpenAPI document. Default the controller package's. */
  version?: string;
  /** Rate limit of failed authentications, trusted proxies. Default DEFAULT_HTTP_SECURITY. (The dashboard session TTL is the stores'.) */
  security?: HttpSecurityOptions;
}

export const API_PREFIX = '/api/v1';
/** How long /healthz waits for Redis's PING before it answers 503. */
const HEALTH_TIMEOUT_MS = 1000;
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;

function packageVersion(): string {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Ajv settings of every request part; only query strings, params and headers are converted. */
const AJV_OPTIONS = { removeAdditional: false, useDefaults: true, allErrors: false } as const;

/**
 * Bodies are validated as typed: `{"enabled": null}` or `{"threshold": "10"}` is a 400
 * naming the field, never a false or a 10 (a coerced body could switch the guard off).
 * Query strings, path params and headers are text on the wire and are still converted
 * (`?limit=10`).
 */
function buildValidator() {
  const pool = AjvCompiler();
  type Externals = Parameters<typeof pool>[0];
  type Options = NonNullable<Parameters<typeof pool>[1]> & { mode?: never };
  // The pool's compile function takes Fastify's route definition ({schema, httpPart, ...}).
  type Compile = (route: { httpPart?: string }) => unknown;
  return (externalSchemas: Externals, ajvOptions: Options = {}) => {
    const strict = pool(externalSchemas, { ...ajvOptions, customOptions: { ...AJV_OPTIONS, coerceTypes: false } });
    const converting = pool(externalSchemas, { ...ajvOptions, customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } });
    return (route: { httpPart?: string }) => ((route.httpPart === 'body' ? strict : converting) as unknown as Compile)(route);
  };
}

/**
 * Never a secret in the request log: Fastify's `req` serializer with secret query
 * parameters (`?token=`) replaced, and no headers; `redact` covers headers and cookies
 * wherever a line carries them.
 */
const SAFE_LOG_OPTIONS = {
  serializers: {
    req: (request: FastifyRequest) => ({
      method: request.method,
      url: redactRequestUrl(request.url),
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    }),
  },
  redact: {
    paths: [
      'req.headers.authorization',
      'req.headers.cookie',
      'headers.authorization',
      'headers.cookie',
      'res.headers["set-cookie"]',
      'token',
      'secret',
    ],
    censor: '[REDACTED]',
  },
};

/** The Content-Security-Policy of the API and the portal (the dashboard has its own). */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
};

/**
 * Builds the Fastify app: /healthz, /metrics, the /api/v1 routes and their OpenAPI
 * document, the /admin/queues dashboard and the portal. Does not listen; server.ts
 * attaches it to the HTTP server that also carries the agent WebSocket.
 */
export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const security = deps.security ?? DEFAULT_HTTP_SECURITY;
  const httpLogger = deps.logger.child({ component: 'http' }, SAFE_LOG_OPTIONS);
  const app = Fastify({
    loggerInstance: httpLogger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    trustProxy: security.trustProxy.length > 0 ? [...security.trustProxy] : false,
    // Unknown fields are refused (400 naming them), not silently dropped: a typo in a
    // PATCH must not look like success.
    ajv: { customOptions: AJV_OPTIONS },
    schemaController: { compilersFactory: { buildValidator: buildValidator() as never } },
  });
  // X-Content-Type-Options, X-Frame-Options DENY, Referrer-Policy no-referrer and a strict
  // CSP on every answer (upgrade-insecure-requests is left out: plain-HTTP installs exist).
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: { maxAge: 15_552_000, includeSubDomains: false },
  });
  // `curl -XPOST -H 'content-type: application/json' .../allow-deletes` sends no body: an
  // empty JSON body is no body, not a 400 (routes with a body schema still require one).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  });
  const tokens = deps.stores.tokens;
  const auth = new Authenticator(deps.adminToken, tokens);
  const limiter = new AuthFailureLimiter(
    deps.stores.authFailures,
    { limit: security.authFailureLimit, windowMs: security.authFailureWindowMs },
    httpLogger,
  );
  app.decorateRequest('actor', null);

  for (const schema of sharedSchemas) app.addSchema(schema);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'syncguard controller API',
        version: deps.version ?? packageVersion(),
        description:
          'Admin API of syncguard. Every /api/v1 call takes `Authorization: Bearer <token>`: the bootstrap ' +
          'SYNCGUARD_ADMIN_TOKEN or a token from POST /api/v1/tokens. Readers may only GET (token listing excluded); ' +
          'admins may do everything. Errors are {"error": {"code", "message"}}.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'agents' },
        { name: 'configurations' },
        { name: 'audit' },
        { name: 'tokens' },
        { name: 'operations', description: 'No token needed' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });

  let portalFallback: Awaited<ReturnType<typeof registerPortal>> = null;
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toApiError(error, request);
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    if (portalFallback?.(request, reply)) return reply;
    return sendError(reply, 404, API_ERROR_CODES.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  const operations = { tags: ['operations'], security: [] };
  // Probes and scrapes come every few seconds: no request line for them unless they fail.
  const quiet = { logLevel: 'warn' as const };
  app.get(
    '/healthz',
    { ...quiet, schema: { ...operations, summary: 'Liveness: 200 when Redis answers within 1 s, else 503 (within 2 s)' } },
    async (_req, reply) => {
      // Answered within 2 s whatever Redis does: a paused Redis never answers the PING.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        // The timer's phase runs before the poll phase of the same loop turn: after a stall of
        // this process (a loaded machine), a PONG already in the socket would lose to the timer.
        // setImmediate runs after that poll phase, so an answer that has arrived wins.
        timer = setTimeout(() => setImmediate(() => resolve(false)), HEALTH_TIMEOUT_MS);
      });
      const redis = await Promise.race([deps.service.ping().catch(() => false), late]);
      clearTimeout(timer);
      return reply.code(redis ? 200 : 503).send({ status: redis ? 'ok' : 'unavailable', redis });
    },
  );
  app.get(
    '/metrics',
    { ...quiet, schema: { ...operations, summary: 'Prometheus metrics (text format)' } },
    async (request, reply) => {
      await refreshScrapeGauges(deps, request.log);
      return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    },
  );

  const ctx: ApiContext = { service: deps.service, tokens };
  await app.register(
    async (api) => {
      api.addHook('onRequest', authHook(auth, limiter));
      api.get('/openapi.json', { config: { role: 'public' }, schema: { hide: true } }, async () => app.swagger());
      await agentRoutes(api, ctx);
      await configurationRoutes(api, ctx);
      await notificationRoutes(api, ctx);
      await stagedDeleteRoutes(api, ctx);
      await deleteApprovalRoutes(api, ctx);
      await previewRoutes(api, ctx);
      await auditRoutes(api, ctx);
      await tokenRoutes(api, ctx);
    },
    { prefix: API_PREFIX },
  );

  // The cloud directory as read-only SCIM 2.0, with the API's tokens.
  await app.register(
    async (scim) => {
      scim.addHook('onRequest', authHook(auth, limiter));
      await scimRoutes(scim, ctx);
    },
    { prefix: '/scim/v2' },
  );

  if (deps.queues && deps.queues.length > 0) {
    await registerQueuesDashboard(app, deps.queues, { auth, limiter, sessions: deps.stores.dashboardSessions });
  }
  if (deps.portalDir !== false) portalFallback = await registerPortal(app, deps.portalDir ?? DEFAULT_PORTAL_DIR);

  await app.ready();
  return app;
}
