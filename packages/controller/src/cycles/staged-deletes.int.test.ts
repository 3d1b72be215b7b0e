import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { StagedDeleteGroups, StagedDeletePage } from '../controller-service';
import type { ControllerServer } from '../server';
import { fakeUsers } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';

jest.setTimeout(60_000);

const BASE = 'dc=example,dc=com';
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

async function evaluated(cfg: string): Promise<void> {
  const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
  await waitFor(async () => {
    const c = (await server.service.getStatus(cfg)).lastCycle;
    return c?.id === cycleId && c.state !== 'running';
  });
}

test('a quarantine’s deletes: paged in order, grouped by parent, type and cause; none while not quarantined; bad input 400', async () => {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    name: 'staged',
    source: { baseDn: BASE, objectTypes: ['user', 'group'] },
    accidentalDeletes: { enabled: true, threshold: 10 },
  });
  const eng = fakeUsers(`ou=eng,${BASE}`, 12, 'eng');
  const sales = fakeUsers(`ou=sales,${BASE}`, 5, 'sales');
  for (const u of [...eng, ...sales]) agent.directory.set(u.id, u);
  agent.directory.set('g1', { id: 'g1', type: 'group', dn: `cn=g1,ou=groups,${BASE}`, attributes: { cn: ['g1'] } });
  await agent.hello();
  await waitFor(async () => (await server.service.getStatus(cfg)).lastCycle?.state === 'applied');

  const none = (await server.service.listStagedDeletes(cfg, {})) as StagedDeletePage;
  expect(none).toEqual({ items: [], nextCursor: null, total: 0, cycleId: null });

  for (const u of [...eng.slice(0, 9), ...sales.slice(0, 2)]) agent.directory.delete(u.id);
  agent.directory.delete('g1');
  await evaluated(cfg);
  const q = (await server.service.getStatus(cfg)).quarantine!;
  expect(q.deleteCount).toBe(12);

  const all: string[] = [];
  let cursor: string | undefined;
  do {
    const page = (await server.service.listStagedDeletes(cfg, { limit: 5, cursor })) as StagedDeletePage;
    expect(page.total).toBe(12);
    expect(page.cycleId).toBe(q.cycleId);
    all.push(...page.items.map((d) => d.dn));
    for (const d of page.items) expect(d.cause).toBe('unknown');
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  expect(all).toHaveLength(12);
  expect(new Set(all)).toEqual(
    new Set([...eng.slice(0, 9), ...sales.slice(0, 2)].map((u) => u.dn).concat(`cn=g1,ou=groups,${BASE}`)),
  );

  const byParent = (await server.service.listStagedDeletes(cfg, { groupBy: 'parent' })) as StagedDeleteGroups;
  expect(byParent.groups.map((g) => [g.key, g.count])).toEqual([
    [`ou=eng,${BASE}`, 9],
    [`ou=sales,${BASE}`, 2],
    [`ou=groups,${BASE}`, 1],
  ]);
  expect(byParent.groups[0]!.sample).toHaveLength(3);
  expect(byParent.groups[0]!.sample[0]).toMatchObject({ objectType: 'user', parentDn: `ou=eng,${BASE}`, cause: 'unknown' });
  const byType = (await server.service.listStagedDeletes(cfg, { groupBy: 'type' })) as StagedDeleteGroups;
  expect(byType.groups.map((g) => [g.key, g.count])).toEqual([
    ['user', 11],
    ['group', 1],
  ]);

  await expect(server.service.listStagedDeletes(cfg, { groupBy: 'colour' })).rejects.toMatchObject({ field: 'groupBy' });
  await expect(server.service.listStagedDeletes(cfg, { cursor: 'nope' })).rejects.toMatchObject({ field: 'cursor' });
  await expect(server.service.listStagedDeletes(cfg, { groupBy: 'type', cursor: `${q.cycleId}:5` })).rejects.toMatchObject({
    field: 'cursor',
  });

  // Restart: the quarantine goes, and a cursor of it answers 409.
  await server.service.restart(cfg, TEST_ADMIN);
  await waitFor(async () => (await server.service.getStatus(cfg)).quarantine?.cycleId !== q.cycleId);
  const fresh = await waitFor(async () => (await server.service.getStatus(cfg)).quarantine);
  await expect(server.service.listStagedDeletes(cfg, { cursor: `${q.cycleId}:5` })).rejects.toMatchObject({ status: 409 });
  expect(((await server.service.listStagedDeletes(cfg, {})) as StagedDeletePage).cycleId).toBe(fresh.cycleId);
  await agent.close();
});

test('a scope change names its deletes scopeChanged', async () => {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    name: 'scope',
    source: { baseDn: BASE, objectTypes: ['user'] },
    accidentalDeletes: { enabled: true, threshold: 3 },
  });
  for (const u of [...fakeUsers(`ou=a,${BASE}`, 4, 'a'), ...fakeUsers(`ou=b,${BASE}`, 4, 'b')]) agent.directory.set(u.id, u);
  await agent.hello();
  await waitFor(async () => (await server.service.getStatus(cfg)).lastCycle?.state === 'applied');
  await server.service.updateConfiguration(cfg, { source: { baseDn: `ou=a,${BASE}` } }, TEST_ADMIN);
  await evaluated(cfg);
  expect((await server.service.getStatus(cfg)).state).toBe('quarantined');
  const byCause = (await server.service.listStagedDeletes(cfg, { groupBy: 'cause' })) as StagedDeleteGroups;
  expect(byCause.groups.map((g) => [g.key, g.count])).toEqual([['scopeChanged', 4]]);
  await agent.close();
});

test('with hold "deletes" the delete lane’s held set is read', async () => {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    name: 'lane',
    source: { baseDn: BASE, objectTypes: ['user'] },
    accidentalDeletes: { enabled: true, threshold: 3, hold: 'deletes' },
  });
  const users = fakeUsers(`ou=lane,${BASE}`, 8, 'ln');
  for (const u of users) agent.directory.set(u.id, u);
  await agent.hello();
  await waitFor(async () => (await server.service.getStatus(cfg)).lastCycle?.state === 'applied');
  for (const u of users.slice(0, 5)) agent.directory.delete(u.id);
  await evaluated(cfg);
  await waitFor(async () => (await server.service.getStatus(cfg)).quarantine?.hold === 'deletes');
  const page = (await server.service.listStagedDeletes(cfg, { limit: 3 })) as StagedDeletePage;
  expect(page.total).toBe(5);
  expect(page.items).toHaveLength(3);
  const rest = (await server.service.listStagedDeletes(cfg, { cursor: page.nextCursor! })) as StagedDeletePage;
  expect(new Set([...page.items, ...rest.items].map((d) => d.dn))).toEqual(new Set(users.slice(0, 5).map((u) => u.dn)));
  const byParent = (await server.service.listStagedDeletes(cfg, { groupBy: 'parent' })) as StagedDeleteGroups;
  expect(byParent.groups).toEqual([expect.objectContaining({ key: `ou=lane,${BASE}`, count: 5 })]);
  await agent.close();
});
