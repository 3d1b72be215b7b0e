import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ControllerService } from '../controller-service';
import type { ControllerMetrics } from '../metrics';

/** What the HTTP layer needs from the rest of the controller. */
export interface HttpAppDeps {
  service: ControllerService;
  metrics: ControllerMetrics;
  /** The controller's Redis connection and key prefix (for API tokens and audit reads). */
  redis: Redis;
  keyPrefix: string;
  /** The bootstrap admin token (SYNCGUARD_ADMIN_TOKEN). */
  adminToken: string;
  logger: Logger;
  /** BullMQ queues to show in the /admin/queues dashboard. */
  queues?: readonly import('bullmq').Queue[];
}

/**
 * Builds the Fastify app: /healthz, /metrics and the /api/v1 routes. Does not listen;
 * server.ts attaches it to the HTTP server that also carries the agent WebSocket.
 */
export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger });
  app.get('/healthz', async (_req, reply) => {
    const redis = await deps.service.ping().catch(() => false);
    return reply.code(redis ? 200 : 503).send({ status: redis ? 'ok' : 'unavailable', redis });
  });
  app.get('/metrics', async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  await app.ready();
  return app;
}
