import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './api-context';
import { actorOf } from './auth-hook';
import { errorResponses, idParams, pageQueryProperties } from './schemas';

/** A triage body's fields, as documented (the service reads the body: an empty body is `{}`). */
const triageBodyDoc =
  "Body (JSON, optional): `objectIds` (array of staged deletes' object ids), `reason` (string, at most 1000 " +
  'characters, recorded in the audit entry). Ids that are not staged deletes of the quarantine answer 400 naming them.';

const keptObject = {
  type: 'object',
  required: ['objectId', 'objectType', 'dn', 'parentDn', 'cause', 'keptAt', 'cycleId'],
  properties: {
    objectId: { type: 'string' },
    objectType: { type: 'string', enum: ['user', 'group'] },
    dn: { type: 'string', description: 'As the target holds the object' },
    parentDn: { type: 'string' },
    cause: { type: 'string', enum: ['deleted', 'movedOutOfScope', 'filteredOut', 'disabled', 'scopeChanged', 'unknown'] },
    newDn: { type: 'string' },
    keptAt: { type: 'string', format: 'date-time' },
    cycleId: { type: 'string', description: "The cycle whose delete was kept (hold deletes: the lane's first cycle)" },
  },
} as const;

const tags = ['triage'];
type Id = { Params: { id: string } };

/** Reading the deletes a quarantine holds, rejecting them, and the kept objects (cycles/triage.ts). */
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

  app.post<Id & { Body: unknown }>(
    '/configurations/:id/reject-deletes',
    {
      schema: {
        tags,
        summary: 'Keep staged deletes: they become kept objects, and the rest of the cycle is applied',
        description:
          'Body {} keeps every staged delete; {"objectIds": [...]} keeps those. Kept objects stay in the target and trip ' +
          'nothing while they stay out of scope. Once none is left staged, the rest of the quarantined cycle (creates, ' +
          'updates) is applied and the configuration is healthy (hold deletes: the lane closes) and quarantine.rejected is ' +
          'sent; while some are left, the quarantine holds them (state quarantined). One admin suffices, also with ' +
          'approvals 2 (nothing is deleted). Admin. 409 SG_ERR_NOT_QUARANTINED when not quarantined or the quarantine ' +
          'changed meanwhile; 409 SG_ERR_CYCLE_RUNNING (hold deletes) while a cycle runs. ' +
          triageBodyDoc,
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['cycleId', 'kept', 'left', 'state'],
            properties: {
              cycleId: { type: 'string', description: "The quarantined cycle (hold deletes: the lane's first cycle)" },
              kept: { type: 'integer', minimum: 0, description: 'Deletes this call made kept objects' },
              left: { type: 'integer', minimum: 0, description: 'Staged deletes left' },
              state: {
                type: 'string',
                enum: ['applied', 'applying', 'healthy', 'quarantined'],
                description:
                  'applied: the rest of the cycle was applied; applying: still being applied after releaseWaitMs; healthy: ' +
                  'the delete lane closed; quarantined: staged deletes are left',
              },
            },
          },
          ...errorResponses(400, 403, 404, 409, 500),
        },
      },
    },
    async (request) => service.rejectDeletes(request.params.id, request.body, actorOf(request)),
  );

  app.get<Id & { Querystring: { limit?: number; cursor?: string } }>(
    '/configurations/:id/kept-objects',
    {
      schema: {
        tags,
        summary: 'Kept objects: deletes an admin kept, which stay in the target',
        description:
          'Sorted by object id, paged like staged-deletes (the cursor is the last id of the page before). A kept object ' +
          'trips nothing while it stays out of scope, leaves this list when a cycle finds it in scope again, and is ' +
          'deleted only by POST .../kept-objects/delete.',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { ...pageQueryProperties } },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor', 'total'],
            properties: {
              items: { type: 'array', items: keptObject },
              nextCursor: { type: ['string', 'null'] },
              total: { type: 'integer', minimum: 0 },
            },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => service.listKeptObjects(request.params.id, request.query),
  );

  app.post<Id & { Body: unknown }>(
    '/configurations/:id/kept-objects/delete',
    {
      schema: {
        tags,
        summary: 'Delete kept objects from the target (audited)',
        description:
          'Body {"objectIds": [...], "reason": "..."} (objectIds required). A release cycle deletes them from the target; ' +
          'they leave the kept list. Needs approvals as allow-deletes does (approvals 2: two admin tokens naming the same ' +
          'set). Admin. 400 naming ids that are not kept objects; 409 SG_ERR_QUARANTINED while the configuration is ' +
          'quarantined, SG_ERR_CYCLE_RUNNING while a cycle runs (after releaseWaitMs).',
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['state', 'cycleId', 'deleted'],
            properties: {
              state: { type: 'string', enum: ['applied'] },
              cycleId: { type: 'string' },
              deleted: { type: 'integer', minimum: 0, description: 'Deletes the target applied' },
            },
          },
          202: {
            type: 'object',
            required: ['state'],
            properties: {
              state: { type: 'string', enum: ['applying', 'awaitingApproval'] },
              cycleId: { type: ['string', 'null'] },
              deleteCount: { type: 'integer', minimum: 0 },
              approvalsNeeded: { type: 'integer', minimum: 1 },
            },
          },
          ...errorResponses(400, 403, 404, 409, 500),
        },
      },
    },
    async (request, reply) => {
      const result = await service.deleteKeptObjects(request.params.id, request.body, actorOf(request));
      return reply.code(result.state === 'applied' ? 200 : 202).send(result);
    },
  );
}
