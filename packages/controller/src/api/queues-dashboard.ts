import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Authenticator, bearerToken } from '../auth/authenticator';
import { BullBoardAdapter } from './bull-board-adapter';
import { API_ERROR_CODES, sendError } from './errors';

export const DASHBOARD_PATH = '/admin/queues';
/** Cookie set by `/admin/queues?token=...`, so that a browser can use the dashboard. */
export const DASHBOARD_COOKIE = 'syncguard_admin';

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
 * The BullMQ dashboard (bull-board) at /admin/queues, for admin tokens only. A token is
 * taken from `Authorization: Bearer`, from the `syncguard_admin` cookie, or from
 * `?token=` on any dashboard URL: the last sets the cookie (HttpOnly, SameSite=Strict,
 * Path=/admin/queues) and redirects to the same URL without the token, so that it does
 * not stay in the address bar or the history.
 */
export async function registerQueuesDashboard(
  app: FastifyInstance,
  queues: readonly Queue[],
  auth: Authenticator,
): Promise<void> {
  const serverAdapter = new BullBoardAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'syncguard queues' } },
  });

  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        const url = new URL(request.url, 'http://localhost');
        const fromQuery = url.searchParams.get('token') ?? undefined;
        const secret =
          bearerToken(request.headers.authorization) ?? fromQuery ?? cookieValue(request.headers.cookie, DASHBOARD_COOKIE);
        if (!secret) {
          reply.header('www-authenticate', 'Bearer realm="syncguard"');
          return sendError(reply, 401, API_ERROR_CODES.UNAUTHORIZED, 'an admin token is required: Bearer header or ?token=');
        }
        const actor = await auth.authenticate(secret);
        if (!actor) return sendError(reply, 401, API_ERROR_CODES.UNAUTHORIZED, 'the API token is unknown or revoked');
        if (actor.role !== 'admin')
          return sendError(reply, 403, API_ERROR_CODES.FORBIDDEN, 'the queue dashboard needs an admin token');
        if (fromQuery !== undefined) {
          url.searchParams.delete('token');
          const secure = request.protocol === 'https' ? '; Secure' : '';
          reply.header(
            'set-cookie',
            `${DASHBOARD_COOKIE}=${encodeURIComponent(secret)}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict${secure}`,
          );
          if (request.method === 'GET') return reply.redirect(url.pathname + url.search, 303);
        }
      });
      await serverAdapter.register(scope);
    },
    { prefix: DASHBOARD_PATH },
  );
}
