import type { FastifyInstance } from 'fastify';
import { actorOf } from './auth-hook';
import type { Role } from '../model';
import type { ApiContext } from './api-context';
import { paginate } from './paginate';
import { errorResponses, pageOf, pageQueryProperties, tokenIdParams } from './schemas';

const tags = ['tokens'];

/** Token management: admin only, listing included (config.role). */
export async function tokenRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Body: { name: string; role: Role } }>(
    '/tokens',
    {
      schema: {
        tags,
        summary: 'Create an API token',
        description: 'Answers the token once; only its SHA-256 is stored. Admin.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'role'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            role: { type: 'string', enum: ['admin', 'reader'] },
          },
        },
        response: {
          201: {
            type: 'object',
            required: ['id', 'name', 'role', 'token'],
            properties: {
              id: { type: 'string' },
              name: { type: 'string' },
              role: { type: 'string', enum: ['admin', 'reader'] },
              createdAt: { type: 'string', format: 'date-time' },
              token: { type: 'string', description: 'The secret; shown only here' },
            },
          },
          ...errorResponses(400, 403),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const created = await ctx.tokens.create(request.body);
      await ctx.service.recordAudit({
        actor: { tokenId: actor.tokenId, name: actor.name },
        action: 'token.create',
        target: { type: 'token', id: created.id },
        details: { name: created.name, role: created.role },
      });
      return reply.code(201).send(created);
    },
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/tokens',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'List API tokens (never their secret)',
        description: 'Admin. The bootstrap token (SYNCGUARD_ADMIN_TOKEN) is not listed.',
        querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties },
        response: { 200: pageOf('ApiToken', 'Tokens, oldest first'), ...errorResponses(400, 403) },
      },
    },
    async (request) => {
      const tokens = await ctx.tokens.list();
      return paginate(tokens, (t) => `${t.createdAt}|${t.id}`, request.query);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/tokens/:id',
    {
      schema: {
        tags,
        summary: 'Revoke an API token',
        description: 'The token stops working at once. Admin.',
        params: tokenIdParams,
        response: { 204: { type: 'null', description: 'Revoked' }, ...errorResponses(403, 404) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const revoked = await ctx.tokens.revoke(request.params.id);
      await ctx.service.recordAudit({
        actor: { tokenId: actor.tokenId, name: actor.name },
        action: 'token.revoke',
        target: { type: 'token', id: revoked.id },
        details: { name: revoked.name, role: revoked.role },
      });
      return reply.code(204).send();
    },
  );
}
