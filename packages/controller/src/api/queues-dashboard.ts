import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthFailureLimiter } from '../auth/auth-failure-limiter';
import { refuseWhenBlocked } from './auth-hook';
import { Authenticator, bearerToken } from '../auth/authenticator';
import type { DashboardSessions } from '../store/dashboard-sessions';
import { BOOTSTRAP_ACTOR } from '../store/token-store';
import type { Actor } from '../model';
import { BullBoardAdapter, READ_METHODS } from './bull-board-adapter';
import { API_ERROR_CODES, sendError } from './errors';

export const DASHBOARD_PATH = '/admin/queues';
/** Cookie set by `GET /admin/queues?token=...`: a session id, never the token. */
export const DASHBOARD_COOKIE = 'syncguard_admin';

/**
 * bull-board's page has inline styles (its loading placeholder) and links Google Fonts:
 * styles may be inline, fonts fall back to local ones; scripts stay 'self' only.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; base-uri 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
  "frame-ancestors 'none'; form-action 'self'";

export interface QueuesDashboardAuth {
  auth: Authenticator;
  limiter: AuthFailureLimiter;
  sessions: DashboardSessions;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The actor of a dashboard session, while the secret it was made with is still live: a
 * revoked API token, or a changed bootstrap token, ends the session.
 */
async function sessionActor(auth: Authenticator, sessions: DashboardSessions, id: string): Promise<Actor | null> {
  const session = await sessions.get(id);
  if (!session) return null;
  const { actor } = session;
  if (actor.tokenId === BOOTSTRAP_ACTOR.tokenId) return session.credential === auth.bootstrapFingerprint ? actor : null;
  return auth.tokens.get(actor.tokenId).then(
    (token) => ({ ...actor, role: token.role }),
    () => null,
  );
}

/**
 * The BullMQ dashboard (bull-board) at /admin/queues, read-only, for admin tokens only.
 * Credentials: `Authorization: Bearer`, or once `GET /admin/queues?token=...`, which is
 * exchanged for a random session id in the `syncguard_admin` cookie (HttpOnly,
 * SameSite=Strict, Path=/admin/queues, Max-Age the session TTL, Secure when the request
 * came over TLS, directly or from a trusted proxy) and redirects to the same URL without
 * the token. Every method but GET and HEAD is 405: changes to queues go through the
 * audited API, never around it.
 */
export async function registerQueuesDashboard(
  app: FastifyInstance,
  queues: readonly Queue[],
  { auth, limiter, sessions }: QueuesDashboardAuth,
): Promise<void> {
  const serverAdapter = new BullBoardAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true, allowRetries: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'syncguard queues' } },
  });

  const unauthorized = (reply: FastifyReply, message: string) => {
    reply.header('www-authenticate', 'Bearer realm="syncguard"');
    return sendError(reply, 401, API_ERROR_CODES.UNAUTHORIZED, message);
  };

  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (!READ_METHODS.has(request.method)) {
          reply.header('allow', 'GET, HEAD');
          return sendError(
            reply,
            405,
            API_ERROR_CODES.METHOD_NOT_ALLOWED,
            'the queue dashboard is read-only: change configurations and cycles through the audited /api/v1',
          );
        }
        if (await refuseWhenBlocked(limiter, request, reply)) return reply;
        const url = new URL(request.url, 'http://localhost');
        const fromQuery = request.method === 'GET' ? (url.searchParams.get('token') ?? undefined) : undefined;
        const secret = bearerToken(request.headers.authorization) ?? fromQuery;
        let actor: Actor | null;
        if (secret) {
          actor = await auth.authenticate(secret);
          if (!actor) {
            await limiter.recordFailure(request.ip, 'dashboard', 'unknown or revoked token');
            return unauthorized(reply, 'the API token is unknown or revoked');
          }
        } else {
          const sessionId = cookieValue(request.headers.cookie, DASHBOARD_COOKIE);
          if (!sessionId) return unauthorized(reply, 'an admin token is required: Bearer header or GET ?token=');
          actor = await sessionActor(auth, sessions, sessionId);
          if (!actor) return unauthorized(reply, 'the dashboard session is unknown or expired: open ?token= again');
        }
        if (actor.role !== 'admin')
          return sendError(reply, 403, API_ERROR_CODES.FORBIDDEN, 'the queue dashboard needs an admin token');
        if (fromQuery !== undefined) {
          const sessionId = await sessions.create(
            actor,
            actor.tokenId === BOOTSTRAP_ACTOR.tokenId ? auth.bootstrapFingerprint : '',
          );
          url.searchParams.delete('token');
          const secure = request.protocol === 'https' ? '; Secure' : '';
          const maxAge = Math.floor(sessions.ttlMs / 1000);
          reply.header(
            'set-cookie',
            `${DASHBOARD_COOKIE}=${sessionId}; Max-Age=${maxAge}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict${secure}`,
          );
          return reply.redirect(url.pathname + url.search, 303);
        }
      });
      scope.addHook('onSend', async (_request, reply) => {
        reply.header('content-security-policy', DASHBOARD_CSP);
      });
      await serverAdapter.register(scope);
      // Every other method on every dashboard path reaches the hook above (405), not the
      // portal's or the API's not-found answer.
      for (const url of ['/', '/*'])
        scope.route({
          method: ['POST', 'PUT', 'PATCH', 'DELETE'],
          url,
          schema: { hide: true },
          handler: async (_request, reply) => sendError(reply, 405, API_ERROR_CODES.METHOD_NOT_ALLOWED, 'read-only'),
        });
    },
    { prefix: DASHBOARD_PATH },
  );
}
