import type { FastifyInstance } from 'fastify';
import { actorOf } from './auth-hook';
import type { ApiContext } from './api-context';
import { errorResponses, idParams } from './schemas';

const tags = ['notifications'];
type Id = { Params: { id: string } };

/** A configuration's notification events, their deliveries, and the test call. */
export async function notificationRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { service } = ctx;

  app.get<Id & { Querystring: { limit?: number } }>(
    '/configurations/:id/notifications',
    {
      schema: {
        tags,
        summary: "The configuration's newest notification events and their deliveries",
        description: 'Newest first; limit 1 to 100, default 20. Events are kept 30 days (the newest 100 per configuration).',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100 } },
        },
        response: {
          200: {
            type: 'object',
            required: ['items'],
            properties: { items: { type: 'array', items: { $ref: 'NotificationEvent#' } } },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => service.listNotifications(request.params.id, request.query),
  );

  app.post<Id>(
    '/configurations/:id/notifications/test',
    {
      schema: {
        tags,
        summary: 'Send a test event to every email recipient and webhook',
        description:
          'Queues a notification.test event (one delivery per endpoint, retried like any other); watch it in GET .../notifications. Admin; audited. 409 SG_ERR_NO_NOTIFICATIONS when the configuration has no recipients and no webhooks.',
        params: idParams,
        response: {
          202: {
            type: 'object',
            required: ['eventId', 'deliveries'],
            properties: {
              eventId: { type: 'string' },
              deliveries: { type: 'integer', minimum: 1, description: 'Endpoints the event goes to' },
            },
          },
          ...errorResponses(403, 404, 409),
        },
      },
    },
    async (request, reply) => reply.code(202).send(await service.testNotifications(request.params.id, actorOf(request))),
  );
}
