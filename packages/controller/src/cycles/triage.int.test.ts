import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { StagedDeletePage } from '../controller-service';
import type { Actor } from '../model';
import type { ControllerServer } from '../server';
import { fakeUsers, type FakeAgent } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';

jest.setTimeout(90_000);

const BASE = 'dc=example,dc=com';
const SECOND: Actor = { tokenId: 'second', name: 'second-admin', role: 'admin' };
let redis: RedisServer;
let server: ControllerServer;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestController(redis.url);
});
afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

/** Runs a cycle now and waits until it is no longer running; answers it. */
async function cycle(cfg: string) {
  // A release starts a cycle by itself once applied: wait for it to end first.
  const cycleId = await waitFor(async () => {
    try {
      return (await server.service.startCycle(cfg, TEST_ADMIN)).cycleId;
    } catch (error) {
      if ((error as { code?: string }).code === 'SG_ERR_CYCLE_RUNNING') return null;
      throw error;
    }
  });
  return waitFor(async () => {
    const c = (await server.service.getStatus(cfg)).lastCycle;
    return c?.id === cycleId && c.state !== 'running' ? c : null;
  });
}

/** Makes the next cycle FULL: the agent forgets its cache (as a new agent state would). */
function forgetCache(agent: FakeAgent, cfg: string): void {
  agent.cache.delete(cfg);
  agent.committed.delete(cfg);
}

async function kept(cfg: string): Promise<string[]> {
  const page = await server.service.listKeptObjects(cfg, { limit: 500 });
  return page.items.map((k) => k.objectId).sort();
}

async function objectIds(cfg: string): Promise<Set<string>> {
  const page = await server.service.listObjects(cfg, { limit: 500 });
  return new Set(page.items.map((o) => o.id));
}

async function auditOf(action: string) {
  return (await server.service.listAudit({ limit: 100 })).items.filter((a) => a.action === action);
}

test('hold cycle: released by parent OU, the rest kept; kept objects trip nothing in DELTA and FULL cycles, leave the list when back, are deleted explicitly', async () => {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    name: 'partial',
    source: { baseDn: BASE, objectTypes: ['user'] },
    accidentalDeletes: { enabled: true, threshold: 3 },
  });
  const eng = fakeUsers(`ou=eng,${BASE}`, 10, 'eng');
  const subteam = fakeUsers(`ou=sub,ou=eng,${BASE}`, 2, 'sub');
  const sales = fakeUsers(`ou=sales,${BASE}`, 6, 'sales');
  for (const u of [...eng, ...subteam, ...sales]) agent.directory.set(u.id, u);
  await agent.hello();
  await waitFor(async () => (await server.service.getStatus(cfg)).lastCycle?.state === 'applied');

  // Not quarantined: 409.
  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: ['eng-0'] })).rejects.toMatchObject({ status: 409 });
  await expect(server.service.rejectDeletes(cfg, {}, TEST_ADMIN)).rejects.toMatchObject({ code: 'SG_ERR_NOT_QUARANTINED' });

  // 5 deleted in ou=eng (2 of them in its sub-OU), 4 moved out of scope from ou=sales.
  for (const u of [...eng.slice(0, 3), ...subteam]) agent.directory.delete(u.id);
  for (const u of sales.slice(0, 4)) agent.directory.set(u.id, { ...u, dn: u.dn.replace(BASE, 'dc=elsewhere') });
  const quarantined = await cycle(cfg);
  expect(quarantined.state).toBe('quarantined');
  expect((await server.service.getStatus(cfg)).quarantine?.deleteCount).toBe(9);

  // Bad choices: 400 naming what is wrong, nothing changed.
  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: ['eng-0', 'nope-1'] })).rejects.toMatchObject({
    status: 400,
    field: 'objectIds',
    message: expect.stringContaining('nope-1'),
  });
  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { parentDns: [`ou=hr,${BASE}`] })).rejects.toMatchObject({
    field: 'parentDns',
    message: expect.stringContaining(`ou=hr,${BASE}`),
  });
  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: 'eng-0' })).rejects.toMatchObject({
    field: 'objectIds',
  });
  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: [] })).rejects.toMatchObject({ field: 'objectIds' });
  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { colour: 1 })).rejects.toMatchObject({ field: 'colour' });
  expect((await server.service.getStatus(cfg)).quarantine?.deleteCount).toBe(9);

  // Released by OU (its subtree included, case and spaces ignored): 5 deleted, 4 kept.
  const released = await server.service.allowDeletes(cfg, TEST_ADMIN, { parentDns: [`OU=Eng, ${BASE}`], reason: 'eng retired' });
  expect(released).toEqual({ state: 'applied', cycleId: quarantined.id, deleted: 5, kept: 4 });
  expect((await server.service.getStatus(cfg)).state).toBe('healthy');
  const held = await objectIds(cfg);
  for (const u of [...eng.slice(0, 3), ...subteam]) expect(held.has(u.id)).toBe(false);
  for (const u of sales) expect(held.has(u.id)).toBe(true);
  expect(await kept(cfg)).toEqual(['sales-0', 'sales-1', 'sales-2', 'sales-3']);
  const keptPage = await server.service.listKeptObjects(cfg, { limit: 3 });
  expect(keptPage.total).toBe(4);
  expect(keptPage.items[0]).toMatchObject({
    objectId: 'sales-0',
    dn: sales[0]!.dn,
    parentDn: `ou=sales,${BASE}`,
    cycleId: quarantined.id,
  });
  const rest = await server.service.listKeptObjects(cfg, { cursor: keptPage.nextCursor! });
  expect(rest.items.map((k) => k.objectId)).toEqual(['sales-3']);
  const [allowAudit] = await auditOf('allow-deletes');
  expect(allowAudit!.details).toMatchObject({
    cycleId: quarantined.id,
    objectIds: ['eng-0', 'eng-1', 'eng-2', 'sub-0', 'sub-1'],
    parentDns: [`OU=Eng, ${BASE}`],
    reason: 'eng retired',
    kept: 4,
  });

  // A later DELTA and a FULL cycle: the kept objects trip nothing, and stay kept.
  const delta = await cycle(cfg);
  expect(delta).toMatchObject({ state: 'applied', counts: expect.objectContaining({ delete: 0 }) });
  forgetCache(agent, cfg);
  const full = await cycle(cfg);
  expect(full).toMatchObject({ state: 'applied', counts: expect.objectContaining({ delete: 0 }) });
  expect(await kept(cfg)).toEqual(['sales-0', 'sales-1', 'sales-2', 'sales-3']);

  // One comes back in scope: it leaves the list.
  agent.directory.set(sales[0]!.id, sales[0]!);
  expect(await cycle(cfg)).toMatchObject({ state: 'applied' });
  expect(await kept(cfg)).toEqual(['sales-1', 'sales-2', 'sales-3']);

  // Explicit delete of one kept object: audited, gone from the target and the list; an unknown id is a 400.
  await expect(server.service.deleteKeptObjects(cfg, { objectIds: ['sales-1', 'sales-0'] }, TEST_ADMIN)).rejects.toMatchObject({
    status: 400,
    message: expect.stringContaining('sales-0'),
  });
  await expect(server.service.deleteKeptObjects(cfg, {}, TEST_ADMIN)).rejects.toMatchObject({ field: 'objectIds' });
  const deleted = await server.service.deleteKeptObjects(cfg, { objectIds: ['sales-1'], reason: 'left the company' }, TEST_ADMIN);
  expect(deleted).toMatchObject({ state: 'applied', deleted: 1 });
  expect((await objectIds(cfg)).has('sales-1')).toBe(false);
  expect(await kept(cfg)).toEqual(['sales-2', 'sales-3']);
  expect((await auditOf('kept-objects.delete'))[0]!.details).toMatchObject({
    objectIds: ['sales-1'],
    reason: 'left the company',
    deleteCount: 1,
  });
  expect((await server.service.getStatus(cfg)).state).toBe('healthy');

  // Reject: first some, then the rest; the cycle's create is applied once none is left staged.
  for (const u of eng.slice(3, 7)) agent.directory.delete(u.id);
  const newcomer = fakeUsers(`ou=eng,${BASE}`, 1, 'new')[0]!;
  agent.directory.set(newcomer.id, newcomer);
  const second = await cycle(cfg);
  expect(second.state).toBe('quarantined');
  // A kept object is not a staged delete of this quarantine.
  await expect(server.service.rejectDeletes(cfg, { objectIds: ['sales-2'] }, TEST_ADMIN)).rejects.toMatchObject({ status: 400 });
  const some = await server.service.rejectDeletes(cfg, { objectIds: ['eng-3'], reason: 'not yet' }, TEST_ADMIN);
  expect(some).toEqual({ cycleId: second.id, kept: 1, left: 3, state: 'quarantined' });
  expect((await server.service.getStatus(cfg)).quarantine?.deleteCount).toBe(3);
  const staged = (await server.service.listStagedDeletes(cfg, {})) as StagedDeletePage;
  expect(staged.items.map((d) => d.objectId).sort()).toEqual(['eng-4', 'eng-5', 'eng-6']);
  const all = await server.service.rejectDeletes(cfg, {}, TEST_ADMIN);
  expect(all).toEqual({ cycleId: second.id, kept: 3, left: 0, state: 'applied' });
  const st = await server.service.getStatus(cfg);
  expect(st.state).toBe('healthy');
  const applied = (await server.service.listCycles(cfg, { limit: 20 })).items.find((c) => c.id === second.id);
  expect(applied).toMatchObject({ state: 'applied', counts: expect.objectContaining({ create: 1, delete: 0 }) });
  const now = await objectIds(cfg);
  expect(now.has(newcomer.id)).toBe(true);
  for (const u of eng.slice(3, 7)) expect(now.has(u.id)).toBe(true);
  expect(await kept(cfg)).toEqual(['eng-3', 'eng-4', 'eng-5', 'eng-6', 'sales-2', 'sales-3']);
  const rejects = await auditOf('reject-deletes');
  expect(rejects.map((a) => a.details)).toEqual([
    expect.objectContaining({ all: true, kept: 3, left: 0 }),
    expect.objectContaining({ objectIds: ['eng-3'], kept: 1, left: 3, reason: 'not yet' }),
  ]);
  // Two full cycles later, still nothing re-alerts.
  forgetCache(agent, cfg);
  expect(await cycle(cfg)).toMatchObject({ state: 'applied', counts: expect.objectContaining({ delete: 0 }) });
  expect(await cycle(cfg)).toMatchObject({ state: 'applied', counts: expect.objectContaining({ delete: 0 }) });
  await agent.close();
});

test('hold deletes: the lane released by ids (the rest kept), then rejected whole', async () => {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    name: 'lane-triage',
    source: { baseDn: BASE, objectTypes: ['user'] },
    accidentalDeletes: { enabled: true, threshold: 3, hold: 'deletes' },
  });
  const users = fakeUsers(`ou=lane,${BASE}`, 12, 'ln');
  for (const u of users) agent.directory.set(u.id, u);
  await agent.hello();
  await waitFor(async () => (await server.service.getStatus(cfg)).lastCycle?.state === 'applied');
  for (const u of users.slice(0, 5)) agent.directory.delete(u.id);
  await cycle(cfg);
  await waitFor(async () => (await server.service.getStatus(cfg)).quarantine?.hold === 'deletes');

  await expect(server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: ['ln-9'] })).rejects.toMatchObject({ status: 400 });
  const released = await server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: ['ln-0', 'ln-1'] });
  expect(released).toMatchObject({ state: 'applied', deleted: 2, kept: 3 });
  expect((await server.service.getStatus(cfg)).state).toBe('healthy');
  expect(await kept(cfg)).toEqual(['ln-2', 'ln-3', 'ln-4']);
  const held = await objectIds(cfg);
  expect(held.has('ln-0') || held.has('ln-1')).toBe(false);
  expect(held.has('ln-2')).toBe(true);

  forgetCache(agent, cfg);
  expect(await cycle(cfg)).toMatchObject({ state: 'applied', counts: expect.objectContaining({ delete: 0 }) });
  expect((await server.service.getStatus(cfg)).state).toBe('healthy');

  for (const u of users.slice(5, 9)) agent.directory.delete(u.id);
  await cycle(cfg);
  await waitFor(async () => (await server.service.getStatus(cfg)).quarantine?.deleteCount === 4);
  const some = await server.service.rejectDeletes(cfg, { objectIds: ['ln-5'] }, TEST_ADMIN);
  expect(some).toMatchObject({ kept: 1, left: 3, state: 'quarantined' });
  expect((await server.service.getStatus(cfg)).quarantine?.deleteCount).toBe(3);
  const rest = await server.service.rejectDeletes(cfg, {}, TEST_ADMIN);
  expect(rest).toMatchObject({ kept: 3, left: 0, state: 'healthy' });
  expect((await server.service.getStatus(cfg)).state).toBe('healthy');
  expect(await kept(cfg)).toEqual(['ln-2', 'ln-3', 'ln-4', 'ln-5', 'ln-6', 'ln-7', 'ln-8']);
  const page = (await server.service.listStagedDeletes(cfg, {})) as StagedDeletePage;
  expect(page.total).toBe(0);
  // The next cycles hold nothing again.
  expect(await cycle(cfg)).toMatchObject({ state: 'applied' });
  expect((await server.service.getStatus(cfg)).state).toBe('healthy');
  await agent.close();
});

test('approvals 2: a partial release needs two admins choosing the same set; reject needs one; kept delete needs two', async () => {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    name: 'two',
    source: { baseDn: BASE, objectTypes: ['user'] },
    accidentalDeletes: { enabled: true, threshold: 3, approvals: 2 },
  });
  const users = fakeUsers(`ou=two,${BASE}`, 10, 'two');
  for (const u of users) agent.directory.set(u.id, u);
  await agent.hello();
  await waitFor(async () => (await server.service.getStatus(cfg)).lastCycle?.state === 'applied');
  for (const u of users.slice(0, 4)) agent.directory.delete(u.id);
  const q = await cycle(cfg);
  expect(q.state).toBe('quarantined');

  expect(await server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: ['two-0', 'two-1'] })).toEqual({
    state: 'awaitingApproval',
    cycleId: q.id,
    approvalsNeeded: 1,
  });
  // The same token again, or another token with another set, does not complete it.
  expect(await server.service.allowDeletes(cfg, TEST_ADMIN, { objectIds: ['two-1', 'two-0'] })).toMatchObject({
    approvalsNeeded: 1,
  });
  expect(await server.service.allowDeletes(cfg, SECOND, { objectIds: ['two-0'] })).toMatchObject({ approvalsNeeded: 1 });
  // Nor does an approval of everything (a different choice).
  expect(await server.service.allowDeletes(cfg, SECOND, {})).toMatchObject({ state: 'awaitingApproval', approvalsNeeded: 1 });
  expect(await server.service.allowDeletes(cfg, SECOND, { objectIds: ['two-1', 'two-0'] })).toMatchObject({
    state: 'applied',
    deleted: 2,
    kept: 2,
  });
  expect(await kept(cfg)).toEqual(['two-2', 'two-3']);

  expect(await server.service.deleteKeptObjects(cfg, { objectIds: ['two-2'] }, TEST_ADMIN)).toMatchObject({
    state: 'awaitingApproval',
    approvalsNeeded: 1,
  });
  expect(await server.service.deleteKeptObjects(cfg, { objectIds: ['two-2'] }, SECOND)).toMatchObject({
    state: 'applied',
    deleted: 1,
  });
  expect(await kept(cfg)).toEqual(['two-3']);

  for (const u of users.slice(4, 8)) agent.directory.delete(u.id);
  // The kept delete's release starts the next cycle by itself once applied: that cycle (if it
  // read the source after the deletes) or the one started here is quarantined.
  await waitFor(
    async () => {
      try {
        await server.service.startCycle(cfg, TEST_ADMIN);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'SG_ERR_CYCLE_RUNNING' && code !== 'SG_ERR_QUARANTINED') throw error;
      }
      return (await server.service.getStatus(cfg)).state === 'quarantined';
    },
    { message: 'the deletes quarantined' },
  );
  expect(await server.service.rejectDeletes(cfg, {}, TEST_ADMIN)).toMatchObject({ kept: 4, left: 0, state: 'applied' });
  await agent.close();
});
