/**
 * The HTTP API over the engine's real ControllerService (createServer in ../server.ts)
 * and a real redis-server: the happy path of every route that needs no connected agent,
 * plus the errors the engine decides (404, 409), and syncguardctl against it over HTTP. Quarantine happy paths (allow-deletes,
 * restart) need an agent and are covered by api.int.test.ts (test double) and the e2e
 * tests in test/e2e.
 */
import { PassThrough } from 'node:stream';
import { startRedis, type RedisServer } from '@syncguard/testkit';
import type { InjectOptions } from 'fastify';
import pino from 'pino';
import { runCli } from '../cli/program';
import { createServer, type ControllerServer } from '../server';

jest.mock('cookie', () => ({ stringifySetCookie: () => '' })); // see api.int.test.ts

const ADMIN = 'real-service-admin-token-0123456789';
let redisServer: RedisServer;
let server: ControllerServer;

function call(method: InjectOptions['method'], url: string, payload?: object, token = ADMIN) {
  return server.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
}

beforeAll(async () => {
  redisServer = await startRedis();
  server = await createServer(
    { adminToken: ADMIN, redisUrl: redisServer.url, redisKeyPrefix: 'sgreal', port: 0, workers: false, schedule: false },
    { logger: pino({ level: 'silent' }) },
  );
}, 30_000);

afterAll(async () => {
  await server?.close();
  await redisServer?.dispose();
});

test('every route through the real service', async () => {
  // agents
  const agent = await call('POST', '/api/v1/agents', { name: 'dc1' });
  expect(agent.statusCode).toBe(201);
  const { id: agentId, token: agentToken } = agent.json();
  expect(agentToken).toEqual(expect.any(String));
  expect((await call('GET', '/api/v1/agents')).json()).toMatchObject({
    items: [{ id: agentId, name: 'dc1', status: 'disconnected' }],
  });
  expect((await call('GET', `/api/v1/agents/${agentId}`)).json()).toMatchObject({ id: agentId, configurationIds: [] });
  expect((await call('GET', '/api/v1/agents/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  expect((await call('GET', '/api/v1/agents/nope')).statusCode).toBe(400);

  // configurations
  const created = await call('POST', '/api/v1/configurations', {
    name: 'corp.example.com',
    agentIds: [agentId],
    source: { baseDn: 'ou=people,dc=example,dc=com', filter: '(objectClass=inetOrgPerson)', objectTypes: ['user', 'group'] },
    syncIntervalSeconds: 120,
    notificationEmail: 'ops@example.com',
  });
  expect(created.statusCode).toBe(201);
  const config = created.json();
  expect(config).toMatchObject({
    name: 'corp.example.com',
    state: 'pending',
    accidentalDeletes: { enabled: true, threshold: 500 },
  });
  const base = `/api/v1/configurations/${config.id}`;
  expect((await call('GET', '/api/v1/configurations')).json().items).toEqual([expect.objectContaining({ id: config.id })]);
  expect((await call('GET', base)).json()).toMatchObject({ id: config.id, agentIds: [agentId] });
  const patched = await call('PATCH', base, { accidentalDeletes: { threshold: 50 } });
  expect(patched.statusCode).toBe(200);
  expect(patched.json().accidentalDeletes).toMatchObject({ enabled: true, threshold: 50 });
  expect((await call('GET', `/api/v1/agents/${agentId}`)).json().configurationIds).toEqual([config.id]);

  // status and history of a configuration that never ran
  expect((await call('GET', `${base}/status`)).json()).toEqual({
    state: 'pending',
    quarantine: null,
    lastCycle: null,
    notifications: [],
  });
  expect((await call('GET', `${base}/cycles`)).json()).toEqual({ items: [], nextCursor: null });
  expect((await call('GET', `${base}/provisioning-logs?action=StagedDelete&limit=10`)).json()).toEqual({
    items: [],
    nextCursor: null,
  });
  expect((await call('GET', `${base}/objects?type=user`)).json()).toMatchObject({ total: 0, items: [] });

  // the engine's conflicts: no agent connected, not quarantined
  const cycle = await call('POST', `${base}/cycles`);
  expect(cycle.statusCode).toBe(409);
  expect(cycle.json().error).toEqual({ code: expect.stringMatching(/^SG_ERR_/), message: expect.any(String) });
  expect((await call('POST', `${base}/allow-deletes`)).statusCode).toBe(409);
  expect((await call('POST', `${base}/restart`)).statusCode).toBe(409);

  // tokens and the audit log (the engine's recordAudit)
  const token = await call('POST', '/api/v1/tokens', { name: 'ops-reader', role: 'reader' });
  expect(token.statusCode).toBe(201);
  const reader = token.json();
  expect((await call('GET', '/api/v1/tokens')).json().items).toEqual([
    expect.objectContaining({ id: reader.id, role: 'reader' }),
  ]);
  expect((await call('GET', base, undefined, reader.token)).statusCode).toBe(200);
  expect((await call('PATCH', base, { syncIntervalSeconds: 60 }, reader.token)).statusCode).toBe(403);
  expect((await call('DELETE', `/api/v1/tokens/${reader.id}`)).statusCode).toBe(204);
  expect((await call('GET', base, undefined, reader.token)).statusCode).toBe(401);

  const audit = (await call('GET', '/api/v1/audit?limit=50')).json();
  const actions = audit.items.map((e: { action: string }) => e.action);
  expect(actions).toEqual(
    expect.arrayContaining(['agent.register', 'configuration.create', 'configuration.update', 'token.create', 'token.revoke']),
  );
  expect(audit.items.find((e: { action: string }) => e.action === 'configuration.update').actor).toEqual({
    tokenId: 'bootstrap',
    name: 'bootstrap-admin',
  });

  // delete
  expect((await call('DELETE', base)).statusCode).toBe(204);
  expect((await call('GET', base)).statusCode).toBe(404);

  // operations
  expect((await server.app.inject('/healthz')).statusCode).toBe(200);
  const metrics = await server.app.inject('/metrics');
  expect(metrics.body).toContain('syncguard_quarantined_configurations 0');
  expect(metrics.body).toMatch(/syncguard_queue_jobs\{queue="[^"]+",state="waiting"\} \d+/);
});

test('a bad threshold answers 400 naming the field', async () => {
  const res = await call('POST', '/api/v1/configurations', {
    name: 'x',
    source: { baseDn: 'dc=x' },
    accidentalDeletes: { threshold: 0 },
  });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.message).toContain('accidentalDeletes.threshold');
});

test('syncguardctl against the real controller listening on a port', async () => {
  const { url } = await server.listen();
  const run = async (...args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(['node', 'syncguardctl', '--url', url, '--token', ADMIN, ...args], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      stdin: Object.assign(new PassThrough(), { isTTY: false }),
      env: {},
    });
    return { code, stdout, stderr };
  };
  expect((await run('agents', 'register', 'dc2')).code).toBe(0);
  const created = await run(
    '--json',
    'configs',
    'create',
    '--name',
    'cli.example.com',
    '--base-dn',
    'dc=example,dc=com',
    '--agent',
    'dc2',
  );
  expect(created.code).toBe(0);
  expect(JSON.parse(created.stdout)).toMatchObject({
    name: 'cli.example.com',
    state: 'pending',
    accidentalDeletes: { threshold: 500 },
  });
  const list = await run('configs', 'list');
  expect(list.stdout).toMatch(/cli\.example\.com\s+pending\s+dc=example,dc=com\s+500\s+120s/);
  expect((await run('status', 'cli.example.com')).stdout).toMatch(/state:\s+pending/);
  const sync = await run('sync', 'cli.example.com');
  expect(sync).toMatchObject({ code: 1, stderr: expect.stringMatching(/\(HTTP 409, SG_ERR_[A-Z_]+\)/) });
  const allow = await run('allow-deletes', 'cli.example.com', '--yes');
  expect(allow).toMatchObject({ code: 1, stderr: expect.stringContaining('is not quarantined (state: pending)') });
  expect((await run('audit')).stdout).toMatch(/bootstrap-admin\s+configuration\.create/);
});
