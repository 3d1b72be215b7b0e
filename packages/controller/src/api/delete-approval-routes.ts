import type { FastifyInstance } from 'fastify';
import { actorOf } from './auth-hook';
import type { ApiContext } from './api-context';
import { UUID_PATTERN, errorResponses, idParams } from './schemas';

const tags = ['triage'];
type Id = { Params: { id: string } };

const approval = {
  type: 'object',
  required: ['id', 'maxDeletes', 'reason', 'createdAt', 'expiresAt', 'state'],
  properties: {
    id: { type: 'string' },
    maxDeletes: { type: 'integer', minimum: 1 },
    reason: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    createdBy: { type: 'string' },
    state: { type: 'string', enum: ['active', 'used', 'expired', 'revoked'] },
    usedAt: { type: ['string', 'null'], format: 'date-time' },
    cycleId: { type: ['string', 'null'], description: 'The cycle it let through' },
    usedDeletes: { type: ['integer', 'null'], description: "That cycle's deletes" },
  },
} as const;

/** Pre-approvals of planned changes. */
export async function deleteApprovalRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const { service } = ctx;

  app.post<Id & { Body: unknown }>(
    '/configurations/:id/delete-approvals',
    {
      schema: {
        tags,
        summary: 'Approve a planned change ahead',
        description:
          'The next cycle the delete guard would quarantine with at most maxDeletes deletes, before the approval expires, ' +
          'is applied instead, once; the cycle records approvalId and the audit log delete-approval.use. A cycle over the ' +
          'ceiling, after the expiry or deleting a protected object is quarantined as ever and leaves the approval unused. Admin; audited.',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['maxDeletes', 'expiresInHours', 'reason'],
          properties: {
            maxDeletes: { type: 'integer', minimum: 1 },
            expiresInHours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
            reason: { type: 'string', minLength: 1, maxLength: 500 },
          },
        },
        response: { 201: approval, ...errorResponses(400, 403, 404) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await service.createDeleteApproval(request.params.id, request.body, actorOf(request))),
  );

  app.get<Id>(
    '/configurations/:id/delete-approvals',
    {
      schema: {
        tags,
        summary: "The configuration's pre-approvals, newest first",
        description: 'Active ones and those used, revoked or expired in the last 30 days.',
        params: idParams,
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: approval } } },
          ...errorResponses(404),
        },
      },
    },
    async (request) => service.listDeleteApprovals(request.params.id),
  );

  app.delete<{ Params: { id: string; approvalId: string } }>(
    '/configurations/:id/delete-approvals/:approvalId',
    {
      schema: {
        tags,
        summary: 'Revoke a pre-approval that is not used yet',
        description: 'Admin; audited. 409 SG_ERR_APPROVAL_SPENT when it was used or revoked already.',
        params: {
          type: 'object',
          required: ['id', 'approvalId'],
          properties: {
            id: idParams.properties.id,
            approvalId: { type: 'string', pattern: UUID_PATTERN },
          },
        },
        response: { 204: { type: 'null', description: 'Revoked' }, ...errorResponses(403, 404, 409) },
      },
    },
    async (request, reply) => {
      await service.revokeDeleteApproval(request.params.id, request.params.approvalId, actorOf(request));
      return reply.code(204).send();
    },
  );
}
