/**
 * The HTTP API through Fastify inject(), against the in-memory test double of
 * ControllerService and a real redis-server (tokens live there). The engine's real
 * service is exercised in api-real-service.int.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Queue } from 'bullmq';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { ControllerMetrics } from '../metrics';
import { buildHttpApp } from './http-app';
import { httpStores } from '../store/http-stores';
import { Keys } from '../store/keys';
import { InMemoryControllerService } from './in-memory-service.test';

// Fastify's inject() (light-my-request) requires cookie 2, an ES module that Jest cannot
// require on Node 20. It only uses stringifySetCookie, for `cookies` inject options.
jest.mock('cookie', () => ({
  stringifySetCookie: (c: { name: string; value: string }) => `${c.name}=${encodeURIComponent(c.value)}`,
}));

const ADMIN = 'bootstrap-secret-for-tests-0123456789';
const prefix = 'sgtest';
/** Shaped like an id, but nobody's. */
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
let redisServer: RedisServer;
let redis: Redis;
let service: InMemoryControllerService;
let app: FastifyInstance;
let queue: Queue;
let portalDir: string;

const validConfig = {
  name: 'corp.example.com',
  source: { baseDn: 'ou=people,dc=example,dc=com', filter: '(objectClass=inetOrgPerson)', objectTypes: ['user', 'group'] },
  syncIntervalSeconds: 120,
  notificationEmail: 'ops@example.com',
};

function call(method: InjectOptions['method'], url: string, token: string | null = ADMIN, payload?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
}

async function createConfig(body: object = validConfig): Promise<{ id: string; name: string }> {
  const res = await call('POST', '/api/v1/configurations', ADMIN, body);
  expect(res.statusCode).toBe(201);
  return res.json();
}

async function createToken(role: 'admin' | 'reader', name = `${role}-token`): Promise<{ id: string; token: string }> {
  const res = await call('POST', '/api/v1/tokens', ADMIN, { name, role });
  expect(res.statusCode).toBe(201);
  return res.json();
}

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  queue = new Queue('sg-test-cycles', { connection: { host: '127.0.0.1', port: redisServer.port }, prefix });
  portalDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-portal-'));
  fs.writeFileSync(path.join(portalDir, 'index.html'), '<!doctype html><title>syncguard portal</title>');
  fs.mkdirSync(path.join(portalDir, 'assets'));
  fs.writeFileSync(path.join(portalDir, 'assets', 'app.js'), 'console.log("portal")');
});

beforeEach(async () => {
  await redis.flushall();
  service = new InMemoryControllerService();
  app = await buildHttpApp({
    service,
    metrics: new ControllerMetrics(),
    stores: httpStores(redis, prefix),
    adminToken: ADMIN,
    logger: pino({ level: 'silent' }),
    queues: [queue],
    portalDir,
  });
});

afterEach(async () => {
  await app.close();
});

afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await redisServer?.dispose();
  fs.rmSync(portalDir, { recursive: true, force: true });
});

describe('authentication and roles', () => {
  test('401 without a token, with a malformed header and with an unknown token', async () => {
    for (const res of [
      await call('GET', '/api/v1/configurations', null),
      await app.inject({ method: 'GET', url: '/api/v1/configurations', headers: { authorization: `Basic ${ADMIN}` } }),
      await call('GET', '/api/v1/configurations', 'sgt_0123456789abcdef_nope'),
      await call('GET', '/api/v1/configurations', `${ADMIN}x`),
    ]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'SG_ERR_UNAUTHORIZED', message: expect.any(String) } });
    }
  });

  test('a reader may GET but gets 403 on every admin call; an admin token may do them', async () => {
    const config = await createConfig();
    service.quarantine(config.id, 3);
    const reader = await createToken('reader');
    for (const url of ['/api/v1/configurations', `/api/v1/configurations/${config.id}/status`, '/api/v1/audit', '/api/v1/agents'])
      expect((await call('GET', url, reader.token)).statusCode).toBe(200);
    const adminCalls: [InjectOptions['method'], string, unknown?][] = [
      ['POST', '/api/v1/agents', { name: 'a' }],
      ['POST', '/api/v1/configurations', { ...validConfig, name: 'other' }],
      ['PATCH', `/api/v1/configurations/${config.id}`, { syncIntervalSeconds: 60 }],
      ['DELETE', `/api/v1/configurations/${config.id}`],
      ['POST', `/api/v1/configurations/${config.id}/cycles`],
      ['POST', `/api/v1/configurations/${config.id}/allow-deletes`],
      ['POST', `/api/v1/configurations/${config.id}/restart`],
      ['POST', '/api/v1/tokens', { name: 'x', role: 'admin' }],
      ['GET', '/api/v1/tokens'],
      ['DELETE', `/api/v1/tokens/${reader.id}`],
    ];
    for (const [method, url, body] of adminCalls) {
      const res = await call(method, url, reader.token, body);
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 403 });
      expect(res.json().error.code).toBe('SG_ERR_FORBIDDEN');
    }
    expect(service.quarantines.has(config.id)).toBe(true);
    const admin = await createToken('admin');
    const res = await call('POST', `/api/v1/configurations/${config.id}/allow-deletes`, admin.token);
    expect(res.statusCode).toBe(200);
    expect(service.audit[0]).toMatchObject({ action: 'allow-deletes', actor: { tokenId: admin.id, name: 'admin-token' } });
  });

  test('the bootstrap token acts as bootstrap-admin', async () => {
    const config = await createConfig();
    expect(service.audit[0]).toMatchObject({
      action: 'configuration.create',
      actor: { tokenId: 'bootstrap', name: 'bootstrap-admin' },
      target: { id: config.id },
    });
  });
});

describe('tokens', () => {
  test('create answers the secret once, list never shows it, Redis holds only its hash, revoke stops it', async () => {
    const created = await createToken('reader', 'grafana');
    expect(created).toMatchObject({
      id: expect.any(String),
      name: 'grafana',
      role: 'reader',
      token: expect.stringMatching(/^sgt_/),
    });

    const list = await call('GET', '/api/v1/tokens');
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual([expect.objectContaining({ id: created.id, name: 'grafana', role: 'reader' })]);
    expect(list.body).not.toContain(created.token);
    expect(list.json().items[0]).not.toHaveProperty('hash');
    expect(list.json().items[0]).not.toHaveProperty('token');

    const keys = await redis.keys('*');
    expect(keys.every((k) => k.startsWith(`${prefix}:`))).toBe(true);
    const secretPart = created.token.split('_').slice(2).join('_');
    for (const key of keys) {
      const type = await redis.type(key);
      const dump = type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : JSON.stringify(await redis.zrange(key, 0, -1));
      expect(dump).not.toContain(secretPart);
    }
    const stored = await redis.hgetall(new Keys(prefix).apiToken(created.id));
    expect(stored.hash).toMatch(/^[0-9a-f]{64}$/);

    expect((await call('GET', '/api/v1/configurations', created.token)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/tokens')).json().items[0].lastUsedAt).toEqual(expect.any(String));
    // The right id with a wrong secret: found by id, refused by the hash comparison.
    const forged = `sgt_${created.id}_${'A'.repeat(secretPart.length)}`;
    expect((await call('GET', '/api/v1/configurations', forged)).statusCode).toBe(401);
    expect((await call('DELETE', `/api/v1/tokens/${created.id}`)).statusCode).toBe(204);
    expect((await call('GET', '/api/v1/configurations', created.token)).statusCode).toBe(401);
    expect((await call('DELETE', `/api/v1/tokens/${created.id}`)).statusCode).toBe(404);

    const audit = (await call('GET', '/api/v1/audit')).json().items.map((e: { action: string }) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['token.create', 'token.revoke']));
  });

  test('400 names the field: bad role, missing name', async () => {
    let res = await call('POST', '/api/v1/tokens', ADMIN, { name: 'x', role: 'root' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: 'SG_ERR_INVALID_INPUT',
      field: 'role',
      message: expect.stringContaining('role'),
    });
    res = await call('POST', '/api/v1/tokens', ADMIN, { role: 'admin' });
    expect(res.json().error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field: 'name' });
  });
});

describe('agents', () => {
  test('register, list, show, 404 and 400', async () => {
    const res = await call('POST', '/api/v1/agents', ADMIN, { name: 'dc1' });
    expect(res.statusCode).toBe(201);
    const { id, token } = res.json();
    expect(token).toEqual(expect.any(String));
    expect((await call('GET', '/api/v1/agents')).json()).toEqual({
      items: [expect.objectContaining({ id, name: 'dc1', status: 'disconnected', configurationIds: [] })],
      nextCursor: null,
    });
    expect((await call('GET', `/api/v1/agents/${id}`)).json()).toMatchObject({ id, name: 'dc1', lastSeenAt: null });
    const missing = await call('GET', `/api/v1/agents/${UNKNOWN_ID}`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('SG_ERR_NOT_FOUND');
    const notAnId = await call('GET', '/api/v1/agents/nope');
    expect(notAnId.statusCode).toBe(400);
    expect(notAnId.json().error.field).toBe('id');
    const bad = await call('POST', '/api/v1/agents', ADMIN, { name: '' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.field).toBe('name');
  });
});

describe('configurations', () => {
  test('create, read, list, change, delete', async () => {
    const created = await createConfig();
    expect(created).toMatchObject({
      id: expect.any(String),
      name: 'corp.example.com',
      state: 'pending',
      accidentalDeletes: { enabled: true, threshold: 500 },
    });
    expect((await call('GET', `/api/v1/configurations/${created.id}`)).json()).toMatchObject({ id: created.id });
    expect((await call('GET', '/api/v1/configurations')).json().items).toHaveLength(1);

    const patched = await call('PATCH', `/api/v1/configurations/${created.id}`, ADMIN, { accidentalDeletes: { threshold: 50 } });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().accidentalDeletes).toEqual({
      enabled: true,
      threshold: 50,
      countDisables: false,
      percentage: null,
      minimumObjects: 100,
      perType: null,
      window: null,
      protected: null,
      memberRemovals: null,
      hold: 'cycle',
      approvals: 1,
    });

    expect((await call('DELETE', `/api/v1/configurations/${created.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/configurations/${created.id}`)).statusCode).toBe(404);
    expect((await call('PATCH', `/api/v1/configurations/${created.id}`, ADMIN, { name: 'x' })).statusCode).toBe(404);
    expect((await call('DELETE', `/api/v1/configurations/${created.id}`)).statusCode).toBe(404);
  });

  test.each([
    [{ ...validConfig, accidentalDeletes: { threshold: 0 } }, 'accidentalDeletes.threshold'],
    [{ ...validConfig, accidentalDeletes: { threshold: 2.5 } }, 'accidentalDeletes.threshold'],
    [{ ...validConfig, source: { filter: '' } }, 'source.baseDn'],
    [{ ...validConfig, source: { baseDn: 'dc=x', objectTypes: ['printer'] } }, 'source.objectTypes.0'],
    [{ ...validConfig, syncIntervalSeconds: 5 }, 'syncIntervalSeconds'],
    [{ ...validConfig, notificationEmail: 'not-an-address' }, 'notificationEmail'],
    [{ ...validConfig, treshold: 3 }, 'treshold'],
    [{ source: validConfig.source }, 'name'],
  ])('400 names the invalid field %#', async (body, field) => {
    const res = await call('POST', '/api/v1/configurations', ADMIN, body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'SG_ERR_INVALID_INPUT', field, message: expect.stringContaining(field) } });
  });

  test('400 from the service (ValidationError) and 409 (name taken) keep their code and field', async () => {
    let res = await call('POST', '/api/v1/configurations', ADMIN, { ...validConfig, agentIds: ['ghost'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field: 'agentIds' });
    await createConfig();
    res = await call('POST', '/api/v1/configurations', ADMIN, validConfig);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('SG_ERR_NAME_TAKEN');
  });

  test('400 on a PATCH with a bad value, and on a body that is not JSON', async () => {
    const { id } = await createConfig();
    let res = await call('PATCH', `/api/v1/configurations/${id}`, ADMIN, { accidentalDeletes: { threshold: -1 } });
    expect(res.json().error.field).toBe('accidentalDeletes.threshold');
    res = await app.inject({
      method: 'POST',
      url: '/api/v1/configurations',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('SG_ERR_INVALID_INPUT');
    res = await app.inject({
      method: 'POST',
      url: '/api/v1/configurations',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field: 'body' });
  });

  test('cursor pagination of the list', async () => {
    for (const name of ['a', 'b', 'c']) await createConfig({ ...validConfig, name });
    const first = (await call('GET', '/api/v1/configurations?limit=2')).json();
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await call('GET', `/api/v1/configurations?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    const names = [...first.items, ...second.items].map((c: { name: string }) => c.name).sort();
    expect(names).toEqual(['a', 'b', 'c']);
    expect((await call('GET', '/api/v1/configurations?limit=0')).json().error.field).toBe('limit');
    expect((await call('GET', '/api/v1/configurations?cursor=%25%25')).statusCode).toBe(400);
  });

  test('status, cycles, 409 while quarantined, allow-deletes, restart', async () => {
    const { id } = await createConfig();
    let status = (await call('GET', `/api/v1/configurations/${id}/status`)).json();
    expect(status).toEqual({ state: 'pending', quarantine: null, lastCycle: null });

    const started = await call('POST', `/api/v1/configurations/${id}/cycles`);
    expect(started.statusCode).toBe(202);
    const { cycleId } = started.json();
    const cycles = (await call('GET', `/api/v1/configurations/${id}/cycles`)).json();
    expect(cycles).toMatchObject({ items: [{ id: cycleId, state: 'running', completedAt: null }], nextCursor: null });

    expect((await call('POST', `/api/v1/configurations/${id}/allow-deletes`)).statusCode).toBe(409);
    expect((await call('POST', `/api/v1/configurations/${id}/restart`)).json().error.code).toBe('SG_ERR_NOT_QUARANTINED');

    const quarantinedCycle = service.quarantine(id, 612);
    status = (await call('GET', `/api/v1/configurations/${id}/status`)).json();
    expect(status).toMatchObject({
      state: 'quarantined',
      quarantine: { reason: 'TooManyDeletes', deleteCount: 612, threshold: 500, cycleId: quarantinedCycle },
      lastCycle: { id: quarantinedCycle, state: 'quarantined', counts: { delete: 612 } },
    });
    const blocked = await call('POST', `/api/v1/configurations/${id}/cycles`);
    expect(blocked.statusCode).toBe(409);

    const allowed = await app.inject({
      method: 'POST',
      url: `/api/v1/configurations/${id}/allow-deletes`,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, // and no body, as curl sends it
    });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toEqual({ state: 'applied', cycleId: quarantinedCycle, deleted: 612, kept: 0 });
    expect((await call('POST', `/api/v1/configurations/${id}/allow-deletes`)).statusCode).toBe(409);

    const again = service.quarantine(id, 10);
    const restarted = await call('POST', `/api/v1/configurations/${id}/restart`);
    expect(restarted.statusCode).toBe(200);
    expect(restarted.json()).toEqual({ discardedCycleId: again, cycleId: expect.any(String) });

    for (const url of ['status', 'cycles', 'provisioning-logs', 'objects'])
      expect((await call('GET', `/api/v1/configurations/${UNKNOWN_ID}/${url}`)).statusCode).toBe(404);
    for (const url of ['cycles', 'allow-deletes', 'restart'])
      expect((await call('POST', `/api/v1/configurations/${UNKNOWN_ID}/${url}`)).statusCode).toBe(404);
  });

  test('provisioning logs: filters, dn search, pagination, 400 on a bad action', async () => {
    const { id } = await createConfig();
    const cycleId = service.quarantine(id, 5);
    const base = `/api/v1/configurations/${id}/provisioning-logs`;
    const all = (await call('GET', `${base}?action=StagedDelete&cycleId=${cycleId}`)).json();
    expect(all.items).toHaveLength(5);
    expect(all.items[0]).toMatchObject({ cycleId, action: 'StagedDelete', status: 'staged', objectType: 'user', details: null });
    expect((await call('GET', `${base}?action=Create`)).json().items).toHaveLength(0);
    expect((await call('GET', `${base}?dn=USER3`)).json().items).toEqual([
      expect.objectContaining({ dn: expect.stringContaining('user3') }),
    ]);
    const page1 = (await call('GET', `${base}?limit=2`)).json();
    const page2 = (await call('GET', `${base}?limit=2&cursor=${page1.nextCursor}`)).json();
    expect(page2.items).toHaveLength(2);
    expect(page2.items[0].id).not.toBe(page1.items[0].id);
    const bad = await call('GET', `${base}?action=Remove`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ field: 'action', message: expect.stringContaining('StagedDelete') });
  });

  test('objects: {total, items}, type filter, 400 on a bad type', async () => {
    const { id } = await createConfig();
    const at = '2026-11-24T10:00:00.000Z';
    service.objects.set(id, [
      {
        id: 'u1',
        type: 'user',
        dn: 'uid=a,dc=x',
        attributes: { cn: ['A'] },
        disabled: false,
        memberDns: [],
        memberIds: [],
        updatedAt: at,
      },
      {
        id: 'g1',
        type: 'group',
        dn: 'cn=g,dc=x',
        attributes: {},
        disabled: false,
        memberDns: ['uid=a,dc=x'],
        memberIds: ['u1'],
        updatedAt: at,
      },
    ]);
    const res = (await call('GET', `/api/v1/configurations/${id}/objects?type=user`)).json();
    expect(res).toEqual({
      total: 1,
      items: [expect.objectContaining({ id: 'u1', attributes: { cn: ['A'] } })],
      nextCursor: null,
    });
    expect((await call('GET', `/api/v1/configurations/${id}/objects`)).json().total).toBe(2);
    expect((await call('GET', `/api/v1/configurations/${id}/objects?type=printer`)).json().error.field).toBe('type');
  });
});

describe('operations', () => {
  test('/healthz and /metrics need no token; /metrics reads quarantines and queue depths at scrape time', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok', redis: true });
    const { id } = await createConfig();
    service.quarantine(id, 3);
    await queue.add('cycle', { id });
    const metrics = await app.inject('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('syncguard_quarantined_configurations 1');
    expect(metrics.body).toContain('syncguard_queue_jobs{queue="sg-test-cycles",state="waiting"} 1');
    service.redisUp = false;
    expect((await app.inject('/healthz')).statusCode).toBe(503);
  });

  test('unknown routes answer the error shape', async () => {
    const res = await call('GET', '/api/v1/nothing-here');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'SG_ERR_NOT_FOUND', message: expect.any(String) } });
  });

  test('/admin/queues: admin token by header, or ?token= that sets an HttpOnly cookie; readers and strangers refused', async () => {
    expect((await app.inject('/admin/queues')).statusCode).toBe(401);
    const reader = await createToken('reader');
    expect((await call('GET', '/admin/queues', reader.token)).statusCode).toBe(403);
    const page = await call('GET', '/admin/queues');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<html');
    const api = await call('GET', '/admin/queues/api/queues');
    expect(api.statusCode).toBe(200);
    expect(JSON.stringify(api.json())).toContain('sg-test-cycles');

    const viaQuery = await app.inject(`/admin/queues?token=${encodeURIComponent(ADMIN)}`);
    expect(viaQuery.statusCode).toBe(303);
    expect(viaQuery.headers.location).toBe('/admin/queues');
    const cookie = String(viaQuery.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Path=\/admin\/queues/);
    const withCookie = await app.inject({ url: '/admin/queues', headers: { cookie: cookie.split(';')[0] as string } });
    expect(withCookie.statusCode).toBe(200);
  });

  test('the portal is served at / with an SPA fallback that leaves the API alone', async () => {
    const index = await app.inject({ url: '/', headers: { accept: 'text/html' } });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('syncguard portal');
    expect((await app.inject('/assets/app.js')).body).toContain('portal');
    const deep = await app.inject({ url: '/configurations/123', headers: { accept: 'text/html' } });
    expect(deep.statusCode).toBe(200);
    expect(deep.body).toContain('syncguard portal');
    const api = await app.inject({ url: '/api/v1/nope', headers: { accept: 'text/html' } });
    expect(api.statusCode).toBe(404);
  });
});
