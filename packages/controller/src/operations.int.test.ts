import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import {
  duplicateTopLevelKeys,
  freePort,
  makeTestCertificates,
  ManagedProcess,
  startRedis,
  waitFor,
  waitForPort,
  type RedisServer,
} from '@syncguard/testkit';
import { FakeAgent } from './testing/fake-agent';
import { registerAgent, startTestController, TEST_ADMIN_TOKEN } from './testing/harness';

/*
 * The controller as an operator runs it: the real program (dist/main.js) and the real
 * syncguardctl (dist/cli/main.js) against a real redis-server, which the tests pause
 * (SIGSTOP) and resume to show that nothing hangs and everything recovers by itself.
 */

jest.setTimeout(120_000);

const PKG = path.resolve(__dirname, '..');
const MAIN = path.join(PKG, 'dist/main.js');
const CTL = path.join(PKG, 'dist/cli/main.js');

beforeAll(() => {
  spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', PKG], { stdio: 'ignore' });
  if (!fs.existsSync(MAIN)) throw new Error('dist/main.js is missing: build the package first');
});

/** Runs syncguardctl as a child process (asynchronously: an in-process controller must keep answering). */
function ctl(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CTL, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: child.exitCode ?? (error ? -1 : 0), stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

describe('Redis requirements, checked at start', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
  });

  it('stops the controller when Redis may evict keys, naming the Redis setting', async () => {
    const admin = new Redis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const r = spawnSync(process.execPath, [MAIN], {
        env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN, SYNCGUARD_PORT: '0' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('Redis maxmemory-policy is allkeys-lru: syncguard needs noeviction');
      expect(r.stderr).toContain('maxmemory-policy noeviction');
      // BullMQ's raw warning is not what the operator sees.
      expect(r.stderr + r.stdout).not.toMatch(/IMPORTANT! Eviction policy/);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
  });
});

describe('a hung Redis (SIGSTOP) does not hang the controller', () => {
  let redis: RedisServer;
  let proc: ManagedProcess;
  let base: string;
  const headers = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

  beforeAll(async () => {
    redis = await startRedis();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = new ManagedProcess(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        SYNCGUARD_PORT: String(port),
        SYNCGUARD_HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      },
    });
    await waitForPort(port, 20_000);
  });

  afterAll(async () => {
    if (redis?.pid) process.kill(redis.pid, 'SIGCONT');
    await proc?.stop('SIGKILL');
    await redis?.dispose();
  });

  it('answers /healthz 503, API calls 503 SG_ERR_UNAVAILABLE and the CLI says why while Redis hangs, then recovers', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/api/v1/configurations`, { headers })).status).toBe(200);
    process.kill(redis.pid!, 'SIGSTOP');
    // Redis is stopped, not gone: every answer below comes from a deadline firing (without one
    // the calls would hang until the test's own timeout). How long each takes is a benchmark's
    // concern, not a test's.
    try {
      const health = { value: await fetch(`${base}/healthz`) };
      expect(health.value.status).toBe(503);
      expect(await health.value.json()).toEqual({ status: 'unavailable', redis: false });

      const api = { value: await fetch(`${base}/api/v1/configurations`, { headers }) };
      expect(api.value.status).toBe(503);
      expect(((await api.value.json()) as { error: { code: string } }).error.code).toBe('SG_ERR_UNAVAILABLE');

      const cli = await ctl(['configs', 'list'], {
        SYNCGUARD_URL: base,
        SYNCGUARD_TOKEN: TEST_ADMIN_TOKEN,
        SYNCGUARD_TIMEOUT: '10',
      });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain("the controller's Redis is unavailable");
      expect(cli.stderr).toContain('SG_ERR_UNAVAILABLE');
    } finally {
      process.kill(redis.pid!, 'SIGCONT');
    }
    await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, {
      timeoutMs: 20_000,
      message: 'healthz back to 200',
    });
    await waitFor(async () => (await fetch(`${base}/api/v1/configurations`, { headers })).status === 200, {
      timeoutMs: 20_000,
      message: 'API back',
    });
    expect(proc.running).toBe(true);
  });

  it('gives up a call after --timeout with a message that names the likely cause', async () => {
    // A controller that accepts the connection but never answers: a stand-in for any hang.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const cli = await ctl(['--timeout', '1', 'status', 'x'], {
        SYNCGUARD_URL: `http://127.0.0.1:${port}`,
        SYNCGUARD_TOKEN: 't',
      });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain('did not answer within 1 s');
      expect(cli.stderr).toContain('Redis may be unavailable');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('logs for operators: ISO-8601 times, no key twice in a line, no line per /healthz or /metrics', async () => {
    for (let i = 0; i < 5; i++) {
      await fetch(`${base}/healthz`);
      await fetch(`${base}/metrics`);
    }
    await fetch(`${base}/api/v1/agents`, { headers });
    await waitFor(() => proc.log.includes('/api/v1/agents'), { message: 'the API request is logged' });
    const lines = proc.log.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(parsed.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect({ line, twice: duplicateTopLevelKeys(line) }).toEqual({ line, twice: [] });
    }
    expect(lines.some((l) => l.includes('"component":"http"'))).toBe(true);
    expect(lines.filter((l) => l.includes('/healthz') || l.includes('/metrics'))).toEqual([]);
  });
});

describe('TLS for operators', () => {
  let redis: RedisServer;
  const certs = makeTestCertificates();
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
    certs.dispose();
  });

  it('syncguardctl names --ca-file for a certificate it cannot verify, and works with it', async () => {
    const server = await startTestController(redis.url, { tlsCertFile: certs.serverCertFile, tlsKeyFile: certs.serverKeyFile });
    try {
      const env = { SYNCGUARD_URL: server.url, SYNCGUARD_TOKEN: TEST_ADMIN_TOKEN };
      const untrusted = await ctl(['agents', 'list'], env);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/cannot verify the controller's TLS certificate .*pass its CA with --ca-file FILE/);
      const trusted = await ctl(['--ca-file', certs.caFile, 'agents', 'list'], env);
      expect(trusted.stderr).toBe('');
      expect(trusted.code).toBe(0);
      expect((await ctl(['agents', 'list'], { ...env, SYNCGUARD_CA_FILE: certs.caFile })).code).toBe(0);
      const missing = await ctl(['--ca-file', '/nonexistent.pem', 'agents', 'list'], env);
      expect(missing.code).toBe(78);
      expect(missing.stderr).toContain('SYNCGUARD_CA_FILE (--ca-file): cannot read /nonexistent.pem');
    } finally {
      await server.close();
    }
  });

  it('requires agents to present a client certificate signed by SYNCGUARD_TLS_CLIENT_CA', async () => {
    const server = await startTestController(redis.url, {
      tlsCertFile: certs.serverCertFile,
      tlsKeyFile: certs.serverKeyFile,
      tlsClientCaFile: certs.caFile,
    });
    try {
      const { id, token } = await registerAgent(server);
      const url = `${server.url.replace('https', 'wss')}/agent`;
      const ca = fs.readFileSync(certs.caFile);
      await expect(FakeAgent.connect({ url, agentId: id, token, wsOptions: { ca } })).rejects.toThrow(/403/);
      const agent = await FakeAgent.connect({
        url,
        agentId: id,
        token,
        wsOptions: { ca, cert: fs.readFileSync(certs.clientCertFile), key: fs.readFileSync(certs.clientKeyFile) },
      });
      await waitFor(async () => (await server.service.getAgent(id)).status === 'connected', { message: 'connected with mTLS' });
      await agent.close();
      // The API does not ask API clients for a certificate.
      const health = await ctl(['--ca-file', certs.caFile, 'agents', 'list'], {
        SYNCGUARD_URL: server.url,
        SYNCGUARD_TOKEN: TEST_ADMIN_TOKEN,
      });
      expect(health.code).toBe(0);
    } finally {
      await server.close();
    }
  });
});
