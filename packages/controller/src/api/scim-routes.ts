import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ControllerError } from '../errors';
import type { ObjectTypeName } from '../model';
import { parseEqFilter } from '../targets/scim/scim-view';
import type { ApiContext } from './api-context';
import { errorResponses } from './schemas';

const SCIM_JSON = 'application/scim+json';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
/** The most resources one page holds (a larger `count` is cut to it, as RFC 7644 allows). */
export const SCIM_MAX_COUNT = 1000;

function scimError(reply: FastifyReply, status: number, scimType: string | null, detail: string): FastifyReply {
  return reply
    .code(status)
    .type(SCIM_JSON)
    .send({ schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail });
}

type ListRequest = FastifyRequest<{
  Params: { id: string };
  Querystring: { filter?: string; startIndex?: string; count?: string };
}>;

/**
 * The built-in cloud directory served read-only as SCIM 2.0 (RFC 7644 list and read of
 * Users and Groups) at `/scim/v2/configurations/{id}/Users` and `/Groups`, with an API token
 * (reader or admin): filters `eq` on userName, displayName, externalId and id, paging by
 * `startIndex` and `count`. Registered under the API's auth hook.
 */
export async function scimRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const baseUrl = (request: FastifyRequest, id: string) => `${request.protocol}://${request.host}/scim/v2/configurations/${id}`;
  const list = (type: ObjectTypeName) => async (request: ListRequest, reply: FastifyReply) => {
    const q = request.query;
    const filter = q.filter === undefined ? null : parseEqFilter(q.filter, type);
    if (q.filter !== undefined && !filter)
      return scimError(
        reply,
        400,
        'invalidFilter',
        'only `<attribute> eq "<value>"` on userName, displayName, externalId or id is supported',
      );
    const startIndex = q.startIndex === undefined ? 1 : Number(q.startIndex);
    const count = q.count === undefined ? 100 : Number(q.count);
    if (!Number.isSafeInteger(startIndex)) return scimError(reply, 400, 'invalidValue', 'startIndex must be a whole number');
    if (!Number.isSafeInteger(count)) return scimError(reply, 400, 'invalidValue', 'count must be a whole number');
    try {
      const page = await ctx.service.listScimResources(request.params.id, type, {
        filter,
        // RFC 7644 3.4.2.4: a startIndex below 1 is 1, a negative count is 0.
        startIndex: Math.max(1, startIndex),
        count: Math.min(SCIM_MAX_COUNT, Math.max(0, count)),
        baseUrl: baseUrl(request, request.params.id),
      });
      return reply.type(SCIM_JSON).send({
        schemas: [LIST_SCHEMA],
        totalResults: page.totalResults,
        startIndex: Math.max(1, startIndex),
        itemsPerPage: page.resources.length,
        Resources: page.resources,
      });
    } catch (error) {
      if (error instanceof ControllerError && error.status === 404) return scimError(reply, 404, null, error.message);
      throw error;
    }
  };
  const one =
    (type: ObjectTypeName) =>
    async (request: FastifyRequest<{ Params: { id: string; objectId: string } }>, reply: FastifyReply) => {
      const { id, objectId } = request.params;
      try {
        const page = await ctx.service.listScimResources(id, type, {
          filter: { attribute: 'id', value: objectId },
          startIndex: 1,
          count: 1,
          baseUrl: baseUrl(request, id),
        });
        const found = page.resources[0];
        if (!found) return scimError(reply, 404, null, `${type === 'user' ? 'User' : 'Group'} ${objectId} not found`);
        return reply.type(SCIM_JSON).send(found);
      } catch (error) {
        if (error instanceof ControllerError && error.status === 404) return scimError(reply, 404, null, error.message);
        throw error;
      }
    };
  const scimBody = (description: string) => ({
    description,
    type: 'object',
    additionalProperties: true,
  });
  // 400 and 404 are SCIM errors ({schemas, status, scimType, detail}); the token's errors (401, 429, 503) the API's.
  const schema = (summary: string, objectId = false) => ({
    schema: {
      tags: ['scim'],
      summary,
      description:
        'The built-in cloud directory as SCIM 2.0 (RFC 7644), read-only, with an API token (reader or admin). Answers application/scim+json.',
      params: {
        type: 'object',
        required: objectId ? ['id', 'objectId'] : ['id'],
        properties: { id: { type: 'string' }, ...(objectId ? { objectId: { type: 'string' } } : {}) },
      },
      ...(objectId
        ? {}
        : {
            querystring: {
              type: 'object',
              properties: {
                filter: { type: 'string', description: '`userName eq "..."`, `displayName eq "..."`, `externalId eq`, `id eq`' },
                startIndex: { type: 'string', description: '1-based index of the first resource. Default 1.' },
                count: { type: 'string', description: `Most resources in the answer, at most ${SCIM_MAX_COUNT}. Default 100.` },
              },
            },
          }),
      response: {
        200: scimBody(objectId ? 'The resource' : 'A SCIM ListResponse'),
        400: scimBody('A SCIM error: invalidFilter or invalidValue'),
        404: scimBody('A SCIM error: no such configuration or resource'),
        ...errorResponses(),
      },
    },
  });
  app.get('/configurations/:id/Users', schema('The cloud directory users as SCIM 2.0 (read-only)'), list('user'));
  app.get('/configurations/:id/Groups', schema('The cloud directory groups as SCIM 2.0 (read-only)'), list('group'));
  app.get('/configurations/:id/Users/:objectId', schema('One user as SCIM 2.0 (read-only)', true), one('user'));
  app.get('/configurations/:id/Groups/:objectId', schema('One group as SCIM 2.0 (read-only)', true), one('group'));
}
