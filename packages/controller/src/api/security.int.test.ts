/**
 * The HTTP surface as an attacker sees it, through the real controller (createServer)
 * and a real redis-server: bodies taken as typed, no secret in the log, dashboard
 * sessions instead of tokens in cookies, failed authentications rate-limited (API,
 * dashboard, /agent upgrade), security headers, ids and LDAP filters checked, and a
 * read-only queue dashboard.
 */
import http from 'node:http';
import { Writable } from 'node:stream';
import { startRedis, sleep, type RedisServer } from '@syncguard/testkit';
import { Queue } from 'bullmq';
import type { InjectOptions } from 'fastify';
import pino from 'pino';
import type { ControllerOptions } from '../controller-options';
import { createServer, type ControllerServer } from '../server';
import { TEST_ADMIN_TOKEN } from '../testing/harness';
import { Keys } from '../store/keys';

jest.mock('cookie', () => ({ stringifySetCookie: () => '' })); // see api.int.test.ts
jest.setTimeout(60_000);

const ADMIN = TEST_ADMIN_TOKEN;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
let redis: RedisServer;
const servers: ControllerServer[] = [];

/** A controller whose log lines (JSON, level info and up) are kept in `lines`. */
async function start(options: Partial<ControllerOptions> = {}): Promise<{ server: ControllerServer; lines: string[] }> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const server = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      redisUrl: redis.url,
      redisKeyPrefix: `sec-${servers.length}-${Date.now()}`,
      adminToken: ADMIN,
      workers: false,
      schedule: false,
      ...options,
    },
    { logger: pino({ level: 'info' }, stream) },
  );
  servers.push(server);
  return { server, lines };
}

function caller(server: ControllerServer) {
  return (method: InjectOptions['method'], url: string, payload?: unknown, extra: Partial<InjectOptions> = {}) =>
    server.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${ADMIN}` },
      ...(payload !== undefined ? { payload: payload as object } : {}),
      ...extra,
    });
}

const config = {
  name: 'corp.example.com',
  source: { baseDn: 'ou=people,dc=example,dc=com', filter: '(objectClass=inetOrgPerson)' },
  accidentalDeletes: { enabled: true, threshold: 50 },
};

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await redis?.dispose();
});

describe('request bodies are taken as typed (finding 2)', () => {
  let server: ControllerServer;
  let call: ReturnType<typeof caller>;
  beforeAll(async () => {
    ({ server } = await start());
    call = caller(server);
  });

  const wrong: [string, (body: typeof config) => object, string][] = [
    ['enabled: null', (c) => ({ ...c, accidentalDeletes: { enabled: null } }), 'accidentalDeletes.enabled'],
    ['countDisables: null', (c) => ({ ...c, accidentalDeletes: { countDisables: null } }), 'accidentalDeletes.countDisables'],
    ['enabled: "false"', (c) => ({ ...c, accidentalDeletes: { enabled: 'false' } }), 'accidentalDeletes.enabled'],
    ['threshold: true', (c) => ({ ...c, accidentalDeletes: { threshold: true } }), 'accidentalDeletes.threshold'],
    ['threshold: "10"', (c) => ({ ...c, accidentalDeletes: { threshold: '10' } }), 'accidentalDeletes.threshold'],
    ['threshold: [5]', (c) => ({ ...c, accidentalDeletes: { threshold: [5] } }), 'accidentalDeletes.threshold'],
    ['name: 123', (c) => ({ ...c, name: 123 }), 'name'],
    ['syncIntervalSeconds: "60"', (c) => ({ ...c, syncIntervalSeconds: '60' }), 'syncIntervalSeconds'],
    ['agentIds: "x"', (c) => ({ ...c, agentIds: 'x' }), 'agentIds'],
  ];

  test.each(wrong)('POST with %s is a 400 naming the field', async (_name, body, field) => {
    const res = await call('POST', '/api/v1/configurations', body(config));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field });
    expect(res.json().error.message).toContain(field);
    expect((await call('GET', '/api/v1/configurations')).json().items).toHaveLength(0);
  });

  test.each(wrong)('PATCH with %s is a 400 naming the field, and nothing changes', async (_name, body, field) => {
    const created = await call('POST', '/api/v1/configurations', config);
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const patch = body(config) as Record<string, unknown>;
    const only = field.startsWith('accidentalDeletes.')
      ? { accidentalDeletes: patch.accidentalDeletes }
      : { [field]: patch[field] };
    const res = await call('PATCH', `/api/v1/configurations/${id}`, only);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field });
    const after = (await call('GET', `/api/v1/configurations/${id}`)).json();
    expect(after.accidentalDeletes).toEqual(created.json().accidentalDeletes);
    expect(after.accidentalDeletes).toMatchObject({ enabled: true, threshold: 50, countDisables: false });
    expect(after.name).toBe(config.name);
    await call('DELETE', `/api/v1/configurations/${id}`);
  });

  test('tokens and agents: a name that is not a string is a 400, not "123"', async () => {
    const token = await call('POST', '/api/v1/tokens', { name: 123, role: 'reader' });
    expect(token.statusCode).toBe(400);
    expect(token.json().error.field).toBe('name');
    const agent = await call('POST', '/api/v1/agents', { name: 123 });
    expect(agent.statusCode).toBe(400);
    expect(agent.json().error.field).toBe('name');
  });

  test('query strings are still converted', async () => {
    const res = await call('GET', '/api/v1/configurations?limit=1');
    expect(res.statusCode).toBe(200);
  });
});

describe('ids in paths and source filters (finding 11)', () => {
  let server: ControllerServer;
  let call: ReturnType<typeof caller>;
  beforeAll(async () => {
    ({ server } = await start());
    call = caller(server);
  });

  test('anything that is not an id is a 400 naming it, before Redis is asked', async () => {
    const created = (await call('POST', '/api/v1/configurations', config)).json();
    for (const url of [
      `/api/v1/configurations/${created.id}:state`,
      `/api/v1/configurations/${created.id}:state/status`,
      '/api/v1/configurations/*',
      '/api/v1/agents/x',
      `/api/v1/configurations/${created.id}/provisioning-logs?cycleId=${created.id}:x`,
    ]) {
      const res = await call('GET', url);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 400 });
      expect(res.json().error.code).toBe('SG_ERR_INVALID_INPUT');
    }
    expect((await call('GET', `/api/v1/configurations/${created.id}:state`)).json().error.field).toBe('id');
    expect((await call('DELETE', '/api/v1/tokens/zz')).statusCode).toBe(400);
    expect((await call('GET', `/api/v1/configurations/${UNKNOWN_ID}`)).statusCode).toBe(404);
    expect((await call('GET', `/api/v1/configurations/${created.id}`)).statusCode).toBe(200);
  });

  const badFilters: [string, string, RegExp][] = [
    ['unbalanced', '(objectClass=person', /enclosed in parentheses/],
    ['no parentheses', 'uid=1', /enclosed in parentheses/],
    ['an unclosed inner filter', '(&(objectClass=person)', /unbalanced parentheses/],
    ['doubled parentheses', '((objectClass=person))', /not an LDAP filter/],
    ['two filters side by side', '(a=1)(b=2)', /more than one filter/],
    ['a bad escape', '(cn=\\zz)', /escaped hex/],
    ['a 4,000-character substring', `(cn=${'*a'.repeat(2000)}*)`, /substring assertion on cn/],
    ['a long substring value', `(cn=*${'a'.repeat(300)}*)`, /longer than 256/],
    ['deep nesting', `${'(!'.repeat(11)}(a=1)${')'.repeat(11)}`, /deeper than 10/],
    ['too many terms', `(|${'(a=1)'.repeat(65)})`, /more than 64/],
  ];

  test.each(badFilters)('source.filter with %s is a 400 naming source.filter', async (_name, filter, reason) => {
    const res = await call('POST', '/api/v1/configurations', { ...config, source: { ...config.source, filter } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.field).toBe('source.filter');
    expect(res.json().error.message).toMatch(reason);
  });

  test('real filters pass', async () => {
    for (const filter of [
      '(&(objectClass=inetOrgPerson)(!(employeeType=contractor)))',
      '(|(memberOf=cn=staff,ou=groups,dc=example,dc=com)(cn=adm*))',
      '(cn:caseExactMatch:=Fred)',
    ]) {
      const res = await call('POST', '/api/v1/configurations', { ...config, source: { ...config.source, filter } });
      expect({ filter, status: res.statusCode }).toEqual({ filter, status: 201 });
    }
  });
});

describe('no secret in the log; dashboard sessions (finding 3)', () => {
  let server: ControllerServer;
  let lines: string[];
  let call: ReturnType<typeof caller>;
  beforeAll(async () => {
    ({ server, lines } = await start({ dashboardSessionTtlMs: 2000, trustProxy: ['10.0.0.1'] }));
    call = caller(server);
  });

  test('no log line holds the admin token, an API token, a wrong token or the session id', async () => {
    const reader = (await call('POST', '/api/v1/tokens', { name: 'r', role: 'reader' })).json().token as string;
    const wrong = 'sgt_0123456789abcdef_wrong-secret-guess';
    const viaQuery = await server.app.inject(`/admin/queues?token=${encodeURIComponent(ADMIN)}`);
    expect(viaQuery.statusCode).toBe(303);
    const session = /syncguard_admin=([^;]+)/.exec(String(viaQuery.headers['set-cookie']))![1]!;
    await server.app.inject({ url: '/admin/queues/api/queues', headers: { cookie: `syncguard_admin=${session}` } });
    await server.app.inject(`/admin/queues?token=${wrong}`);
    await server.app.inject({ url: '/api/v1/configurations', headers: { authorization: `Bearer ${wrong}` } });
    await server.app.inject({ url: `/api/v1/configurations?token=${reader}`, headers: { authorization: `Bearer ${reader}` } });
    await call('GET', '/api/v1/nope?access_token=abc');

    const log = lines.join('\n');
    expect(log).toContain('incoming request');
    expect(log).toContain('/admin/queues?token=[REDACTED]');
    for (const secret of [ADMIN, encodeURIComponent(ADMIN), reader, wrong, session]) expect(log).not.toContain(secret);
    // Failures are logged at warn, with the client address and without the secret.
    const failures = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'authentication failed');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const f of failures) expect(f).toMatchObject({ level: 40, client: '127.0.0.1' });
  });

  test('?token= is exchanged for a session id with Max-Age; the cookie never holds the token', async () => {
    const res = await server.app.inject(`/admin/queues?token=${encodeURIComponent(ADMIN)}`);
    const cookie = String(res.headers['set-cookie']);
    const id = /^syncguard_admin=([^;]+)/.exec(cookie)![1]!;
    expect(id).not.toContain(ADMIN);
    expect(decodeURIComponent(id)).not.toBe(ADMIN);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie).toMatch(/; Max-Age=2(;|$)/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\/admin\/queues/);
    expect(cookie).not.toMatch(/Secure/);
    // Redis holds its hash, not the id itself.
    const keys = await server.redis.keys(`${server.options.redisKeyPrefix}:dashboard-session:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).not.toContain(id);
  });

  test('Secure behind a trusted proxy that says https; an untrusted peer saying so is ignored', async () => {
    const url = `/admin/queues?token=${encodeURIComponent(ADMIN)}`;
    const proxied = await server.app.inject({ url, remoteAddress: '10.0.0.1', headers: { 'x-forwarded-proto': 'https' } });
    expect(String(proxied.headers['set-cookie'])).toMatch(/; Secure/);
    const spoofed = await server.app.inject({ url, remoteAddress: '192.0.2.9', headers: { 'x-forwarded-proto': 'https' } });
    expect(String(spoofed.headers['set-cookie'])).not.toMatch(/Secure/);
  });

  test('an unknown, expired or revoked session is 401; ?token= counts on GET only', async () => {
    const unknown = await server.app.inject({ url: '/admin/queues', headers: { cookie: `syncguard_admin=${'A'.repeat(43)}` } });
    expect(unknown.statusCode).toBe(401);
    expect((await server.app.inject({ url: '/admin/queues', headers: { cookie: `syncguard_admin=${ADMIN}` } })).statusCode).toBe(
      401,
    );

    const fresh = await server.app.inject(`/admin/queues?token=${encodeURIComponent(ADMIN)}`);
    const cookie = String(fresh.headers['set-cookie']).split(';')[0]!;
    expect((await server.app.inject({ url: '/admin/queues', headers: { cookie } })).statusCode).toBe(200);
    await sleep(2300);
    expect((await server.app.inject({ url: '/admin/queues', headers: { cookie } })).statusCode).toBe(401);

    const admin = (await call('POST', '/api/v1/tokens', { name: 'dash', role: 'admin' })).json();
    const viaToken = await server.app.inject(`/admin/queues?token=${encodeURIComponent(admin.token)}`);
    const tokenCookie = String(viaToken.headers['set-cookie']).split(';')[0]!;
    expect((await server.app.inject({ url: '/admin/queues', headers: { cookie: tokenCookie } })).statusCode).toBe(200);
    expect((await call('DELETE', `/api/v1/tokens/${admin.id}`)).statusCode).toBe(204);
    expect((await server.app.inject({ url: '/admin/queues', headers: { cookie: tokenCookie } })).statusCode).toBe(401);

    // A restart with a new bootstrap token ends the sessions made with the old one. (The
    // controller with the new token is started first: on a loaded machine its start can
    // outlast the 2 s session.)
    const rotated = (await start({ redisKeyPrefix: server.options.redisKeyPrefix, adminToken: `${ADMIN}-rotated` })).server;
    const old = await server.app.inject(`/admin/queues?token=${encodeURIComponent(ADMIN)}`);
    const oldCookie = String(old.headers['set-cookie']).split(';')[0]!;
    expect((await rotated.app.inject({ url: '/admin/queues', headers: { cookie: oldCookie } })).statusCode).toBe(401);
    expect((await server.app.inject({ url: '/admin/queues', headers: { cookie: oldCookie } })).statusCode).toBe(200);

    const head = await server.app.inject({ method: 'HEAD', url: `/admin/queues?token=${encodeURIComponent(ADMIN)}` });
    expect(head.statusCode).toBe(401);
    expect(head.headers['set-cookie']).toBeUndefined();
  });
});

describe('failed authentication is rate-limited per client address (finding 7)', () => {
  let server: ControllerServer;
  let lines: string[];
  beforeAll(async () => {
    ({ server, lines } = await start({ authFailureLimit: 5, authFailureWindowMs: 60_000 }));
  });

  const api = (token: string, remoteAddress: string) =>
    server.app.inject({ url: '/api/v1/configurations', remoteAddress, headers: { authorization: `Bearer ${token}` } });

  test('the API: 429 after the limit, even for a good token from that address; other addresses unaffected', async () => {
    for (let i = 0; i < 5; i += 1) expect((await api(`sgt_0123456789abcdef_guess${i}`, '192.0.2.1')).statusCode).toBe(401);
    const blocked = await api('sgt_0123456789abcdef_guess5', '192.0.2.1');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('SG_ERR_TOO_MANY_REQUESTS');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await api(ADMIN, '192.0.2.1')).statusCode).toBe(429);
    expect((await api(ADMIN, '192.0.2.2')).statusCode).toBe(200);
    // The dashboard shares the count.
    const dashboard = await server.app.inject({ url: `/admin/queues?token=${ADMIN}`, remoteAddress: '192.0.2.1' });
    expect(dashboard.statusCode).toBe(429);
    // Public routes stay open.
    expect((await server.app.inject({ url: '/healthz', remoteAddress: '192.0.2.1' })).statusCode).toBe(200);
    expect(lines.some((l) => l.includes('client address blocked') && l.includes('192.0.2.1'))).toBe(true);
  });

  test('the dashboard counts its own failures', async () => {
    for (let i = 0; i < 5; i += 1)
      expect((await server.app.inject({ url: `/admin/queues?token=guess${i}`, remoteAddress: '192.0.2.3' })).statusCode).toBe(
        401,
      );
    expect((await server.app.inject({ url: `/admin/queues?token=${ADMIN}`, remoteAddress: '192.0.2.3' })).statusCode).toBe(429);
    expect((await api(ADMIN, '192.0.2.3')).statusCode).toBe(429);
  });

  test('the /agent upgrade answers 429 once the address is blocked', async () => {
    await server.listen();
    const upgrade = (token: string) =>
      new Promise<{ status: number; retryAfter?: string }>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: server.port,
          path: '/agent',
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
            authorization: `Bearer ${token}`,
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve({ status: res.statusCode ?? 0 });
        });
        req.on('error', reject);
        req.end();
      });
    for (let i = 0; i < 5; i += 1) expect((await upgrade(`sga_guess${i}`)).status).toBe(401);
    const blocked = await upgrade('sga_guess5');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    const failures = lines.map((l) => JSON.parse(l)).filter((l) => l.surface === 'agent');
    expect(failures).toHaveLength(5);
    for (const f of failures) expect(f).toMatchObject({ level: 40, client: '127.0.0.1' });
    expect(lines.join('\n')).not.toContain('sga_guess');
  });
});

describe('security headers (finding 8)', () => {
  test('on the portal, the API, the dashboard and the operations routes', async () => {
    const { server } = await start();
    const call = caller(server);
    const answers = {
      portal: await server.app.inject({ url: '/', headers: { accept: 'text/html' } }),
      deepLink: await server.app.inject({ url: '/configurations/x', headers: { accept: 'text/html' } }),
      api: await call('GET', '/api/v1/configurations'),
      apiError: await server.app.inject('/api/v1/configurations'),
      dashboard: await call('GET', '/admin/queues'),
      healthz: await server.app.inject('/healthz'),
    };
    for (const [name, res] of Object.entries(answers)) {
      const h = res.headers;
      expect({ name, nosniff: h['x-content-type-options'] }).toEqual({ name, nosniff: 'nosniff' });
      expect({ name, frame: h['x-frame-options'] }).toEqual({ name, frame: 'DENY' });
      expect({ name, referrer: h['referrer-policy'] }).toEqual({ name, referrer: 'no-referrer' });
      const csp = String(h['content-security-policy']);
      expect({ name, csp }).toEqual({ name, csp: expect.stringContaining("frame-ancestors 'none'") });
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    }
    expect(answers.portal.statusCode).toBe(200);
    expect(String(answers.portal.headers['content-security-policy'])).toContain("style-src 'self';");
  });
});

describe('the queue dashboard is read-only (finding 12)', () => {
  test('every POST, PUT, PATCH and DELETE is 405 and the queue is untouched', async () => {
    const { server } = await start();
    const call = caller(server);
    const queue = new Queue('mail', {
      connection: { host: '127.0.0.1', port: redis.port },
      prefix: new Keys(server.options.redisKeyPrefix).bullPrefix('mail'),
    });
    try {
      await queue.add('probe', { configurationId: 'x' });
      const attempts: [InjectOptions['method'], string][] = [
        ['POST', '/admin/queues/api/queues/mail/add'],
        ['PUT', '/admin/queues/api/queues/mail/obliterate'],
        ['PUT', '/admin/queues/api/queues/mail/clean/waiting'],
        ['PUT', '/admin/queues/api/queues/mail/empty'],
        ['PUT', '/admin/queues/api/queues/mail/pause'],
        ['PUT', '/admin/queues/api/queues/pause'],
        ['PATCH', '/admin/queues/api/queues/mail/1/update-data'],
        ['DELETE', '/admin/queues/api/queues/mail'],
        ['POST', '/admin/queues'],
        ['POST', `/admin/queues?token=${ADMIN}`],
      ];
      for (const [method, url] of attempts) {
        const res = await call(method, url, { name: 'x', data: {} });
        expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 405 });
        expect(res.json().error.code).toBe('SG_ERR_METHOD_NOT_ALLOWED');
        expect(res.headers.allow).toBe('GET, HEAD');
      }
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
      expect(await queue.isPaused()).toBe(false);
      const listed = await call('GET', '/admin/queues/api/queues');
      expect(listed.statusCode).toBe(200);
      expect(JSON.stringify(listed.json())).toContain('"readOnlyMode":true');
    } finally {
      await queue.close();
    }
  });
});
