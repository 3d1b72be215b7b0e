import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import { Redis } from 'ioredis';
import type { ControllerServer } from '../server';
import { fakeUsers } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';
import { outboxEvent } from '../cycles/cycle-events';
import { Keys } from './keys';
import { TriageStore } from './triage-store';

jest.setTimeout(90_000);

const BASE = 'dc=example,dc=com';
let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

/**
 * A controller that dies between choosing and applying: the choice is one script with the
 * cycle's move to `applying` (TRIAGE_CYCLE), so what the next controller finds is either the
 * quarantine untouched or the cycle released with exactly the chosen deletes, which its
 * recover() applies, once.
 */
test('a partial release survives the controller dying before the apply: the next controller applies exactly the chosen deletes, once', async () => {
  const prefix = `crash-${Date.now()}`;
  const keys = new Keys(prefix);
  const store = new TriageStore(client, keys);
  const first: ControllerServer = await startTestController(redis.url, { redisKeyPrefix: prefix });
  const { agent, configurationId: cfg } = await setupConfiguration(first, {
    name: 'crash',
    source: { baseDn: BASE, objectTypes: ['user'] },
    accidentalDeletes: { enabled: true, threshold: 3 },
  });
  const users = fakeUsers(`ou=c,${BASE}`, 10, 'c');
  for (const u of users) agent.directory.set(u.id, u);
  await agent.hello();
  await waitFor(async () => (await first.service.getStatus(cfg)).lastCycle?.state === 'applied');
  for (const u of users.slice(0, 6)) agent.directory.delete(u.id);
  const { cycleId } = await first.service.startCycle(cfg, TEST_ADMIN);
  await waitFor(async () => (await first.service.getStatus(cfg)).state === 'quarantined');
  await agent.close();
  await first.close();

  const stored = (await store.storedQuarantine(cfg))!;
  const planBefore = await client.lrange(keys.plan(cycleId), 0, -1);
  const base = {
    configurationId: cfg,
    cycleId,
    mode: 'apply' as const,
    keptAt: new Date().toISOString(),
    quarantineAfter: stored,
    by: 'test-admin',
    event: outboxEvent({ event: 'quarantine.released', configurationId: cfg, cycleId, actor: 'test-admin' }),
  };
  // A choice made on another version of the quarantine, or naming an id not staged: nothing is written.
  expect(await store.triageCycle({ ...base, storedQuarantine: `${stored} `, objectIds: ['c-0'] })).toEqual({
    outcome: 'changed',
  });
  expect(await store.triageCycle({ ...base, storedQuarantine: stored, objectIds: ['c-0', 'c-9'] })).toEqual({
    outcome: 'unknown',
    objectId: 'c-9',
  });
  expect(await client.lrange(keys.plan(cycleId), 0, -1)).toEqual(planBefore);
  expect(await client.hlen(keys.kept(cfg))).toBe(0);
  expect(await client.hget(keys.cycle(cycleId), 'phase')).toBe('quarantined');
  expect(await client.hget(keys.outbox(cfg), base.event.id)).toBeNull();

  // The choice, as the dying controller made it (its job never queued).
  expect(await store.triageCycle({ ...base, storedQuarantine: stored, objectIds: ['c-0', 'c-1'] })).toEqual({
    outcome: 'done',
    released: true,
    kept: 4,
    left: 2,
  });
  // Its quarantine.released event was written in the same step, for any controller to queue.
  expect(await client.hget(keys.outbox(cfg), base.event.id)).toBe(base.event.entry);
  // Made again (a retried request): the quarantine is gone, nothing changes.
  expect(await store.triageCycle({ ...base, storedQuarantine: stored, objectIds: ['c-0', 'c-1'] })).toEqual({
    outcome: 'changed',
  });

  const second = await startTestController(redis.url, { redisKeyPrefix: prefix });
  try {
    await waitFor(async () => (await second.service.getStatus(cfg)).state === 'healthy', { timeoutMs: 30_000 });
    // The next controller's outbox sweep queued the event the dying one never dispatched.
    await waitFor(async () => (await client.hlen(keys.outbox(cfg))) === 0, { message: 'the outbox swept' });
    const ids = new Set((await second.service.listObjects(cfg, { limit: 100 })).items.map((o) => o.id));
    expect(ids.has('c-0') || ids.has('c-1')).toBe(false);
    for (const u of users.slice(2)) expect(ids.has(u.id)).toBe(true);
    expect((await second.service.listKeptObjects(cfg, {})).items.map((k) => k.objectId)).toEqual(['c-2', 'c-3', 'c-4', 'c-5']);
    // Applied once: one Delete entry per chosen object, also after another recovery pass.
    const deletes = await second.service.listProvisioningLogs(cfg, { action: 'Delete', limit: 100 });
    expect(deletes.items.map((e) => e.objectId).sort()).toEqual(['c-0', 'c-1']);
    expect(await client.hget(keys.cycle(cycleId), 'deletesApplied')).toBe('2');
  } finally {
    await second.close();
  }
  const third = await startTestController(redis.url, { redisKeyPrefix: prefix });
  try {
    expect((await third.service.getStatus(cfg)).state).toBe('healthy');
    const deletes = await third.service.listProvisioningLogs(cfg, { action: 'Delete', limit: 100 });
    expect(deletes.items).toHaveLength(2);
  } finally {
    await third.close();
  }
});
