import { ChangeKind, CycleErrorCode, CycleMode, ErrorCode, ObjectType } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import { ConflictError } from '../errors';
import type { ControllerServer } from '../server';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';
import { Keys } from '../store/keys';

jest.setTimeout(60_000);

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

async function cycleDone(cfgId: string, cycleId: string, state = 'applied'): Promise<void> {
  await waitFor(async () => (await server.service.listCycles(cfgId, {})).items.find((c) => c.id === cycleId)?.state === state, {
    message: `cycle ${cycleId} ${state}`,
  });
}

async function objectIds(cfgId: string): Promise<string[]> {
  const page = await server.service.listObjects(cfgId, { limit: 1000 });
  return page.items.map((o) => o.id).sort();
}

describe('sync pipeline', () => {
  it('applies an initial FULL cycle, then deltas (create, update, rename, delete), with group members resolved', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server, {}, { batchSize: 7 });
    for (const u of fakeUsers(PEOPLE, 20)) agent.directory.set(u.id, u);
    agent.directory.set('g1', {
      id: 'g1',
      type: 'group',
      dn: `cn=staff,${PEOPLE}`,
      attributes: { cn: ['staff'] },
      memberDns: [`uid=user1,${PEOPLE}`, `uid=user2,${PEOPLE}`, `uid=nobody,${PEOPLE}`],
    });
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    expect(first.mode).toBe(CycleMode.CYCLE_MODE_FULL);
    await cycleDone(cfg, first.cycleId);
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
    const objects = await server.service.listObjects(cfg, { limit: 1000 });
    expect(objects.total).toBe(21);
    const group = objects.items.find((o) => o.id === 'g1')!;
    expect(group.memberIds.sort()).toEqual(['user-1', 'user-2']);
    expect((await server.service.listObjects(cfg, { type: 'user', limit: 5 })).items).toHaveLength(5);
    expect((await server.service.getStatus(cfg)).state).toBe('healthy');
    const creates = await server.service.listProvisioningLogs(cfg, { action: 'Create', limit: 100 });
    expect(creates.items).toHaveLength(21);
    expect(creates.items.every((e) => e.status === 'success' && e.cycleId === first.cycleId)).toBe(true);

    // Delta: one change, one rename, one delete, one add.
    agent.directory.get('user-3')!.attributes.mail = ['changed@example.com'];
    agent.directory.get('user-4')!.dn = `uid=renamed4,${PEOPLE}`;
    agent.directory.delete('user-5');
    agent.directory.set('new-1', fakeUsers(PEOPLE, 1, 'new')[0]!);
    agent.directory.get('new-1')!.id = 'new-1';
    const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
    const start = await agent.waitFor('startCycle', (s) => s.cycleId === cycleId);
    expect(start.mode).toBe(CycleMode.CYCLE_MODE_DELTA);
    expect(start.baseCycleId).toBe(first.cycleId);
    await cycleDone(cfg, cycleId);
    const cycle = (await server.service.listCycles(cfg, {})).items[0]!;
    expect(cycle).toMatchObject({ id: cycleId, state: 'applied', mode: 'delta', counts: { create: 1, update: 2, delete: 1 } });
    expect(cycle.completedAt).not.toBeNull();
    const ids = await objectIds(cfg);
    expect(ids).toContain('new-1');
    expect(ids).not.toContain('user-5');
    const all = (await server.service.listObjects(cfg, { limit: 1000 })).items;
    expect(all.find((o) => o.id === 'user-3')!.attributes.mail).toEqual(['changed@example.com']);
    expect(all.find((o) => o.id === 'user-4')!.dn).toBe(`uid=renamed4,${PEOPLE}`);
    const logs = await server.service.listProvisioningLogs(cfg, { cycleId, limit: 10 });
    expect(logs.items.map((e) => `${e.action}:${e.objectId}`).sort()).toEqual(
      ['Create:new-1', 'Delete:user-5', 'Update:user-3', 'Update:user-4'].sort(),
    );
    // Pagination with a cursor walks every entry once.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await server.service.listProvisioningLogs(cfg, { limit: 4, cursor });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(new Set(seen).size).toBe(25);
    await agent.close();
  });

  it('drops duplicate batches, reports a sequence gap, and acknowledges cumulatively', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server, {}, { autoRespond: false });
    await agent.hello();
    const start = await agent.waitFor('startCycle');
    const users = fakeUsers(PEOPLE, 3, 'dup');
    const change = (i: number) => ({
      kind: ChangeKind.CHANGE_KIND_ADD,
      objectType: ObjectType.OBJECT_TYPE_USER,
      objectId: users[i]!.id,
      dn: users[i]!.dn,
      contentHash: Buffer.alloc(32, i + 1),
      attributes: [{ name: 'uid', values: [users[i]!.id] }],
    });
    const batch = (sequence: number, i: number) =>
      agent.send({
        type: 'changeBatch',
        value: { configurationId: cfg, cycleId: start.cycleId, sequence, changes: [change(i)] },
      });
    batch(1, 0);
    await agent.waitFor('batchAck', (a) => a.ackedThroughSequence === 1);
    batch(1, 0); // resent after an imagined reconnect
    batch(3, 2); // skips 2
    const gap = await agent.waitFor('error', (e) => e.code === ErrorCode.ERROR_CODE_SEQUENCE_GAP);
    expect(gap).toMatchObject({ fatal: false, cycleId: start.cycleId });
    batch(2, 1);
    await agent.waitFor('batchAck', (a) => a.ackedThroughSequence === 2);
    batch(3, 2);
    await agent.waitFor('batchAck', (a) => a.ackedThroughSequence === 3);
    agent.send({
      type: 'cycleComplete',
      value: { configurationId: cfg, cycleId: start.cycleId, lastSequence: 3, mode: CycleMode.CYCLE_MODE_FULL },
    });
    await cycleDone(cfg, start.cycleId);
    expect(await objectIds(cfg)).toEqual(users.map((u) => u.id).sort());
    const creates = await server.service.listProvisioningLogs(cfg, { action: 'Create' });
    expect(creates.items).toHaveLength(3);
    // A batch for a finished cycle is acknowledged (it is a duplicate) but changes nothing.
    batch(2, 1);
    await waitFor(() => agent.count('batchAck') >= 5, { message: 'ack of a late duplicate' });
    await agent.close();
  });

  it('waits for missing batches before evaluating a completed cycle', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server, {}, { autoRespond: false });
    await agent.hello();
    const start = await agent.waitFor('startCycle');
    const u = fakeUsers(PEOPLE, 2, 'late');
    const send = (sequence: number, i: number) =>
      agent.send({
        type: 'changeBatch',
        value: {
          configurationId: cfg,
          cycleId: start.cycleId,
          sequence,
          changes: [
            {
              kind: ChangeKind.CHANGE_KIND_ADD,
              objectType: ObjectType.OBJECT_TYPE_USER,
              objectId: u[i]!.id,
              dn: u[i]!.dn,
              contentHash: Buffer.alloc(32, 9),
            },
          ],
        },
      });
    send(1, 0);
    agent.send({
      type: 'cycleComplete',
      value: { configurationId: cfg, cycleId: start.cycleId, lastSequence: 2, mode: CycleMode.CYCLE_MODE_FULL },
    });
    await agent.waitFor('batchAck', (a) => a.ackedThroughSequence === 1);
    expect((await server.service.getStatus(cfg)).lastCycle?.state).toBe('running');
    send(2, 1);
    await cycleDone(cfg, start.cycleId);
    expect(await objectIds(cfg)).toHaveLength(2);
    await agent.close();
  });

  it('runs FULL when the agent lost its cache, and deletes what the scan did not report', async () => {
    const {
      agent,
      agentId,
      token,
      configurationId: cfg,
    } = await setupConfiguration(server, {
      accidentalDeletes: { enabled: true, threshold: 100 },
    });
    for (const u of fakeUsers(PEOPLE, 10, 'full')) agent.directory.set(u.id, u);
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    await cycleDone(cfg, first.cycleId);
    await agent.waitFor('cycleCommitted');
    await agent.close();

    // A new agent process with an empty cache, and a directory that lost 3 users meanwhile.
    const fresh = await FakeAgent.open({ url: agent['options'].url, agentId, token });
    for (const u of fakeUsers(PEOPLE, 10, 'full').slice(3)) fresh.directory.set(u.id, u);
    await fresh.hello();
    const second = await fresh.waitFor('startCycle');
    expect(second.mode).toBe(CycleMode.CYCLE_MODE_FULL);
    await cycleDone(cfg, second.cycleId);
    const cycle = (await server.service.listCycles(cfg, {})).items[0]!;
    expect(cycle).toMatchObject({ mode: 'full', counts: { create: 0, update: 0, delete: 3 } });
    expect(await objectIds(cfg)).toEqual(['full-3', 'full-4', 'full-5', 'full-6', 'full-7', 'full-8', 'full-9']);
    const deletes = await server.service.listProvisioningLogs(cfg, { action: 'Delete' });
    expect(deletes.items.map((e) => e.dn).sort()).toEqual([0, 1, 2].map((n) => `uid=full${n},${PEOPLE}`));
    await fresh.close();
  });

  it('a quiet cycle adds nothing to Redis but the cycle record', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server);
    for (const u of fakeUsers(PEOPLE, 50, 'quiet')) agent.directory.set(u.id, u);
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    await cycleDone(cfg, first.cycleId);
    await agent.waitFor('cycleCommitted');
    const prefix = server.options.redisKeyPrefix;
    const keysBefore = new Set(await server.redis.keys(`${prefix}:*`));
    const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
    await cycleDone(cfg, cycleId);
    // The cycle's BullMQ job goes when it completes, a moment after the cycle is applied.
    const added = async () => (await server.redis.keys(`${prefix}:*`)).filter((k) => !keysBefore.has(k));
    await waitFor(async () => (await added()).length === 1, { message: 'the cycle job to be removed' });
    expect(await added()).toEqual([`${new Keys(prefix).cycle(cycleId)}`]);
    expect((await server.service.listProvisioningLogs(cfg, { limit: 1000 })).items).toHaveLength(50);
    await agent.close();
  });

  it('a failed cycle applies nothing and removes its staged batches', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server, {}, { autoRespond: false });
    await agent.hello();
    const start = await agent.waitFor('startCycle');
    const u = fakeUsers(PEOPLE, 1, 'failed')[0]!;
    agent.send({
      type: 'changeBatch',
      value: {
        configurationId: cfg,
        cycleId: start.cycleId,
        sequence: 1,
        changes: [
          {
            kind: ChangeKind.CHANGE_KIND_ADD,
            objectType: ObjectType.OBJECT_TYPE_USER,
            objectId: u.id,
            dn: u.dn,
            contentHash: Buffer.alloc(32, 1),
          },
        ],
      },
    });
    await agent.waitFor('batchAck');
    agent.send({
      type: 'cycleFailed',
      value: {
        configurationId: cfg,
        cycleId: start.cycleId,
        code: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT,
        message: 'size limit',
      },
    });
    await cycleDone(cfg, start.cycleId, 'failed');
    const status = await server.service.getStatus(cfg);
    expect(status.state).toBe('error');
    expect(status.lastCycle?.error).toEqual({ code: 'CYCLE_ERROR_LDAP_SIZE_LIMIT', message: 'size limit' });
    expect(await objectIds(cfg)).toEqual([]);
    // Removed right after the cycle's move to failed (a separate step): wait for it.
    const batches = `${new Keys(server.options.redisKeyPrefix).cycle(start.cycleId)}:batches`;
    await waitFor(async () => (await server.redis.exists(batches)) === 0, { message: 'staged batches removed' });
    await agent.close();
  });

  it('runs one cycle at a time per configuration, in order, and configurations in parallel', async () => {
    const a = await setupConfiguration(server, {}, { autoRespond: false });
    const b = await setupConfiguration(server, {}, { autoRespond: false });
    await a.agent.hello();
    await b.agent.hello();
    const startA = await a.agent.waitFor('startCycle');
    const startB = await b.agent.waitFor('startCycle');
    await expect(server.service.startCycle(a.configurationId, TEST_ADMIN)).rejects.toMatchObject({
      status: 409,
      code: 'SG_ERR_CYCLE_RUNNING',
    });
    // B finishes first although A started first: configurations do not wait for each other.
    a.agent.autoRespond = true;
    b.agent.autoRespond = true;
    for (const u of fakeUsers(PEOPLE, 3, 'b')) b.agent.directory.set(u.id, u);
    await b.agent.runCycle(startB);
    await cycleDone(b.configurationId, startB.cycleId);
    expect((await server.service.getStatus(a.configurationId)).lastCycle?.state).toBe('running');
    for (const u of fakeUsers(PEOPLE, 3, 'a')) a.agent.directory.set(u.id, u);
    await a.agent.runCycle(startA);
    await cycleDone(a.configurationId, startA.cycleId);
    // Later cycles of A follow one after the other, each based on the one before.
    let base = startA.cycleId;
    for (let i = 0; i < 3; i++) {
      a.agent.directory.set(`seq-${i}`, { ...fakeUsers(PEOPLE, 1, `seq${i}`)[0]!, id: `seq-${i}` });
      const { cycleId } = await server.service.startCycle(a.configurationId, TEST_ADMIN);
      const s = await a.agent.waitFor('startCycle', (x) => x.cycleId === cycleId);
      expect(s.baseCycleId).toBe(base);
      await cycleDone(a.configurationId, cycleId);
      base = cycleId;
    }
    const history = await server.service.listCycles(a.configurationId, {});
    expect(history.items.map((c) => c.state)).toEqual(['applied', 'applied', 'applied', 'applied']);
    expect(await objectIds(a.configurationId)).toEqual(['a-0', 'a-1', 'a-2', 'seq-0', 'seq-1', 'seq-2']);
    await a.agent.close();
    await b.agent.close();
  });

  it('answers a reconnecting agent with the verdict of its pending cycle', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server);
    for (const u of fakeUsers(PEOPLE, 2, 'pend')) agent.directory.set(u.id, u);
    await agent.hello();
    const start = await agent.waitFor('startCycle');
    await cycleDone(cfg, start.cycleId);
    const before = agent.count('cycleCommitted');
    await agent.reconnect([{ configurationId: cfg, committedCycleId: '', pendingCycleId: start.cycleId }]);
    await waitFor(() => agent.count('cycleCommitted') > before, { message: 'CycleCommitted again' });
    await agent.close();
  });

  it('validates configurations with errors that name the field', async () => {
    const bad: [unknown, string][] = [
      [{ name: 'x', source: { baseDn: 'dc=x' }, accidentalDeletes: { threshold: 0 } }, 'accidentalDeletes.threshold'],
      [{ name: 'x', source: { baseDn: 'dc=x' }, accidentalDeletes: { threshold: 1.5 } }, 'accidentalDeletes.threshold'],
      [{ name: 'x', source: { baseDn: 'dc=x' }, accidentalDeletes: { enabled: 'yes' } }, 'accidentalDeletes.enabled'],
      [{ name: 'x', source: { baseDn: 'not a dn' } }, 'source.baseDn'],
      [{ name: 'x', source: { baseDn: 'dc=x', filter: 'uid=1' } }, 'source.filter'],
      [{ name: 'x', source: { baseDn: 'dc=x', objectTypes: [] } }, 'source.objectTypes'],
      [{ name: '', source: { baseDn: 'dc=x' } }, 'name'],
      [{ name: 'x', source: { baseDn: 'dc=x' }, syncIntervalSeconds: 1 }, 'syncIntervalSeconds'],
      [{ name: 'x', source: { baseDn: 'dc=x' }, notificationEmail: 'nope' }, 'notificationEmail'],
      [{ name: 'x', source: { baseDn: 'dc=x' }, agentIds: ['missing'] }, 'agentIds'],
    ];
    for (const [input, field] of bad) {
      await expect(server.service.createConfiguration(input as never, TEST_ADMIN)).rejects.toMatchObject({ field, status: 400 });
    }
    const cfg = await server.service.createConfiguration({ name: 'defaults', source: { baseDn: 'dc=x' } }, TEST_ADMIN);
    expect(cfg).toMatchObject({
      state: 'pending',
      syncIntervalSeconds: 120,
      accidentalDeletes: { enabled: true, threshold: 500, countDisables: false },
      notificationEmail: null,
    });
    const patched = await server.service.updateConfiguration(cfg.id, { accidentalDeletes: { threshold: 7 } }, TEST_ADMIN);
    expect(patched.accidentalDeletes).toMatchObject({ enabled: true, threshold: 7, countDisables: false, percentage: null });
    await expect(
      server.service.updateConfiguration(cfg.id, { accidentalDeletes: { threshold: -1 } }, TEST_ADMIN),
    ).rejects.toMatchObject({
      field: 'accidentalDeletes.threshold',
    });
    await expect(server.service.startCycle(cfg.id, TEST_ADMIN)).rejects.toBeInstanceOf(ConflictError);
    await server.service.deleteConfiguration(cfg.id, TEST_ADMIN);
    await expect(server.service.getConfiguration(cfg.id)).rejects.toMatchObject({ status: 404 });
    const audit = await server.service.listAudit({ limit: 100 });
    const actions = audit.items.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'configuration.create',
        'configuration.update',
        'configuration.delete',
        'agent.register',
        'cycle.start',
      ]),
    );
  });
});
