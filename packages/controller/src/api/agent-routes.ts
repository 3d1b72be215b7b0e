import type { FastifyInstance } from 'fastify';
import { actorOf } from './auth-hook';
import type { Agent } from '../model';
import type { ApiContext } from './api-context';
import { paginate } from './paginate';
import { errorResponses, idParams, pageOf, pageQueryProperties } from './schemas';

const tags = ['agents'];

/** The answer of registering an agent and of rotating its token. */
const agentToken = {
  type: 'object',
  required: ['id', 'token'],
  properties: { id: { type: 'string' }, token: { type: 'string', description: 'SYNCGUARD_AGENT_TOKEN; shown once' } },
} as const;

export async function agentRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Body: { name: string } }>(
    '/agents',
    {
      schema: {
        tags,
        summary: 'Register an agent',
        description:
          'Answers the agent id and its token; the token is shown only here, and alone identifies the agent ' +
          '(SYNCGUARD_AGENT_ID is optional). Names are unique: 409 SG_ERR_NAME_TAKEN. Admin.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: {
          201: agentToken,
          ...errorResponses(400, 403, 409),
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await ctx.service.registerAgent({ name: request.body.name }, actorOf(request))),
  );

  app.delete<{ Params: { id: string } }>(
    '/agents/:id',
    {
      schema: {
        tags,
        summary: 'Delete an agent',
        description:
          'Its token stops working at once; its live session, on whichever replica, is closed with AGENT_REVOKED ' +
          '(4007) and the agent does not reconnect. Configurations that named it no longer do (listed in the ' +
          'answer); a cycle it was running fails with AGENT_REVOKED and another connected agent of the ' +
          'configuration takes over. Audited (agent.delete). Admin.',
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['id', 'configurationIds'],
            properties: {
              id: { type: 'string' },
              configurationIds: {
                type: 'array',
                items: { type: 'string' },
                description: 'Configurations the agent was removed from',
              },
            },
          },
          ...errorResponses(403, 404),
        },
      },
    },
    async (request) => ctx.service.deleteAgent(request.params.id, actorOf(request)),
  );

  app.post<{ Params: { id: string } }>(
    '/agents/:id/token',
    {
      schema: {
        tags,
        summary: "Rotate an agent's token",
        description:
          'Answers a new token, shown only here. The old token stops working at once, and a session that ' +
          'authenticated with it is closed with AGENT_REVOKED (4007): give the agent the new ' +
          'SYNCGUARD_AGENT_TOKEN and restart it. Audited (agent.rotate-token). Admin.',
        params: idParams,
        response: {
          200: agentToken,
          ...errorResponses(403, 404, 409),
        },
      },
    },
    async (request) => ctx.service.rotateAgentToken(request.params.id, actorOf(request)),
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
