import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { AccidentalDeleteSettings, Cycle } from '../model';
import type { ControllerServer } from '../server';
import type { FakeAgent, FakeObject } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN, TEST_ADMIN_TOKEN } from '../testing/harness';
import { Keys } from '../store/keys';

/*
 * The delete policies through the real pipeline: a real controller on a real Redis, a
 * protocol peer streaming real frames. What the guard is given (deletes per type, the
 * objects held per type, protected hits, the window's record) is worked out by the
 * cycle processor; these tests fail when any of it is wrong.
 */

jest.mock('cookie', () => ({ stringifySetCookie: () => '' })); // see api.int.test.ts
jest.setTimeout(90_000);

const PEOPLE = 'ou=people,dc=example,dc=com';
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

let n = 0;

function objects(type: 'user' | 'group', count: number, parent = PEOPLE): FakeObject[] {
  n += 1;
  return Array.from({ length: count }, (_, i) => ({
    id: `${type}-${n}-${i}`,
    type,
    dn: `${type === 'user' ? 'uid' : 'cn'}=${type}${n}x${i},${parent}`,
    attributes: { cn: [`${type} ${i}`] },
  }));
}

interface Setup {
  agent: FakeAgent;
  cfg: string;
}

/** A configuration with `policy` whose first cycle applied `initial`. */
async function synced(policy: Partial<AccidentalDeleteSettings>, initial: FakeObject[]): Promise<Setup> {
  const { agent, configurationId: cfg } = await setupConfiguration(server, {
    accidentalDeletes: { enabled: true, threshold: 100_000, ...policy },
  });
  for (const o of initial) agent.directory.set(o.id, o);
  await agent.hello();
  const first = await agent.waitFor('startCycle');
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
  return { agent, cfg };
}

/** Removes `ids` from the source, runs a cycle and answers it once evaluated. */
async function cycleRemoving(s: Setup, ids: string[]): Promise<Cycle> {
  for (const id of ids) s.agent.directory.delete(id);
  const { cycleId } = await server.service.startCycle(s.cfg, TEST_ADMIN);
  let cycle: Cycle | undefined;
  await waitFor(
    async () => {
      cycle = (await server.service.listCycles(s.cfg, {})).items.find((c) => c.id === cycleId);
      return cycle !== undefined && cycle.state !== 'running';
    },
    { message: `cycle ${cycleId} evaluated` },
  );
  if (cycle!.state === 'applied') await s.agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
  return cycle!;
}

const idsOf = (list: FakeObject[], from: number, to: number): string[] => list.slice(from, to).map((o) => o.id);

async function trippedBy(cfg: string) {
  return (await server.service.getStatus(cfg)).quarantine?.trippedBy;
}

describe('delete policies through the pipeline', () => {
  it('percentage: of the objects held before the cycle, which the applied deletes lower', async () => {
    const users = objects('user', 200);
    const s = await synced({ percentage: 10, minimumObjects: 100 }, users);
    // 19 of 200 (9.5%) pass; the next 19 are 10.5% of the 181 left.
    expect((await cycleRemoving(s, idsOf(users, 0, 19))).state).toBe('applied');
    expect((await cycleRemoving(s, idsOf(users, 19, 38))).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'percentage', value: 10.5, limit: 10, of: 181 }]);
    await s.agent.close();
  });

  it('percentage: does not apply below minimumObjects', async () => {
    const users = objects('user', 50);
    const s = await synced({ percentage: 10, minimumObjects: 51 }, users);
    expect((await cycleRemoving(s, idsOf(users, 0, 40))).state).toBe('applied');
    await s.agent.close();
  });

  it('perType: a burst of group deletes under a user-sized threshold, counted per type as the target holds them', async () => {
    const users = objects('user', 60);
    const groups = objects('group', 30);
    const s = await synced(
      {
        threshold: 50,
        minimumObjects: 10,
        perType: { group: { threshold: null, percentage: 10 }, user: { threshold: 40, percentage: null } },
      },
      [...users, ...groups],
    );
    // 2 of 30 groups (6.7%) pass; then 3 of the 28 left (10.7%) trip type:group, not count.
    expect((await cycleRemoving(s, idsOf(groups, 0, 2))).state).toBe('applied');
    expect((await cycleRemoving(s, [...idsOf(groups, 2, 5), ...idsOf(users, 0, 39)])).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'type:group', value: 10.7, limit: 10, of: 28 }]);
    const held = await server.redis.hgetall(`${new Keys(server.options.redisKeyPrefix).config(s.cfg)}:held`);
    expect(held).toEqual({ user: '60', group: '28' });
    await s.agent.close();
  });

  it('perType: trips type:user at its threshold', async () => {
    const users = objects('user', 30);
    const s = await synced({ perType: { user: { threshold: 5, percentage: null } } }, users);
    expect((await cycleRemoving(s, idsOf(users, 0, 4))).state).toBe('applied');
    expect((await cycleRemoving(s, idsOf(users, 4, 9))).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'type:user', value: 5, limit: 5 }]);
    await s.agent.close();
  });

  it('window: a slow burn under the count trips once the applied deletes of the window add up; released deletes count', async () => {
    const users = objects('user', 40);
    const s = await synced({ threshold: 8, window: { hours: 1, threshold: 12 } }, users);
    expect((await cycleRemoving(s, idsOf(users, 0, 7))).state).toBe('applied');
    // 7 applied + 5 = 12.
    expect((await cycleRemoving(s, idsOf(users, 7, 12))).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'window', value: 12, limit: 12 }]);
    const from = s.agent.received.length;
    await server.service.allowDeletes(s.cfg, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'released' });
    // A release starts the next cycle itself: let it commit (no deletes) before starting ours,
    // which would otherwise race it (SG_ERR_CYCLE_RUNNING).
    const next = await s.agent.waitFor('startCycle', () => true, from);
    await s.agent.waitFor('cycleCommitted', (c) => c.cycleId === next.cycleId, from);
    // The released 5 count: 7 + 5 + 1.
    expect((await cycleRemoving(s, idsOf(users, 12, 13))).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'window', value: 13, limit: 12 }]);
    await s.agent.close();
  });

  it("window: a restarted cycle's deletes do not count, and a cycle without deletes never trips it", async () => {
    const users = objects('user', 40);
    const s = await synced({ threshold: 5, window: { hours: 1, threshold: 6 } }, users);
    expect((await cycleRemoving(s, idsOf(users, 0, 5))).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'count', value: 5, limit: 5 }]);
    // Back in the source: the restart's cycle has nothing to delete.
    for (const u of users.slice(0, 5)) s.agent.directory.set(u.id, u);
    const { cycleId } = await server.service.restart(s.cfg, TEST_ADMIN);
    await s.agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
    expect((await cycleRemoving(s, idsOf(users, 5, 9))).state).toBe('applied');
    await s.agent.close();
  });

  it('protected: a single delete under a protected DN suffix quarantines, and so does a counted disable of a protected id', async () => {
    const users = objects('user', 20);
    const admins = objects('user', 3, `OU=Admins,${PEOPLE}`);
    const s = await synced(
      { countDisables: true, protected: { dnSuffixes: [`ou=admins, ${PEOPLE}`], objectIds: [users[5]!.id] } },
      [...users, ...admins],
    );
    expect((await cycleRemoving(s, [admins[0]!.id])).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'protected', value: 1, limit: 1 }]);
    s.agent.directory.set(admins[0]!.id, admins[0]!);
    const { cycleId } = await server.service.restart(s.cfg, TEST_ADMIN);
    await s.agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
    // Unprotected deletes pass; a disable of the protected id does not.
    expect((await cycleRemoving(s, idsOf(users, 0, 3))).state).toBe('applied');
    s.agent.directory.set(users[5]!.id, { ...users[5]!, disabled: true });
    expect((await cycleRemoving(s, [])).state).toBe('quarantined');
    expect(await trippedBy(s.cfg)).toEqual([{ rule: 'protected', value: 1, limit: 1 }]);
    const metrics = await server.metrics.registry.getSingleMetricAsString('syncguard_guard_trips_total');
    expect(metrics).toMatch(/syncguard_guard_trips_total\{rule="protected"\} [1-9]/);
    await s.agent.close();
  });
});

/** Waits until the configuration's quarantine is that of `cycleId` (a restart's cycle found it again). */
async function quarantinedBy(cfg: string, cycleId: string | null) {
  let q = (await server.service.getStatus(cfg)).quarantine;
  await waitFor(
    async () => {
      q = (await server.service.getStatus(cfg)).quarantine;
      return q?.cycleId === cycleId;
    },
    { message: `quarantined by ${cycleId}` },
  );
  return q!;
}

describe('seriesCount and the delete lane through the pipeline', () => {
  it('hold cycle: a quarantine found again by the cycle after a restart counts 2; an applied cycle starts the count over', async () => {
    const users = objects('user', 20);
    const s = await synced({ threshold: 3 }, users);
    expect((await cycleRemoving(s, idsOf(users, 0, 3))).state).toBe('quarantined');
    expect((await server.service.getStatus(s.cfg)).quarantine).toMatchObject({ seriesCount: 1, hold: 'cycle' });
    // Not fixed at the source: the restart's cycle is quarantined again.
    const { cycleId } = await server.service.restart(s.cfg, TEST_ADMIN);
    expect(await quarantinedBy(s.cfg, cycleId)).toMatchObject({ seriesCount: 2, deleteCount: 3 });
    await server.service.allowDeletes(s.cfg, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'released' });
    await waitFor(async () => (await server.service.getStatus(s.cfg)).lastCycle?.state !== 'running', { message: 'idle' });
    expect((await cycleRemoving(s, idsOf(users, 3, 6))).state).toBe('quarantined');
    expect((await server.service.getStatus(s.cfg)).quarantine?.seriesCount).toBe(1);
    await s.agent.close();
  });

  it('hold deletes: restart discards the held set and the next cycle reads the whole source (FULL); not fixed, the lane opens again', async () => {
    const users = objects('user', 30);
    const s = await synced({ threshold: 3, hold: 'deletes' }, users);
    const lane = await cycleRemoving(s, idsOf(users, 0, 3));
    expect(lane).toMatchObject({ state: 'applied', heldDeletes: 3, counts: { delete: 0 } });
    expect((await server.service.getStatus(s.cfg)).quarantine).toMatchObject({ hold: 'deletes', deleteCount: 3, seriesCount: 1 });
    // A cycle with no deletes of its own still found the lane.
    expect((await cycleRemoving(s, [])).state).toBe('applied');
    expect((await server.service.getStatus(s.cfg)).quarantine).toMatchObject({ deleteCount: 3, seriesCount: 2 });
    expect((await server.service.listObjects(s.cfg, { limit: 1 })).total).toBe(30);

    const { cycleId } = await server.service.restart(s.cfg, TEST_ADMIN);
    expect(cycleId).not.toBeNull();
    // The FULL read finds the 3 gone again: a new lane, continuing the series.
    const again = await quarantinedBy(s.cfg, cycleId);
    expect(again).toMatchObject({ hold: 'deletes', deleteCount: 3, seriesCount: 3 });
    const restarted = (await server.service.listCycles(s.cfg, {})).items.find((c) => c.id === cycleId);
    expect(restarted?.mode).toBe('full');
    const audit = (await server.service.listAudit({ limit: 100 })).items.filter((e) => e.target.id === s.cfg);
    expect(audit.find((e) => e.action === 'restart')?.details).toMatchObject({ hold: 'deletes', discardedDeletes: 3 });

    // Fixed at the source this time: the FULL cycle after a restart holds nothing, and the lane is gone.
    for (const u of users.slice(0, 3)) s.agent.directory.set(u.id, u);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).lastCycle?.state !== 'running', { message: 'idle' });
    const fixed = await server.service.restart(s.cfg, TEST_ADMIN);
    await s.agent.waitFor('cycleCommitted', (c) => c.cycleId === fixed.cycleId);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'healthy' });
    expect((await server.service.getStatus(s.cfg)).quarantine).toBeNull();
    expect((await server.service.listObjects(s.cfg, { limit: 1 })).total).toBe(30);
    await s.agent.close();
  });

  it('hold deletes: allow-deletes with approvals 2 releases the held set only at the second token', async () => {
    const users = objects('user', 12);
    const s = await synced({ threshold: 2, hold: 'deletes', approvals: 2 }, users);
    expect((await cycleRemoving(s, idsOf(users, 0, 2))).state).toBe('applied');
    const first = { tokenId: 'lane-a', name: 'admin-a', role: 'admin' as const };
    const second = { tokenId: 'lane-b', name: 'admin-b', role: 'admin' as const };
    expect(await server.service.allowDeletes(s.cfg, first)).toMatchObject({ state: 'awaitingApproval', approvalsNeeded: 1 });
    expect((await server.service.listObjects(s.cfg, { limit: 1 })).total).toBe(12);
    const released = await server.service.allowDeletes(s.cfg, second);
    expect(released).toMatchObject({ state: 'applied', deleted: 2 });
    expect((await server.service.listObjects(s.cfg, { limit: 1 })).total).toBe(10);
    const release = (await server.service.listCycles(s.cfg, {})).items.find(
      (c) => released.state === 'applied' && c.id === released.cycleId,
    );
    expect(release).toMatchObject({ trigger: 'release', state: 'applied', counts: { delete: 2 }, agentId: null });
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'healthy' });
    await s.agent.close();
  });
});

describe('approvals: 2', () => {
  it('releases only when two different admin tokens allow the deletes; the same token twice counts once; both audited', async () => {
    const users = objects('user', 12);
    const s = await synced({ threshold: 5, approvals: 2 }, users);
    const cycle = await cycleRemoving(s, idsOf(users, 0, 6));
    expect(cycle.state).toBe('quarantined');
    const first = { tokenId: 'token-a', name: 'admin-a', role: 'admin' as const };
    const second = { tokenId: 'token-b', name: 'admin-b', role: 'admin' as const };
    expect(await server.service.allowDeletes(s.cfg, first)).toEqual({
      state: 'awaitingApproval',
      cycleId: cycle.id,
      approvalsNeeded: 1,
    });
    // The same token again is still one approval: nothing applied.
    expect(await server.service.allowDeletes(s.cfg, first)).toMatchObject({ state: 'awaitingApproval', approvalsNeeded: 1 });
    expect((await server.service.getStatus(s.cfg)).state).toBe('quarantined');
    expect((await server.service.listObjects(s.cfg, { limit: 1 })).total).toBe(12);
    expect(await server.service.allowDeletes(s.cfg, second)).toEqual({
      state: 'applied',
      cycleId: cycle.id,
      deleted: 6,
      kept: 0,
    });
    expect((await server.service.listObjects(s.cfg, { limit: 1 })).total).toBe(6);
    const audit = (await server.service.listAudit({ limit: 100 })).items.filter((e) => e.target.id === s.cfg);
    expect(audit.filter((e) => e.action === 'allow-deletes.approve').map((e) => e.actor.name)).toEqual(['admin-a', 'admin-a']);
    expect(audit.find((e) => e.action === 'allow-deletes')?.actor.name).toBe('admin-b');
    await s.agent.close();
  });

  it('answers 202 with approvalsNeeded over HTTP', async () => {
    const users = objects('user', 8);
    const s = await synced({ threshold: 3, approvals: 2 }, users);
    const cycle = await cycleRemoving(s, idsOf(users, 0, 4));
    const res = await server.app.inject({
      method: 'POST',
      url: `/api/v1/configurations/${s.cfg}/allow-deletes`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ state: 'awaitingApproval', cycleId: cycle.id, approvalsNeeded: 1 });
    await s.agent.close();
  });
});

describe('the delete policy settings over HTTP', () => {
  const call = (method: 'POST' | 'PATCH' | 'GET', url: string, payload?: object) =>
    server.app.inject({ method, url, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, ...(payload ? { payload } : {}) });
  const body = (accidentalDeletes: unknown) => ({ name: 'p', source: { baseDn: PEOPLE }, accidentalDeletes });
  const ad = 'accidentalDeletes';

  const bad: [unknown, string][] = [
    [{ enabled: 'true' }, `${ad}.enabled`],
    [{ enabled: 1 }, `${ad}.enabled`],
    [{ countDisables: 'yes' }, `${ad}.countDisables`],
    [{ countDisables: null }, `${ad}.countDisables`],
    [{ percentage: 0 }, `${ad}.percentage`],
    [{ percentage: -1 }, `${ad}.percentage`],
    [{ percentage: 100.5 }, `${ad}.percentage`],
    [{ percentage: '10' }, `${ad}.percentage`],
    [{ minimumObjects: -1 }, `${ad}.minimumObjects`],
    [{ minimumObjects: 1.5 }, `${ad}.minimumObjects`],
    [{ minimumObjects: null }, `${ad}.minimumObjects`],
    [{ perType: 'users' }, `${ad}.perType`],
    [{ perType: { admin: { threshold: 1 } } }, `${ad}.perType.admin`],
    [{ perType: { user: 5 } }, `${ad}.perType.user`],
    [{ perType: { user: { threshold: 0 } } }, `${ad}.perType.user.threshold`],
    [{ perType: { group: { threshold: 2.5 } } }, `${ad}.perType.group.threshold`],
    [{ perType: { group: { percentage: 0 } } }, `${ad}.perType.group.percentage`],
    [{ perType: { user: { percentage: 101 } } }, `${ad}.perType.user.percentage`],
    [{ perType: { user: { limit: 1 } } }, `${ad}.perType.user.limit`],
    [{ window: 24 }, `${ad}.window`],
    [{ window: { hours: 24 } }, `${ad}.window.threshold`],
    [{ window: { threshold: 10 } }, `${ad}.window.hours`],
    [{ window: { hours: 0, threshold: 10 } }, `${ad}.window.hours`],
    [{ window: { hours: 721, threshold: 10 } }, `${ad}.window.hours`],
    [{ window: { hours: 1.5, threshold: 10 } }, `${ad}.window.hours`],
    [{ window: { hours: 24, threshold: 0 } }, `${ad}.window.threshold`],
    [{ window: { hours: 24, threshold: 10, days: 1 } }, `${ad}.window.days`],
    [{ protected: true }, `${ad}.protected`],
    [{ protected: { dnSuffixes: 'ou=admins,dc=example,dc=com' } }, `${ad}.protected.dnSuffixes`],
    [{ protected: { dnSuffixes: ['not a dn'] } }, `${ad}.protected.dnSuffixes.0`],
    [{ protected: { dnSuffixes: [''] } }, `${ad}.protected.dnSuffixes.0`],
    [{ protected: { objectIds: [1] } }, `${ad}.protected.objectIds.0`],
    [{ protected: { objectIds: Array.from({ length: 1001 }, (_, i) => `id${i}`) } }, `${ad}.protected.objectIds`],
    [{ protected: { names: [] } }, `${ad}.protected.names`],
    [{ memberRemovals: 5 }, `${ad}.memberRemovals`],
    [{ memberRemovals: {} }, `${ad}.memberRemovals.threshold`],
    [{ memberRemovals: { threshold: 0 } }, `${ad}.memberRemovals.threshold`],
    [{ memberRemovals: { threshold: 2.5 } }, `${ad}.memberRemovals.threshold`],
    [{ memberRemovals: { threshold: '5' } }, `${ad}.memberRemovals.threshold`],
    [{ memberRemovals: { threshold: 5, percentage: 1 } }, `${ad}.memberRemovals.percentage`],
    [{ hold: 'all' }, `${ad}.hold`],
    [{ hold: null }, `${ad}.hold`],
    [{ hold: true }, `${ad}.hold`],
    [{ hold: 'deletes', memberRemovals: { threshold: 5 } }, `${ad}.hold`],
    [{ approvals: 3 }, `${ad}.approvals`],
    [{ approvals: '2' }, `${ad}.approvals`],
    [{ approvals: null }, `${ad}.approvals`],
    [{ approvals: 1.5 }, `${ad}.approvals`],
  ];

  test.each(bad)('POST and PATCH with %j answer 400 naming %s', async (value, field) => {
    const res = await call('POST', '/api/v1/configurations', body(value));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field });
    expect(res.json().error.message).toContain(field);
    const created = await call('POST', '/api/v1/configurations', body({}));
    const url = `/api/v1/configurations/${created.json().id as string}`;
    const patched = await call('PATCH', url, { accidentalDeletes: value });
    expect(patched.statusCode).toBe(400);
    expect(patched.json().error.field).toBe(field);
    expect((await call('GET', url)).json().accidentalDeletes).toEqual(created.json().accidentalDeletes);
  });

  it('fills the defaults (every new rule off, minimumObjects 100) and merges a PATCH into nested settings; null turns a rule off', async () => {
    const created = await call('POST', '/api/v1/configurations', body({ perType: { user: { threshold: 300 } } }));
    expect(created.statusCode).toBe(201);
    expect(created.json().accidentalDeletes).toEqual({
      enabled: true,
      threshold: 500,
      countDisables: false,
      percentage: null,
      minimumObjects: 100,
      perType: { user: { threshold: 300, percentage: null } },
      window: null,
      protected: null,
      memberRemovals: null,
      hold: 'cycle',
      approvals: 1,
    });
    const url = `/api/v1/configurations/${created.json().id as string}`;
    await call('PATCH', url, {
      accidentalDeletes: { window: { hours: 24, threshold: 1000 }, perType: { group: { threshold: 20 } } },
    });
    await call('PATCH', url, {
      accidentalDeletes: { window: { hours: 48 }, perType: { user: { percentage: 5 } }, protected: { objectIds: ['a', 'a'] } },
    });
    let settings = (await call('GET', url)).json().accidentalDeletes;
    expect(settings).toMatchObject({
      perType: { user: { threshold: 300, percentage: 5 }, group: { threshold: 20, percentage: null } },
      window: { hours: 48, threshold: 1000 },
      protected: { dnSuffixes: [], objectIds: ['a'] },
    });
    await call('PATCH', url, { accidentalDeletes: { window: null, perType: { user: null }, percentage: 12.5 } });
    settings = (await call('GET', url)).json().accidentalDeletes;
    expect(settings).toMatchObject({ window: null, perType: { user: null, group: { threshold: 20 } }, percentage: 12.5 });
  });
});
