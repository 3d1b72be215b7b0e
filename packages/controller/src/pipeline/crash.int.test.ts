import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { freePort, ManagedProcess, startRedis, waitFor, waitForPort, type RedisServer } from '@syncguard/testkit';
import { createServer, type ControllerServer } from '../server';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { TEST_ADMIN, TEST_ADMIN_TOKEN } from '../testing/harness';
import { Keys } from '../store/keys';

/*
 * The controller is killed (SIGKILL) in the middle of an apply and in the middle of a
 * cycle's stream, and started again: the work finishes, no object is applied twice and
 * none is lost. The controller runs as a real process from dist/; an in-process
 * controller without workers (an "API replica") drives it through Redis.
 */

jest.setTimeout(120_000);

const PKG = path.resolve(__dirname, '../..');
const PEOPLE = 'ou=people,dc=example,dc=com';
let redis: RedisServer;
let api: ControllerServer;
let dir: string;
let port: number;
let child: ManagedProcess | undefined;
const prefix = `crash-${randomUUID().slice(0, 8)}`;

function startChild(): ManagedProcess {
  const proc = new ManagedProcess(
    process.execPath,
    [path.join(PKG, 'dist/main.js'), '--config', path.join(dir, 'controller.json')],
    {
      env: { ...process.env, SYNCGUARD_LOG_LEVEL: 'warn' },
    },
  );
  return proc;
}

async function startController(): Promise<void> {
  child = startChild();
  await waitForPort(port, 20_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${child?.log}`);
  });
}

beforeAll(async () => {
  // Build dist/ (tsc emits even when a file elsewhere in the package has a type error).
  spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', PKG], { stdio: 'ignore' });
  if (!fs.existsSync(path.join(PKG, 'dist/main.js'))) throw new Error('dist/main.js is missing: build the package first');
  redis = await startRedis();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-crash-'));
  port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'controller.json'),
    JSON.stringify({
      SYNCGUARD_PORT: port,
      SYNCGUARD_HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      SYNCGUARD_REDIS_PREFIX: prefix,
      SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      SYNCGUARD_SCHEDULE: false,
      SYNCGUARD_HEARTBEAT_INTERVAL_MS: 1000,
      SYNCGUARD_APPLY_CHUNK_SIZE: 10,
      SYNCGUARD_APPLY_STEP_DELAY_MS: 40,
      SYNCGUARD_JOB_LOCK_MS: 2000,
      SYNCGUARD_STALLED_INTERVAL_MS: 1000,
    }),
  );
  api = await createServer(
    { redisUrl: redis.url, redisKeyPrefix: prefix, adminToken: TEST_ADMIN_TOKEN, workers: false, schedule: false, port: 0 },
    { logger: pino({ level: 'silent' }) },
  );
});

afterAll(async () => {
  await child?.stop('SIGKILL');
  await api?.close();
  await redis?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function cycleField(cycleId: string, field: string): Promise<string | null> {
  return api.redis.hget(`${new Keys(prefix).cycle(cycleId)}`, field);
}

async function createsPerObject(cfg: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = await api.service.listProvisioningLogs(cfg, { action: 'Create', limit: 1000, cursor });
    for (const e of page.items) counts.set(e.objectId, (counts.get(e.objectId) ?? 0) + 1);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return counts;
}

it('finishes an apply and a stream interrupted by SIGKILL, each object applied exactly once', async () => {
  await startController();
  const { id: agentId, token } = await api.service.registerAgent({ name: 'crash' }, TEST_ADMIN);
  const cfg = (
    await api.service.createConfiguration(
      { name: 'crash', agentIds: [agentId], source: { baseDn: PEOPLE }, accidentalDeletes: { enabled: true, threshold: 1000 } },
      TEST_ADMIN,
    )
  ).id;
  const agent = await FakeAgent.open({ url: `ws://127.0.0.1:${port}/agent`, agentId, token, batchSize: 50 });
  for (const u of fakeUsers(PEOPLE, 200, 'k')) agent.directory.set(u.id, u);
  await agent.hello();
  const first = await agent.waitFor('startCycle');

  // 1. Kill mid-apply: 200 creates in chunks of 10, 40 ms apart.
  await waitFor(async () => Number((await cycleField(first.cycleId, 'applied')) ?? 0) >= 50, {
    message: 'apply under way',
    intervalMs: 10,
  });
  await child!.stop('SIGKILL');
  const appliedAtKill = Number(await cycleField(first.cycleId, 'applied'));
  expect(await cycleField(first.cycleId, 'phase')).toBe('applying');
  expect(appliedAtKill).toBeLessThan(200);

  await startController();
  await agent.waitClosed();
  await agent.reconnect([{ configurationId: cfg, pendingCycleId: first.cycleId }]);
  await waitFor(async () => (await cycleField(first.cycleId, 'phase')) === 'applied', {
    timeoutMs: 30_000,
    message: 'apply finished after restart',
  });
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
  expect((await api.service.listObjects(cfg, { limit: 1 })).total).toBe(200);
  let creates = await createsPerObject(cfg);
  expect(creates.size).toBe(200);
  expect([...creates.values()].every((n) => n === 1)).toBe(true);

  // 2. Kill mid-stream: two of three batches persisted, then the controller dies.
  agent.autoRespond = false;
  for (const u of fakeUsers(PEOPLE, 30, 'm')) agent.directory.set(u.id, u);
  const { cycleId } = await api.service.startCycle(cfg, TEST_ADMIN);
  const start = await agent.waitFor('startCycle', (s) => s.cycleId === cycleId);
  const { changes } = agent.changesFor(start);
  expect(changes).toHaveLength(30);
  const batch = (sequence: number) =>
    agent.send({
      type: 'changeBatch',
      value: { configurationId: cfg, cycleId, sequence, changes: changes.slice((sequence - 1) * 10, sequence * 10) },
    });
  batch(1);
  batch(2);
  await agent.waitFor('batchAck', (a) => a.cycleId === cycleId && a.ackedThroughSequence === 2);
  await child!.stop('SIGKILL');
  await startController();
  await agent.waitClosed();
  (agent as unknown as { views: Map<string, unknown> }).views.set(cycleId, {
    configurationId: cfg,
    view: agent.changesFor(start).view,
  });
  await agent.reconnect([{ configurationId: cfg, runningCycleId: cycleId }]);
  batch(2); // not acknowledged from the agent's point of view: resent
  batch(3);
  agent.send({ type: 'cycleComplete', value: { configurationId: cfg, cycleId, lastSequence: 3, mode: start.mode } });
  await waitFor(async () => (await cycleField(cycleId, 'phase')) === 'applied', {
    timeoutMs: 30_000,
    message: 'second cycle applied' + (process.env.DUMP ? child?.log : ''),
  });
  expect((await api.service.listObjects(cfg, { limit: 1 })).total).toBe(230);
  creates = await createsPerObject(cfg);
  expect(creates.size).toBe(230);
  expect([...creates.values()].every((n) => n === 1)).toBe(true);
  await agent.close();
});
