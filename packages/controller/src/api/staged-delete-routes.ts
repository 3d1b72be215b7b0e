import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './api-context';
import { errorResponses, idParams, pageQueryProperties } from './schemas';

const tags = ['triage'];
type Id = { Params: { id: string } };

/** Reading the deletes a quarantine holds. */
export async function stagedDeleteRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { service } = ctx;

  app.get<Id & { Querystring: { groupBy?: string; limit?: number; cursor?: string } }>(
    '/configurations/:id/staged-deletes',
    {
      schema: {
        tags,
        summary: 'The deletes the quarantine holds, a page at a time or grouped',
        description:
          'In the order the cycle found them; empty while the configuration is not quarantined. With groupBy ' +
          '(cause, parent or type): every group with its count and its first 3 deletes, largest first (no paging). ' +
          "cause is the agent's (deleted, movedOutOfScope, filteredOut), disabled for a counted disable, " +
          'scopeChanged when the quarantined cycle read another scope than the last applied one, else unknown. ' +
          'A cursor of a quarantine no longer held answers 409.',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            groupBy: { type: 'string', enum: ['cause', 'parent', 'type'] },
            ...pageQueryProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: { $ref: 'StagedDelete#' } },
              nextCursor: { type: ['string', 'null'] },
              groups: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['key', 'count', 'sample'],
                  properties: {
                    key: { type: 'string', description: 'The cause, the parent DN or the object type' },
                    count: { type: 'integer', minimum: 1 },
                    sample: { type: 'array', items: { $ref: 'StagedDelete#' } },
                  },
                },
              },
              total: { type: 'integer', minimum: 0, description: 'Every held delete' },
              cycleId: { type: ['string', 'null'], description: 'The quarantined cycle holding them; null when none' },
            },
          },
          ...errorResponses(400, 404, 409),
        },
      },
    },
    async (request) => service.listStagedDeletes(request.params.id, request.query),
  );
}
