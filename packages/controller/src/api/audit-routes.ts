import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './api-context';
import { withCursor } from './paginate';
import { errorResponses, pageOf, pageQueryProperties } from './schemas';

export async function auditRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first',
        description: 'Who (token name) did what and when: allow-deletes, restart, configuration and token changes, cycle starts.',
        querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties },
        response: { 200: pageOf('AuditEntry', 'Audit entries, newest first'), ...errorResponses(400) },
      },
    },
    async (request) => withCursor(await ctx.service.listAudit(request.query)),
  );
}
