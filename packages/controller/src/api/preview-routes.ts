import type { FastifyInstance } from 'fastify';
import { actorOf } from './auth-hook';
import type { ApiContext } from './api-context';
import type { ConfigurationPatch } from '../model';
import { UUID_PATTERN, errorResponses, idParams } from './schemas';

const tags = ['configurations'];
type Id = { Params: { id: string } };

const tripped = {
  type: 'object',
  required: ['rule', 'value', 'limit'],
  properties: {
    rule: { type: 'string', enum: ['count', 'percentage', 'type:user', 'type:group', 'window', 'memberRemovals', 'protected'] },
    value: { type: 'number' },
    limit: { type: 'number' },
    of: { type: 'integer' },
  },
} as const;

const preview = {
  type: 'object',
  description: 'counts, wouldQuarantine and deletes are null until the state is complete; error is set when it failed.',
  required: [
    'previewId',
    'configurationId',
    'state',
    'startedAt',
    'completedAt',
    'objects',
    'counts',
    'wouldQuarantine',
    'trippedBy',
    'approvalId',
    'deletes',
    'notPreviewed',
    'error',
  ],
  properties: {
    previewId: { type: 'string' },
    configurationId: { type: 'string' },
    state: { type: 'string', enum: ['running', 'complete', 'failed'] },
    startedAt: { type: 'string', format: 'date-time' },
    completedAt: { type: ['string', 'null'], format: 'date-time' },
    objects: { type: 'integer', description: 'Objects the agent read in the proposed scope so far' },
    counts: {
      type: ['object', 'null'],
      required: ['create', 'update', 'delete'],
      properties: { create: { type: 'integer' }, update: { type: 'integer' }, delete: { type: 'integer' } },
    },
    wouldQuarantine: {
      type: ['boolean', 'null'],
      description: "The delete guard would stop the change's first cycle (and no pre-approval covers it)",
    },
    trippedBy: { type: 'array', items: tripped },
    approvalId: { type: ['string', 'null'], description: 'A pre-approval that would let the deletes through (not taken)' },
    deletes: {
      type: ['object', 'null'],
      required: ['total', 'sample'],
      properties: {
        total: { type: 'integer' },
        sample: {
          type: 'array',
          description: 'The first 20 deletes found, as the target holds them',
          items: {
            type: 'object',
            required: ['objectId', 'objectType', 'dn', 'cause'],
            properties: {
              objectId: { type: 'string' },
              objectType: { type: 'string', enum: ['user', 'group'] },
              dn: { type: 'string' },
              cause: {
                type: 'string',
                enum: ['deleted', 'movedOutOfScope', 'filteredOut', 'disabled', 'scopeChanged', 'unknown'],
              },
            },
          },
        },
      },
    },
    notPreviewed: {
      type: 'array',
      items: { type: 'string' },
      description: 'Rules of the policy a preview cannot weigh (memberRemovals)',
    },
    error: {
      type: ['object', 'null'],
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

/** Previews of configuration changes: read by the agent from the real source, nothing applied. */
export async function previewRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { service } = ctx;

  app.post<Id & { Body: ConfigurationPatch }>(
    '/configurations/:id/preview',
    {
      schema: {
        tags,
        summary: 'Preview a configuration change',
        description:
          "The body is a configuration patch, as for PATCH (may be {}). The configuration's agent reads the source with " +
          'the scope the patch makes, the controller compares it with what the target holds and asks the delete guard ' +
          'with the patched policy; nothing is applied, no cycle starts, the agent cache does not move. Read the result ' +
          'at .../previews/{previewId}. Admin; audited. 400 naming the field of a bad patch; 409 SG_ERR_NO_AGENT when no ' +
          'agent of the configuration is connected, SG_ERR_AGENT_UNSUPPORTED when it is too old to read previews.',
        params: idParams,
        body: { $ref: 'ConfigurationPatch#' },
        response: {
          202: { type: 'object', required: ['previewId'], properties: { previewId: { type: 'string' } }, description: 'Started' },
          ...errorResponses(400, 403, 404, 409),
        },
      },
    },
    async (request, reply) => reply.code(202).send(await service.startPreview(request.params.id, request.body, actorOf(request))),
  );

  app.get<{ Params: { id: string; previewId: string } }>(
    '/configurations/:id/previews/:previewId',
    {
      schema: {
        tags,
        summary: "A preview's state and result",
        description:
          'Kept for an hour. A preview whose agent disconnected fails with error.code AGENT_DISCONNECTED; a read that ' +
          "failed or was cut short fails with the agent's CYCLE_ERROR_* code, never with a count of deletes.",
        params: {
          type: 'object',
          required: ['id', 'previewId'],
          properties: { id: idParams.properties.id, previewId: { type: 'string', pattern: UUID_PATTERN } },
        },
        response: { 200: { ...preview, description: 'The preview' }, ...errorResponses(404) },
      },
    },
    async (request) => service.getPreview(request.params.id, request.params.previewId),
  );
}
