import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  freePort,
  ManagedProcess,
  redisCli,
  startRedis,
  startSmtp,
  startWebhookReceiver,
  waitFor,
  waitForPort,
  type RedisServer,
  type SmtpSink,
  type WebhookReceiver,
} from '@syncguard/testkit';
import { createServer, type ControllerServer } from '../server';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { TEST_ADMIN, TEST_ADMIN_TOKEN } from '../testing/harness';
import { Keys } from '../store/keys';
import { ValidationError } from '../errors';

/*
 * Issue 18: a notification is written to its configuration's outbox in the same transaction
 * as the quarantine, so a controller killed (SIGKILL) after the quarantine and before the
 * event reached the `notify` queue still delivers it, exactly once per endpoint, when it
 * starts again; an entry dispatched twice delivers once. Webhook secrets are sealed: never
 * in Redis in clear. The controller runs as a real process from dist/ with a real SMTP
 * server and webhook receiver; an in-process controller without workers drives it.
 */

jest.setTimeout(120_000);

const PKG = path.resolve(__dirname, '../..');
const PEOPLE = 'ou=people,dc=example,dc=com';
const SECRET = 'outbox-webhook-secret-of-the-test';
const secretKey = randomBytes(32).toString('base64');
const prefix = `outbox-${randomUUID().slice(0, 8)}`;
const keys = new Keys(prefix);
let redis: RedisServer;
let smtp: SmtpSink;
let hooks: WebhookReceiver;
let api: ControllerServer;
let dir: string;
let port: number;
let child: ManagedProcess | undefined;

async function startController(settings: Record<string, unknown>): Promise<void> {
  fs.writeFileSync(
    path.join(dir, 'controller.json'),
    JSON.stringify({
      SYNCGUARD_PORT: port,
      SYNCGUARD_HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      SYNCGUARD_REDIS_PREFIX: prefix,
      SYNCGUARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      SYNCGUARD_SECRET_KEY: secretKey,
      SMTP_URL: smtp.url,
      SYNCGUARD_MAIL_FROM: 'syncguard@example.com',
      SYNCGUARD_SCHEDULE: false,
      SYNCGUARD_HEARTBEAT_INTERVAL_MS: 1000,
      SYNCGUARD_JOB_LOCK_MS: 2000,
      SYNCGUARD_STALLED_INTERVAL_MS: 1000,
      SYNCGUARD_MAIL_BACKOFF_MS: 200,
      SYNCGUARD_WEBHOOK_BACKOFF_MS: 200,
      ...settings,
    }),
  );
  child = new ManagedProcess(process.execPath, [path.join(PKG, 'dist/main.js'), '--config', path.join(dir, 'controller.json')], {
    env: { ...process.env, SYNCGUARD_LOG_LEVEL: 'warn' },
  });
  await waitForPort(port, 20_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${child?.log}`);
  });
}

/** Jobs of the `notify` queue: completed, and not yet done (waiting, active, delayed). */
async function notifyJobs(): Promise<{ completed: number; open: number }> {
  const q = `${keys.bullPrefix('notify')}:notify`;
  const [completed, wait, active, delayed, prioritized] = await Promise.all([
    api.redis.zcard(`${q}:completed`),
    api.redis.llen(`${q}:wait`),
    api.redis.llen(`${q}:active`),
    api.redis.zcard(`${q}:delayed`),
    api.redis.zcard(`${q}:prioritized`),
  ]);
  return { completed, open: wait + active + delayed + prioritized };
}

beforeAll(async () => {
  // Build dist/ (tsc emits even when a file elsewhere in the package has a type error).
  spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', PKG], { stdio: 'ignore' });
  if (!fs.existsSync(path.join(PKG, 'dist/main.js'))) throw new Error('dist/main.js is missing: build the package first');
  [redis, smtp, hooks] = await Promise.all([startRedis(), startSmtp(), startWebhookReceiver()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-outbox-'));
  port = await freePort();
  api = await createServer(
    {
      redisUrl: redis.url,
      redisKeyPrefix: prefix,
      adminToken: TEST_ADMIN_TOKEN,
      secretKey,
      workers: false,
      schedule: false,
      port: 0,
    },
    { logger: pino({ level: 'silent' }) },
  );
});

afterAll(async () => {
  await child?.stop('SIGKILL');
  await api?.close();
  await hooks?.stop();
  await smtp?.dispose();
  await redis?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('a quarantine whose controller is killed before its notification was queued is delivered once after the restart, and once only when dispatched again', async () => {
  // This controller would queue the event an hour after the transition, and sweeps only at start.
  await startController({ SYNCGUARD_NOTIFY_DISPATCH_DELAY_MS: 3_600_000, SYNCGUARD_NOTIFY_OUTBOX_SWEEP_MS: 0 });
  const { id: agentId, token } = await api.service.registerAgent({ name: 'outbox' }, TEST_ADMIN);
  const url = hooks.url('/outbox');
  const cfg = (
    await api.service.createConfiguration(
      {
        name: 'outbox.example.com',
        agentIds: [agentId],
        source: { baseDn: PEOPLE },
        accidentalDeletes: { enabled: true, threshold: 10 },
        notifications: { emails: ['ops@example.com', 'oncall@example.com'], webhooks: [{ url, secret: SECRET }] },
      },
      TEST_ADMIN,
    )
  ).id;
  const agent = await FakeAgent.open({ url: `ws://127.0.0.1:${port}/agent`, agentId, token });
  const users = fakeUsers(PEOPLE, 30, 'o');
  for (const u of users) agent.directory.set(u.id, u);
  await agent.hello();
  const first = await agent.waitFor('startCycle');
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);

  // 12 deletes >= 10: quarantined, its event in the outbox, nothing queued yet.
  for (const u of users.slice(0, 12)) agent.directory.delete(u.id);
  const { cycleId } = await api.service.startCycle(cfg, TEST_ADMIN);
  await waitFor(async () => (await api.redis.hget(keys.cycle(cycleId), 'phase')) === 'quarantined', {
    timeoutMs: 30_000,
    message: 'the cycle quarantined',
  });
  const outbox = await api.redis.hgetall(keys.outbox(cfg));
  const [eventId, raw] = Object.entries(outbox)[0] ?? [];
  expect(Object.keys(outbox)).toHaveLength(1);
  const entry = JSON.parse(raw!) as { event: string; cycleId: string; at: string; quarantine: { deleteCount: number } };
  expect(entry).toMatchObject({ event: 'quarantine.started', cycleId, quarantine: { deleteCount: 12 } });
  expect(await api.redis.exists(keys.notificationEvent(eventId!))).toBe(0);
  expect(await notifyJobs()).toEqual({ completed: 0, open: 0 });

  await child!.stop('SIGKILL');
  expect(smtp.messages).toHaveLength(0);
  expect(hooks.requests).toHaveLength(0);

  // Started again (queueing at once now): its start sweep queues the event, delivered once per endpoint.
  await startController({ SYNCGUARD_NOTIFY_OUTBOX_SWEEP_MS: 0 });
  const mails = await smtp.waitForMessages(2, { timeoutMs: 30_000 });
  const [hook] = await hooks.waitForRequests(1, { timeoutMs: 30_000 });
  await waitFor(async () => (await api.redis.hlen(keys.outbox(cfg))) === 0, { message: 'the outbox emptied' });
  await waitFor(async () => (await notifyJobs()).open === 0, { message: 'the notify queue idle' });
  expect(await notifyJobs()).toEqual({ completed: 3, open: 0 });
  expect(
    mails
      .map((m) => m.to)
      .flat()
      .sort(),
  ).toEqual(['oncall@example.com', 'ops@example.com']);
  expect(mails[0]!.subject).toContain('outbox.example.com');
  // The quarantine email names the groups of causes (issue 18 item 5).
  expect(mails[0]!.text).toContain('The staged deletes by cause and parent:');
  expect(mails[0]!.text).toMatch(new RegExp(`12 .* ${PEOPLE}`));
  expect(hook!.headers['x-syncguard-delivery']).toBe(eventId);
  expect(hook!.headers['x-syncguard-event']).toBe('quarantine.started');
  expect(hook!.headers['x-syncguard-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(hook!.body).digest('hex')}`);
  expect(JSON.parse(hook!.body)).toMatchObject({ id: eventId, at: entry.at, quarantine: { cycleId, deleteCount: 12 } });
  const { items: events } = await api.service.listNotifications(cfg, { limit: 10 });
  expect(events).toHaveLength(1);
  expect(events[0]!.deliveries.map((d) => d.status)).toEqual(['delivered', 'delivered', 'delivered']);

  // The same entry dispatched again (a replica that queued it and died before removing it):
  // the next controller's sweep queues nothing new.
  await api.redis.hset(keys.outbox(cfg), eventId!, raw!);
  await child!.stop('SIGKILL');
  await startController({ SYNCGUARD_NOTIFY_OUTBOX_SWEEP_MS: 0 });
  await waitFor(async () => (await api.redis.hlen(keys.outbox(cfg))) === 0, { message: 'the outbox emptied again' });
  expect(await notifyJobs()).toEqual({ completed: 3, open: 0 });
  expect(smtp.messages).toHaveLength(2);
  expect(hooks.requests).toHaveLength(1);

  // Released: quarantine.released goes through the outbox too, once to each endpoint.
  await api.service.allowDeletes(cfg, TEST_ADMIN);
  await hooks.waitForRequests(2, { timeoutMs: 30_000 });
  await smtp.waitForMessages(4, { timeoutMs: 30_000 });
  await waitFor(async () => (await notifyJobs()).completed === 6 && (await notifyJobs()).open === 0, {
    message: 'the release notified',
  });
  expect(JSON.parse(hooks.requests[1]!.body)).toMatchObject({ event: 'quarantine.released', quarantine: { cycleId } });
  expect(await api.redis.hlen(keys.outbox(cfg))).toBe(0);
  await agent.close();

  // The webhook secret is nowhere in Redis in clear: everything it holds, written out uncompressed.
  expect(await redisCli(redis.port, 'CONFIG', 'SET', 'rdbcompression', 'no')).toContain('OK');
  expect(await redisCli(redis.port, 'SAVE')).toContain('OK');
  const dump = fs.readFileSync(path.join(redis.dir, 'dump.rdb'));
  expect(dump.includes(Buffer.from(url))).toBe(true); // the dump holds the configuration
  expect(dump.includes(Buffer.from(SECRET))).toBe(false);
  const read = await api.service.getConfiguration(cfg);
  expect(read.notifications.webhooks).toEqual([{ url, secret: null, secretSet: true }]);
});

it('refuses a webhook secret without SYNCGUARD_SECRET_KEY, naming the setting', async () => {
  const keyless = await createServer(
    { redisUrl: redis.url, redisKeyPrefix: `${prefix}-nokey`, adminToken: TEST_ADMIN_TOKEN, workers: false, schedule: false },
    { logger: pino({ level: 'silent' }) },
  );
  try {
    const error = await keyless.service
      .createConfiguration(
        { name: 'nokey', source: { baseDn: PEOPLE }, notifications: { webhooks: [{ url: hooks.url('/n'), secret: SECRET }] } },
        TEST_ADMIN,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('notifications.webhooks.0.secret');
    expect((error as Error).message).toContain('SYNCGUARD_SECRET_KEY');
    // Emails alone need no key.
    const ok = await keyless.service.createConfiguration(
      { name: 'nokey', source: { baseDn: PEOPLE }, notifications: { emails: ['a@example.com'] } },
      TEST_ADMIN,
    );
    expect(ok.notifications.emails).toEqual(['a@example.com']);
  } finally {
    await keyless.close();
  }
});
