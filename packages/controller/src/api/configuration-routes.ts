import type { FastifyInstance } from 'fastify';
import { actorOf } from './auth-hook';
import type { ConfigurationInput, ConfigurationPatch, ObjectTypeName, ProvisioningAction } from '../model';
import type { ApiContext } from './api-context';
import { paginate, withCursor } from './paginate';
import { PROVISIONING_ACTIONS, cycleIdQuery, errorResponses, idParams, pageOf, pageQueryProperties } from './schemas';

const tags = ['configurations'];
type Id = { Params: { id: string } };
type PageQuery = { limit?: number; cursor?: string };

export async function configurationRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { service } = ctx;

  app.get<{ Querystring: PageQuery }>(
    '/configurations',
    {
      schema: {
        tags,
        summary: 'List configurations, each with its state',
        querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties },
        response: { 200: pageOf('Configuration', 'Configurations, by id'), ...errorResponses(400) },
      },
    },
    async (request) => paginate(await service.listConfigurations(), (c) => c.id, request.query),
  );

  app.post<{ Body: ConfigurationInput }>(
    '/configurations',
    {
      schema: {
        tags,
        summary: 'Create a configuration',
        description: 'accidentalDeletes defaults to {enabled: true, threshold: 500, countDisables: false}. Admin.',
        body: { $ref: 'ConfigurationInput#' },
        response: { 201: { $ref: 'Configuration#' }, ...errorResponses(400, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createConfiguration(request.body, actorOf(request))),
  );

  app.get<Id>(
    '/configurations/:id',
    {
      schema: {
        tags,
        summary: 'Read one configuration',
        params: idParams,
        response: { 200: { $ref: 'Configuration#' }, ...errorResponses(404) },
      },
    },
    async (request) => service.getConfiguration(request.params.id),
  );

  app.patch<Id & { Body: ConfigurationPatch }>(
    '/configurations/:id',
    {
      schema: {
        tags,
        summary: 'Change a configuration',
        description: 'Any subset of the fields; nested objects (source, accidentalDeletes) merge. Admin.',
        params: idParams,
        body: { $ref: 'ConfigurationPatch#' },
        response: { 200: { $ref: 'Configuration#' }, ...errorResponses(400, 403, 404, 409) },
      },
    },
    async (request) => service.updateConfiguration(request.params.id, request.body, actorOf(request)),
  );

  app.delete<Id>(
    '/configurations/:id',
    {
      schema: {
        tags,
        summary: 'Remove a configuration',
        description: 'Admin.',
        params: idParams,
        response: { 204: { type: 'null', description: 'Removed' }, ...errorResponses(403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.deleteConfiguration(request.params.id, actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get<Id>(
    '/configurations/:id/status',
    {
      schema: {
        tags,
        summary: 'State, quarantine and last cycle',
        description: 'quarantine is null unless the state is quarantined; lastCycle is the most recently started cycle.',
        params: idParams,
        response: { 200: { $ref: 'ConfigurationStatus#' }, ...errorResponses(404) },
      },
    },
    async (request) => service.getStatus(request.params.id),
  );

  app.post<Id>(
    '/configurations/:id/cycles',
    {
      schema: {
        tags,
        summary: 'Start a cycle now',
        description: 'Admin. 409 while quarantined, while a cycle runs, or when no agent serving it is connected.',
        params: idParams,
        response: {
          202: { type: 'object', required: ['cycleId'], properties: { cycleId: { type: 'string' } } },
          ...errorResponses(403, 404, 409),
        },
      },
    },
    async (request, reply) => reply.code(202).send(await service.startCycle(request.params.id, actorOf(request))),
  );

  app.get<Id & { Querystring: PageQuery }>(
    '/configurations/:id/cycles',
    {
      schema: {
        tags,
        summary: 'Cycle history, newest first',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties },
        response: { 200: pageOf('Cycle', 'Cycles, newest first'), ...errorResponses(400, 404) },
      },
    },
    async (request) => withCursor(await service.listCycles(request.params.id, request.query)),
  );

  app.get<Id & { Querystring: PageQuery & { action?: ProvisioningAction; cycleId?: string; dn?: string } }>(
    '/configurations/:id/provisioning-logs',
    {
      schema: {
        tags,
        summary: 'Provisioning log, newest first',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            action: { type: 'string', enum: PROVISIONING_ACTIONS, description: 'Only entries of this action' },
            cycleId: { ...cycleIdQuery, description: 'Only entries of this cycle' },
            dn: { type: 'string', minLength: 1, description: 'Only entries whose DN contains this text (case-insensitive)' },
            ...pageQueryProperties,
          },
        },
        response: { 200: pageOf('ProvisioningLogEntry', 'Log entries'), ...errorResponses(400, 404) },
      },
    },
    async (request) => withCursor(await service.listProvisioningLogs(request.params.id, request.query)),
  );

  app.post<Id & { Body: unknown }>(
    '/configurations/:id/allow-deletes',
    {
      schema: {
        tags,
        summary: 'Release a quarantine: apply its staged deletes (all, or the chosen ones)',
        description:
          'Body {} (or none): applies the quarantined cycle exactly once and resumes the schedule. ' +
          'Body {"objectIds": [...]} and/or {"parentDns": [...]}: applies only those staged deletes (a parent DN ' +
          'chooses the staged deletes whose parentDn it is and those in its subtree; compared case-insensitively), ' +
          'and every other staged delete becomes a kept object (GET .../kept-objects); ids not staged and parent DNs ' +
          'that match none answer 400 naming them. An optional `reason` (string) goes into the audit entry. With ' +
          'approvals 2, two admin tokens must choose the same set. Admin. Answers 200 with the outcome ' +
          "once the cycle is applied, or 202 when it is still being applied after the controller's releaseWaitMs " +
          '(the status and GET .../cycles show its progress and outcome). 409 when not quarantined; 500 ' +
          'SG_ERR_APPLY_FAILED when the released cycle failed to apply.',
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['state', 'cycleId', 'deleted', 'kept'],
            properties: {
              state: { type: 'string', enum: ['applied'] },
              cycleId: { type: 'string', description: 'The cycle applied (hold deletes: the release cycle)' },
              deleted: { type: 'integer', minimum: 0, description: 'Deletes the target applied' },
              kept: { type: 'integer', minimum: 0, description: 'Staged deletes made kept objects (0 when all are allowed)' },
            },
          },
          202: {
            type: 'object',
            description:
              'applying: the released deletes are still being applied; awaitingApproval (with `approvals: 2`): ' +
              "this token's approval is recorded and another admin token must allow the deletes too.",
            required: ['state', 'cycleId'],
            properties: {
              state: { type: 'string', enum: ['applying', 'awaitingApproval'] },
              cycleId: { type: 'string' },
              deleteCount: { type: 'integer', minimum: 0, description: 'applying: the released deletes, still being applied' },
              kept: { type: 'integer', minimum: 0, description: 'applying: staged deletes made kept objects' },
              approvalsNeeded: { type: 'integer', minimum: 1, description: 'awaitingApproval: approvals still needed' },
            },
          },
          ...errorResponses(403, 404, 409, 500),
        },
      },
    },
    async (request, reply) => {
      const result = await service.allowDeletes(request.params.id, actorOf(request), request.body);
      return reply.code(result.state === 'applied' ? 200 : 202).send(result);
    },
  );

  app.post<Id>(
    '/configurations/:id/restart',
    {
      schema: {
        tags,
        summary: 'Discard the quarantined cycle and run a new one',
        description: 'Nothing of the quarantined cycle is applied. Admin. 409 when not quarantined.',
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['discardedCycleId', 'cycleId'],
            properties: {
              discardedCycleId: { type: 'string' },
              cycleId: { type: ['string', 'null'], description: 'The new cycle; null when no agent is connected to run it yet' },
            },
          },
          ...errorResponses(403, 404, 409),
        },
      },
    },
    async (request) => service.restart(request.params.id, actorOf(request)),
  );

  app.get<Id & { Querystring: PageQuery & { type?: ObjectTypeName } }>(
    '/configurations/:id/objects',
    {
      schema: {
        tags,
        summary: 'What the built-in cloud directory holds for this configuration',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { type: { type: 'string', enum: ['user', 'group'] }, ...pageQueryProperties },
        },
        response: {
          200: {
            type: 'object',
            required: ['total', 'items'],
            properties: {
              total: { type: 'integer', minimum: 0, description: 'Objects matching type, over all pages' },
              items: { type: 'array', items: { $ref: 'CloudObject#' } },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => withCursor(await service.listObjects(request.params.id, request.query)),
  );
}
