import { ChangeKind, ObjectType, type Change, type DeepPartial } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import { encodeIndexEntry } from '../store/index-entry';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';
import { Keys } from '../store/keys';

/*
 * Evaluation holds a few batches at a time: what it must still get right is the last
 * change per object across and within batches, FULL-mode deletes over an index of many
 * HSCAN pages, and cycles staged without the seen hash (by an earlier version).
 */

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

type DeepPartialChange = DeepPartial<Change>;

async function cycleState(cfgId: string, cycleId: string, state = 'applied'): Promise<void> {
  await waitFor(async () => (await server.service.listCycles(cfgId, {})).items.find((c) => c.id === cycleId)?.state === state, {
    message: `cycle ${cycleId} ${state}`,
  });
}

function user(id: string, kind: ChangeKind, hashByte: number, mail = `${id}@example.com`): DeepPartialChange {
  return {
    kind,
    objectType: ObjectType.OBJECT_TYPE_USER,
    objectId: id,
    dn: `uid=${id},${PEOPLE}`,
    contentHash: kind === ChangeKind.CHANGE_KIND_DELETE ? Buffer.alloc(0) : Buffer.alloc(32, hashByte),
    attributes: kind === ChangeKind.CHANGE_KIND_DELETE ? [] : [{ name: 'mail', values: [mail], binary: false }],
  };
}

/** Sends batches (waiting for each ack), then CycleComplete. */
async function stream(
  agent: FakeAgent,
  cfg: string,
  cycleId: string,
  batches: DeepPartialChange[][],
  beforeComplete?: () => Promise<void>,
) {
  for (const [i, changes] of batches.entries()) {
    agent.send({ type: 'changeBatch', value: { configurationId: cfg, cycleId, sequence: i + 1, changes } });
    await agent.waitFor('batchAck', (a) => a.cycleId === cycleId && Number(a.ackedThroughSequence) === i + 1);
  }
  await beforeComplete?.();
  agent.send({
    type: 'cycleComplete',
    value: {
      configurationId: cfg,
      cycleId,
      lastSequence: batches.length,
      totals: { adds: 0, modifies: 0, deletes: 0, presents: 0 },
      source: { entriesRead: 1, pages: 1, readDurationMs: 1, serverUrl: 'fake://' },
    },
  });
}

/**
 * A configuration synced with `total` users, then a new agent with an empty cache (so the
 * next cycle runs FULL) whose source kept the users from `kept` on. Returns that agent,
 * hello said (it answers StartCycle by itself unless `autoRespond` is false).
 */
async function afterCacheLoss(opts: { total: number; kept: number; prefix: string; threshold: number; autoRespond?: boolean }) {
  const setup = await setupConfiguration(
    server,
    { accidentalDeletes: { enabled: true, threshold: opts.threshold } },
    { batchSize: 400 },
  );
  const users = fakeUsers(PEOPLE, opts.total, opts.prefix);
  for (const u of users) setup.agent.directory.set(u.id, u);
  await setup.agent.hello();
  const first = await setup.agent.waitFor('startCycle');
  await cycleState(setup.configurationId, first.cycleId);
  await setup.agent.waitFor('cycleCommitted');
  await setup.agent.close();
  const fresh = await FakeAgent.open({
    url: setup.agent['options'].url,
    agentId: setup.agentId,
    token: setup.token,
    batchSize: 400,
    autoRespond: opts.autoRespond ?? true,
  });
  for (const u of users.slice(opts.kept)) fresh.directory.set(u.id, u);
  await fresh.hello();
  return { cfg: setup.configurationId, fresh };
}

describe('evaluation', () => {
  it("keeps a DN resolving to the new object when a deleted object's DN is reused in the same cycle", async () => {
    // Chunks of one operation: the add and the delete commit apart, the add first.
    const small = await startTestController(redis.url, { applyChunkSize: 1 });
    try {
      const { agent, configurationId: cfg } = await setupConfiguration(small, {}, { autoRespond: false });
      await agent.hello();
      const applied = (cycleId: string) =>
        waitFor(async () => (await small.service.listCycles(cfg, {})).items.find((c) => c.id === cycleId)?.state === 'applied', {
          message: `cycle ${cycleId} applied`,
        });
      const group: DeepPartialChange = {
        ...user('g', ChangeKind.CHANGE_KIND_ADD, 9),
        objectType: ObjectType.OBJECT_TYPE_GROUP,
        dn: `cn=g,${PEOPLE}`,
        memberDns: [`uid=a,${PEOPLE}`],
      };
      let start = await agent.waitFor('startCycle');
      await stream(agent, cfg, start.cycleId, [[user('a', ChangeKind.CHANGE_KIND_ADD, 1), group]]);
      await applied(start.cycleId);
      await agent.waitFor('cycleCommitted');
      // uid=a leaves; a new object takes its DN. The plan applies the add first, the delete last.
      const { cycleId } = await small.service.startCycle(cfg, TEST_ADMIN);
      start = await agent.waitFor('startCycle', (s) => s.cycleId === cycleId);
      await stream(agent, cfg, cycleId, [
        [user('a', ChangeKind.CHANGE_KIND_DELETE, 0), { ...user('b', ChangeKind.CHANGE_KIND_ADD, 2), dn: `uid=a,${PEOPLE}` }],
      ]);
      await applied(cycleId);
      const groups = (await small.service.listObjects(cfg, { type: 'group', limit: 10 })).items;
      expect(groups[0]?.memberIds).toEqual(['b']);
      await agent.close();
    } finally {
      await small.close();
    }
  });

  it('keeps the last change of an object listed twice, across batches and within one', async () => {
    const { agent, configurationId: cfg } = await setupConfiguration(server, {}, { autoRespond: false });
    await agent.hello();
    const start = await agent.waitFor('startCycle');
    await stream(agent, cfg, start.cycleId, [
      [user('x', ChangeKind.CHANGE_KIND_ADD, 1, 'old@example.com'), user('y', ChangeKind.CHANGE_KIND_ADD, 2)],
      [
        user('x', ChangeKind.CHANGE_KIND_MODIFY, 3, 'new@example.com'),
        user('y', ChangeKind.CHANGE_KIND_DELETE, 0),
        user('z', ChangeKind.CHANGE_KIND_ADD, 4, 'z1@example.com'),
        user('z', ChangeKind.CHANGE_KIND_MODIFY, 5, 'z2@example.com'),
      ],
    ]);
    await cycleState(cfg, start.cycleId);
    const cycle = (await server.service.listCycles(cfg, {})).items[0]!;
    // y came and went within the cycle: never in the target, so not a delete.
    expect(cycle.counts).toEqual({ create: 2, update: 0, delete: 0, failed: 0 });
    const objects = (await server.service.listObjects(cfg, { limit: 10 })).items;
    expect(objects.map((o) => [o.id, o.attributes.mail])).toEqual([
      ['x', ['new@example.com']],
      ['z', ['z2@example.com']],
    ]);
    const index = await server.redis.hgetall(`${new Keys(server.options.redisKeyPrefix).config(cfg)}:index`);
    expect(index).toEqual({
      x: encodeIndexEntry(Buffer.alloc(32, 3).toString('hex'), 'user', `uid=x,${PEOPLE}`),
      z: encodeIndexEntry(Buffer.alloc(32, 5).toString('hex'), 'user', `uid=z,${PEOPLE}`),
    });
    expect(await server.redis.exists(`${new Keys(server.options.redisKeyPrefix).cycle(start.cycleId)}:seen`)).toBe(0);
    await agent.close();
  });

  it('counts each FULL-mode delete once over an index of many pages, and leaves no plan parts behind', async () => {
    // A new agent with an empty cache: FULL mode, and 1,200 users gone from the source.
    const { cfg, fresh } = await afterCacheLoss({ total: 2500, kept: 1200, prefix: 'many', threshold: 5000 });
    const second = await fresh.waitFor('startCycle');
    await cycleState(cfg, second.cycleId);
    const cycle = (await server.service.listCycles(cfg, {})).items[0]!;
    expect(cycle).toMatchObject({ mode: 'full', counts: { create: 0, update: 0, delete: 1200 } });
    expect((await server.service.listObjects(cfg, { limit: 1 })).total).toBe(1300);
    const prefix = server.options.redisKeyPrefix;
    expect(await server.redis.keys(`${new Keys(prefix).cycle(second.cycleId)}:*`)).toEqual([]);
    await fresh.close();
  });

  it('quarantines a FULL cycle over many pages with one StagedDelete per object', async () => {
    const { cfg, fresh } = await afterCacheLoss({ total: 2200, kept: 2000, prefix: 'staged', threshold: 1500 });
    const second = await fresh.waitFor('startCycle');
    await cycleState(cfg, second.cycleId, 'quarantined');
    const status = await server.service.getStatus(cfg);
    expect(status.quarantine).toMatchObject({ deleteCount: 2000, threshold: 1500, cycleId: second.cycleId });
    const staged: { objectId: string; dn: string; objectType: string; details: string | null }[] = [];
    let cursor: string | undefined;
    do {
      const page = await server.service.listProvisioningLogs(cfg, { action: 'StagedDelete', limit: 500, cursor });
      staged.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(staged).toHaveLength(2000);
    expect(new Set(staged.map((e) => e.objectId)).size).toBe(2000);
    const one = staged.find((e) => e.objectId === 'staged-7')!;
    expect(one).toMatchObject({
      dn: `uid=staged7,${PEOPLE}`,
      objectType: 'user',
      details: 'held back: 2000 deletes >= threshold 1500',
    });
    expect((await server.service.listObjects(cfg, { limit: 1 })).total).toBe(2200);
    await fresh.close();
  });

  it('evaluates a cycle some of whose batches were staged without the seen hash (rolling upgrade) by rebuilding it', async () => {
    // FULL cycle, every object still there. Batch 1 goes through this version; batch 2 as an
    // earlier version stores it (no seen entries; seenThrough stays at 1): without a rebuild
    // its 10 objects would look unseen, and be deleted.
    const { cfg, fresh } = await afterCacheLoss({ total: 30, kept: 0, prefix: 'old', threshold: 5, autoRespond: false });
    const start = await fresh.waitFor('startCycle');
    const { changes } = fresh.changesFor(start);
    const prefix = server.options.redisKeyPrefix;
    const second = changes.slice(20);
    await stream(fresh, cfg, start.cycleId, [changes.slice(0, 20), second], async () => {
      const cycleKey = `${new Keys(prefix).cycle(start.cycleId)}`;
      expect(await server.redis.hget(cycleKey, 'seenThrough')).toBe('2');
      await server.redis.hdel(`${new Keys(prefix).cycle(start.cycleId)}:seen`, ...second.map((c) => c.objectId!));
      await server.redis.hset(cycleKey, 'seenThrough', '1');
    });
    await cycleState(cfg, start.cycleId);
    const cycle = (await server.service.listCycles(cfg, {})).items[0]!;
    expect(cycle.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect((await server.service.listObjects(cfg, { limit: 1 })).total).toBe(30);
    await fresh.close();
  });
});
