import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { CloseCode } from '@syncguard/protocol';
import { freePort, ManagedProcess, startRedis, waitFor, waitForPort, type RedisServer } from '@syncguard/testkit';
import { FakeAgent } from './testing/fake-agent';
import { registerAgent, startTestController, TEST_ADMIN_TOKEN } from './testing/harness';

jest.setTimeout(90_000);

const PKG = path.resolve(__dirname, '..');
const MAIN = path.join(PKG, 'dist/main.js');
let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  // Build dist/ (tsc emits even when a file elsewhere in the package has a type error).
  spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', PKG], { stdio: 'ignore' });
  if (!fs.existsSync(path.join(PKG, 'dist/main.js'))) throw new Error('dist/main.js is missing: build the package first');
  redis = await startRedis();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-main-'));
});

afterAll(async () => {
  await redis?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('syncguard-controller', () => {
  it('stops at start with a message that names a missing or bad setting', () => {
    const env = { PATH: process.env.PATH ?? '' };
    const missing = spawnSync(process.execPath, [MAIN], { env, encoding: 'utf8' });
    expect(missing.status).toBe(78);
    expect(missing.stderr).toContain('invalid setting SYNCGUARD_ADMIN_TOKEN (--admin-token): is required');
    expect(missing.stderr).toContain('SYNCGUARD_ADMIN_TOKEN');
    const badPort = spawnSync(process.execPath, [MAIN, '--port', 'x'], {
      env: { ...env, SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      encoding: 'utf8',
    });
    expect(badPort.status).toBe(78);
    expect(badPort.stderr).toContain('SYNCGUARD_PORT (--port):');
  });

  it('prints no password of a Redis or SMTP URL, and refuses a short admin token', async () => {
    const env = { PATH: process.env.PATH ?? '', SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const run = (extra: Record<string, string>) =>
      spawnSync(process.execPath, [MAIN], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
    const closed = await freePort();
    const cases: [Record<string, string>, string, number][] = [
      // A URL that parses, to a Redis that is not there: the connect error names it without the password.
      [
        { REDIS_URL: `redis://:S3cret@127.0.0.1:${closed}` },
        `cannot connect to Redis at redis://[REDACTED]@127.0.0.1:${closed}`,
        1,
      ],
      [{ REDIS_URL: `redis://admin:S3cret@127.0.0.1:${closed}/0` }, 'redis://[REDACTED]@127.0.0.1', 1],
      // URLs that do not parse or have the wrong scheme.
      [{ REDIS_URL: 'redis://:S3cret@redis.example.com:port' }, 'REDIS_URL (--redis-url): is not a URL', 78],
      [{ REDIS_URL: 'http://:S3cret@redis.example.com' }, 'REDIS_URL (--redis-url): must start with', 78],
      [{ SMTP_URL: 'smtp://mailer:S3cret@smtp.example.com:99999' }, 'SMTP_URL (--smtp-url): is not a URL', 78],
      // Sentinel and Cluster settings are checked together, each problem naming its setting.
      [
        { SYNCGUARD_REDIS_SENTINELS: '127.0.0.1:26379', SYNCGUARD_REDIS_PASSWORD: 'S3cret' },
        'SYNCGUARD_REDIS_SENTINEL_NAME: is required with SYNCGUARD_REDIS_SENTINELS',
        78,
      ],
      [
        { REDIS_URL: 'redis://127.0.0.1:1', SYNCGUARD_REDIS_CLUSTER_NODES: '127.0.0.1:7000' },
        'SYNCGUARD_REDIS_CLUSTER_NODES: set only one of REDIS_URL',
        78,
      ],
      [{ SYNCGUARD_REDIS_CLUSTER_NODES: '127.0.0.1' }, 'SYNCGUARD_REDIS_CLUSTER_NODES: "127.0.0.1" is not host:port', 78],
      // Nothing answers at the cluster's seed node: a clear failure at start, not a hang.
      [
        { SYNCGUARD_REDIS_CLUSTER_NODES: `127.0.0.1:${closed}` },
        `cannot connect to Redis at Redis Cluster via 127.0.0.1:${closed}`,
        1,
      ],
      [
        {
          SYNCGUARD_REDIS_SENTINELS: `127.0.0.1:${closed}`,
          SYNCGUARD_REDIS_SENTINEL_NAME: 'm',
          SYNCGUARD_REDIS_PASSWORD: 'S3cret',
        },
        `cannot connect to Redis at Sentinel master m via 127.0.0.1:${closed}`,
        1,
      ],
      [
        { SYNCGUARD_PUBLIC_URL: 'https://ops:S3cret@sync.example.com' },
        'SYNCGUARD_PUBLIC_URL (--public-url): must not hold a user or password',
        78,
      ],
    ];
    for (const [extra, expected, status] of cases) {
      const result = run(extra);
      expect({ extra, status: result.status }).toEqual({ extra, status });
      expect(result.stderr).toContain(expected);
      expect(result.stderr + result.stdout).not.toContain('S3cret');
    }
    const short = run({ SYNCGUARD_ADMIN_TOKEN: 'x'.repeat(31), REDIS_URL: redis.url });
    expect(short.status).toBe(78);
    expect(short.stderr).toContain('SYNCGUARD_ADMIN_TOKEN (--admin-token): must be at least 32 characters');
  });

  it('serves HTTP and agents on one port, logs JSON, and shuts down gracefully on SIGTERM', async () => {
    const port = await freePort();
    const proc = new ManagedProcess(process.execPath, [MAIN], {
      env: {
        ...process.env,
        SYNCGUARD_PORT: String(port),
        REDIS_URL: redis.url,
        SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        SYNCGUARD_REDIS_PREFIX: 'main-test',
      },
    });
    try {
      await waitForPort(port, 20_000);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const registered = await fetch(`http://127.0.0.1:${port}/api/v1/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'main-test' }),
      });
      expect(registered.status).toBeLessThan(300);
      const { id, token } = (await registered.json()) as { id: string; token: string };
      const agent = await FakeAgent.connect({ url: `ws://127.0.0.1:${port}/agent`, agentId: id, token });
      proc.child.kill('SIGTERM');
      expect(await agent.waitClosed()).toBe(CloseCode.GOING_AWAY);
      expect(await proc.wait()).toBe(0);
      const firstLine = proc.log.split('\n').find((l) => l.startsWith('{'));
      expect(JSON.parse(firstLine!)).toHaveProperty('level');
    } finally {
      await proc.stop('SIGKILL');
    }
  });

  it('serves HTTPS and WSS with a certificate and key file', async () => {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
      {
        stdio: 'ignore',
      },
    );
    const server = await startTestController(redis.url, { tlsCertFile: cert, tlsKeyFile: key });
    try {
      expect(server.url.startsWith('https://')).toBe(true);
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(`${server.url}/healthz`, { rejectUnauthorized: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      expect(status).toBe(200);
      const { id, token } = await registerAgent(server);
      const agent = await FakeAgent.connect({
        url: `${server.url.replace('https', 'wss')}/agent`,
        agentId: id,
        token,
        wsOptions: { rejectUnauthorized: false },
      });
      await waitFor(async () => (await server.service.getAgent(id)).status === 'connected', { message: 'connected over wss' });
      await agent.close();
    } finally {
      await server.close();
    }
  });
});
