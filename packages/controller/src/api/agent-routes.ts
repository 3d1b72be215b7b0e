import type { FastifyInstance } from 'fastify';
import { actorOf } from '../auth/auth-hook';
import type { Agent } from '../model';
import type { ApiContext } from './api-context';
import { paginate } from './paginate';
import { errorResponses, idParams, pageOf, pageQueryProperties } from './schemas';

const tags = ['agents'];

export async function agentRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Body: { name: string } }>(
    '/agents',
    {
      schema: {
        tags,
        summary: 'Register an agent',
        description: 'Answers the agent id and its token; the token is shown only here. Admin.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: {
          201: {
            type: 'object',
            required: ['id', 'token'],
            properties: { id: { type: 'string' }, token: { type: 'string', description: 'SYNCGUARD_AGENT_TOKEN; shown once' } },
          },
          ...errorResponses(400, 403),
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await ctx.service.registerAgent({ name: request.body.name }, actorOf(request))),
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/agents',
    {
      schema: {
        tags,
        summary: 'List agents',
        querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties },
        response: { 200: pageOf('Agent', 'Agents, by id'), ...errorResponses(400) },
      },
    },
    async (request) => paginate<Agent>(await ctx.service.listAgents(), (a) => a.id, request.query),
  );

  app.get<{ Params: { id: string } }>(
    '/agents/:id',
    {
      schema: {
        tags,
        summary: 'Read one agent',
        params: idParams,
        response: { 200: { $ref: 'Agent#' }, ...errorResponses(404) },
      },
    },
    async (request) => ctx.service.getAgent(request.params.id),
  );
}
