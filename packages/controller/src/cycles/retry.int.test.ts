import { CycleMode } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import type { Target, TargetOperation, TargetOutcome } from '../targets/target';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';

jest.setTimeout(60_000);

const PEOPLE = 'ou=people,dc=example,dc=com';
let redis: RedisServer;
let server: ControllerServer;

/** Object ids whose next operations the target refuses, and how. */
const refusing = new Map<string, Exclude<TargetOutcome, { status: 'applied' }>>();

/** The cloud directory, refusing the operations of the objects in `refusing`. */
function refusingTarget(inner: Target): Target {
  return {
    kind: inner.kind,
    transactional: inner.transactional,
    listObjects: (cfg, query) => inner.listObjects(cfg, query),
    removeAll: (cfg) => inner.removeAll(cfg),
    async apply(cfg, operations, unit) {
      const passed: TargetOperation[] = operations.filter((op) => !refusing.has(op.objectId));
      const applied = passed.length > 0 ? await inner.apply(cfg, passed, unit) : [];
      let next = 0;
      return operations.map((op) => refusing.get(op.objectId) ?? applied[next++]!);
    },
  };
}

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestController(redis.url, {}, { wrapTarget: refusingTarget });
});

afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

async function run(cfg: string, agent: FakeAgent): Promise<string> {
  const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
  return cycleId;
}

async function cycle(cfg: string, cycleId: string) {
  return (await server.service.listCycles(cfg, {})).items.find((c) => c.id === cycleId)!;
}

async function held(cfg: string): Promise<Map<string, string[] | undefined>> {
  const items = (await server.service.listObjects(cfg, { limit: 1000 })).items;
  return new Map(items.map((o) => [o.id, o.attributes.mail]));
}

async function logOf(cfg: string, cycleId: string, objectId: string) {
  const page = await server.service.listProvisioningLogs(cfg, { cycleId, limit: 1000 });
  return page.items.filter((e) => e.objectId === objectId);
}

describe('operations the target does not apply', () => {
  it('are logged as failures, not counted as synced, and applied by the next cycles without a change at the source', async () => {
    refusing.clear();
    const { agent, configurationId: cfg } = await setupConfiguration(server, {}, { batchSize: 3 });
    for (const u of fakeUsers(PEOPLE, 6, 'r')) agent.directory.set(u.id, u);
    refusing.set('r-2', { status: 'failed', reason: 'HTTP 400: invalidValue' });
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
    expect(await cycle(cfg, first.cycleId)).toMatchObject({ state: 'applied', counts: { create: 6, failed: 1 } });
    expect((await held(cfg)).has('r-2')).toBe(false);
    expect(await logOf(cfg, first.cycleId, 'r-2')).toEqual([
      expect.objectContaining({
        action: 'Create',
        status: 'failure',
        details: 'HTTP 400: invalidValue (tried again by the next cycles)',
      }),
    ]);

    // Still refused: the next cycle (a delta, nothing changed at the source) tries again and fails again.
    const second = await run(cfg, agent);
    expect(await cycle(cfg, second)).toMatchObject({ mode: 'delta', counts: { create: 1, update: 0, delete: 0, failed: 1 } });
    expect(await logOf(cfg, second, 'r-2')).toEqual([expect.objectContaining({ action: 'Create', status: 'failure' })]);

    // The target takes it now: created, and nothing is owed any more.
    refusing.clear();
    const third = await run(cfg, agent);
    expect(await cycle(cfg, third)).toMatchObject({ counts: { create: 1, update: 0, delete: 0, failed: 0 } });
    expect((await held(cfg)).get('r-2')).toEqual(['r2@example.com']);
    const fourth = await run(cfg, agent);
    expect(await cycle(cfg, fourth)).toMatchObject({ counts: { create: 0, update: 0, delete: 0, failed: 0 } });

    // An update and a delete refused with a transient error: both put right by the next cycle.
    agent.directory.get('r-3')!.attributes.mail = ['changed3@example.com'];
    agent.directory.delete('r-4');
    refusing.set('r-3', { status: 'retry', reason: 'HTTP 503', retryAfterMs: 1000 });
    refusing.set('r-4', { status: 'retry', reason: 'timeout' });
    const fifth = await run(cfg, agent);
    expect(await cycle(cfg, fifth)).toMatchObject({ counts: { update: 1, delete: 1, failed: 2 } });
    expect(await logOf(cfg, fifth, 'r-3')).toEqual([
      expect.objectContaining({
        action: 'Update',
        status: 'failure',
        details: 'transient: HTTP 503 (tried again by the next cycles)',
      }),
    ]);
    let objects = await held(cfg);
    expect(objects.get('r-3')).toEqual(['r3@example.com']);
    expect(objects.has('r-4')).toBe(true);
    refusing.clear();
    const sixth = await run(cfg, agent);
    expect(await cycle(cfg, sixth)).toMatchObject({ counts: { create: 0, update: 1, delete: 1, failed: 0 } });
    objects = await held(cfg);
    expect(objects.get('r-3')).toEqual(['changed3@example.com']);
    expect(objects.has('r-4')).toBe(false);
    await agent.close();
  });

  it('a delete owed from an earlier cycle counts in the guard like any delete', async () => {
    refusing.clear();
    const { agent, configurationId: cfg } = await setupConfiguration(server, {
      accidentalDeletes: { enabled: true, threshold: 3 },
    });
    for (const u of fakeUsers(PEOPLE, 6, 'g')) agent.directory.set(u.id, u);
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
    // Two deletes, under the threshold; the target refuses both.
    agent.directory.delete('g-1');
    agent.directory.delete('g-2');
    refusing.set('g-1', { status: 'failed', reason: 'HTTP 500' });
    refusing.set('g-2', { status: 'failed', reason: 'HTTP 500' });
    await run(cfg, agent);
    // One more delete at the source: with the two owed, three deletes reach the threshold.
    refusing.clear();
    agent.directory.delete('g-3');
    const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(cfg)).state === 'quarantined', { message: 'quarantined' });
    expect((await server.service.getStatus(cfg)).quarantine).toMatchObject({ cycleId, deleteCount: 3 });
    await agent.close();
  });

  it('a FULL cycle drops what is owed for objects no longer in scope', async () => {
    refusing.clear();
    const setup = await setupConfiguration(server, {});
    const { agent, configurationId: cfg } = setup;
    for (const u of fakeUsers(PEOPLE, 4, 'f')) agent.directory.set(u.id, u);
    refusing.set('f-1', { status: 'failed', reason: 'HTTP 400' });
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
    await agent.close();
    // A new agent without a cache (FULL) whose source no longer has f-1.
    refusing.clear();
    const fresh = await FakeAgent.open({ url: agent['options'].url, agentId: setup.agentId, token: setup.token });
    for (const u of fakeUsers(PEOPLE, 4, 'f').filter((u) => u.id !== 'f-1')) fresh.directory.set(u.id, u);
    await fresh.hello();
    const full = await fresh.waitFor('startCycle');
    expect(full.mode).toBe(CycleMode.CYCLE_MODE_FULL);
    await fresh.waitFor('cycleCommitted', (c) => c.cycleId === full.cycleId);
    expect(await cycle(cfg, full.cycleId)).toMatchObject({ counts: { create: 0, update: 0, delete: 0, failed: 0 } });
    // Nothing is owed any more: the next delta does not create f-1.
    const next = await run(cfg, fresh);
    expect(await cycle(cfg, next)).toMatchObject({ counts: { create: 0, update: 0, delete: 0, failed: 0 } });
    expect((await held(cfg)).has('f-1')).toBe(false);
    await fresh.close();
  });
});
