import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { ControllerMetrics } from '../metrics';
import { buildHttpApp } from './http-app';
import { httpStores } from '../store/http-stores';
import { InMemoryControllerService } from './in-memory-service.test';

// Fastify's inject() (light-my-request) requires cookie 2, an ES module that Jest cannot
// require on Node 20. It only uses stringifySetCookie, for `cookies` inject options.
jest.mock('cookie', () => ({ stringifySetCookie: () => '' }));

/** Every route of ../../../../shared/docs/contract.md, as OpenAPI writes it. */
const CONTRACT_ROUTES = [
  'get /scim/v2/configurations/{id}/Users',
  'get /scim/v2/configurations/{id}/Users/{objectId}',
  'get /scim/v2/configurations/{id}/Groups',
  'get /scim/v2/configurations/{id}/Groups/{objectId}',
  'post /api/v1/agents',
  'get /api/v1/agents',
  'get /api/v1/agents/{id}',
  'delete /api/v1/agents/{id}',
  'post /api/v1/agents/{id}/token',
  'get /api/v1/configurations',
  'post /api/v1/configurations',
  'get /api/v1/configurations/{id}',
  'patch /api/v1/configurations/{id}',
  'delete /api/v1/configurations/{id}',
  'get /api/v1/configurations/{id}/status',
  'post /api/v1/configurations/{id}/cycles',
  'get /api/v1/configurations/{id}/cycles',
  'get /api/v1/configurations/{id}/provisioning-logs',
  'post /api/v1/configurations/{id}/allow-deletes',
  'post /api/v1/configurations/{id}/restart',
  'get /api/v1/configurations/{id}/objects',
  'get /api/v1/configurations/{id}/notifications',
  'get /api/v1/configurations/{id}/staged-deletes',
  'post /api/v1/configurations/{id}/reject-deletes',
  'get /api/v1/configurations/{id}/kept-objects',
  'post /api/v1/configurations/{id}/kept-objects/delete',
  'post /api/v1/configurations/{id}/delete-approvals',
  'get /api/v1/configurations/{id}/delete-approvals',
  'delete /api/v1/configurations/{id}/delete-approvals/{approvalId}',
  'post /api/v1/configurations/{id}/preview',
  'get /api/v1/configurations/{id}/previews/{previewId}',
  'post /api/v1/configurations/{id}/notifications/test',
  'get /api/v1/audit',
  'post /api/v1/tokens',
  'get /api/v1/tokens',
  'delete /api/v1/tokens/{id}',
  'get /healthz',
  'get /metrics',
];

const BODY_ROUTES = [
  'post /api/v1/agents',
  'post /api/v1/configurations',
  'patch /api/v1/configurations/{id}',
  'post /api/v1/tokens',
  'post /api/v1/configurations/{id}/delete-approvals',
  'post /api/v1/configurations/{id}/preview',
];

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  security?: unknown[];
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  security: unknown[];
}

let app: FastifyInstance;
let doc: OpenApiDoc;

beforeAll(async () => {
  app = await buildHttpApp({
    service: new InMemoryControllerService(),
    metrics: new ControllerMetrics(),
    stores: httpStores({} as Redis, 'unused'), // no token lookups: the document is public
    adminToken: 'unused',
    logger: pino({ level: 'silent' }),
    portalDir: false,
  });
  const res = await app.inject('/api/v1/openapi.json');
  expect(res.statusCode).toBe(200);
  doc = res.json();
});

afterAll(async () => {
  await app.close();
});

describe('/api/v1/openapi.json', () => {
  test('is an OpenAPI 3 document with bearer security', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  test('lists every route of the contract, and only routes the server has', () => {
    const listed = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(listed.sort()).toEqual([...CONTRACT_ROUTES].sort());
    for (const entry of listed) {
      const [method, url] = entry.split(' ') as [string, string];
      expect({
        entry,
        registered: app.hasRoute({ method: method.toUpperCase() as 'GET', url: url.replace(/\{(\w+)\}/g, ':$1') }),
      }).toEqual({
        entry,
        registered: true,
      });
    }
  });

  test('every API operation documents a success answer and the 401 and 503 error shapes; path ids are parameters', () => {
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => /^2\d\d$/.test(s))).toBe(true);
        if (!p.startsWith('/api/v1') && !p.startsWith('/scim/v2')) {
          expect(op.security).toEqual([]);
          continue;
        }
        expect(op.responses['401']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
        // Any call may meet a Redis that does not answer (SG_ERR_UNAVAILABLE).
        expect(op.responses['503']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
        if (p.includes('{id}'))
          expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'path', name: 'id' })]));
        const route = `${method} ${p}`;
        expect({ route, body: op.requestBody !== undefined }).toEqual({ route, body: BODY_ROUTES.includes(route) });
      }
    }
  });

  test('every $ref resolves to a component schema', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of new Set(refs)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.slice('#/components/schemas/'.length)]).toBeDefined();
    }
  });

  test('keeps to OpenAPI 3.0: no JSON-schema-only keywords, every response and operation described', () => {
    // A full meta-schema check needs @apidevtools/swagger-parser (not a dependency); these
    // are the rules a document generated from JSON schemas breaks in practice.
    const offences: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) return node.forEach((child, i) => walk(child, `${at}/${i}`));
      if (!node || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === '$id' || key === '$schema' || key === 'const') offences.push(`${at}/${key}`);
        if (key === 'type' && typeof value !== 'string' && !at.endsWith('/properties')) offences.push(`${at}/type`);
        walk(value, `${at}/${key}`);
      }
    };
    walk(doc, '#');
    expect(offences).toEqual([]);
    for (const [p, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const described = op as Operation & { summary?: string; tags?: string[] };
        expect({ route: `${method} ${p}`, summary: typeof described.summary, tags: described.tags?.length }).toEqual({
          route: `${method} ${p}`,
          summary: 'string',
          tags: 1,
        });
        for (const [status, response] of Object.entries(op.responses))
          expect({
            route: `${method} ${p} ${status}`,
            description: typeof (response as { description?: unknown }).description,
          }).toEqual({
            route: `${method} ${p} ${status}`,
            description: 'string',
          });
      }
  });

  test('documents the validation the server applies (threshold >= 1, log actions)', () => {
    const input = doc.components.schemas.ConfigurationInput as {
      properties: { accidentalDeletes: { properties: { threshold: { minimum: number } } } };
    };
    expect(input.properties.accidentalDeletes.properties.threshold.minimum).toBe(1);
    const logs = doc.paths['/api/v1/configurations/{id}/provisioning-logs']?.get;
    const action = logs?.parameters?.find((p) => p.name === 'action') as unknown as { schema: { enum: string[] } };
    expect(action.schema.enum).toEqual(['Create', 'Update', 'Delete', 'StagedDelete']);
  });
});
