import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import { fakeUsers } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';
import { ValidationError } from '../errors';
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

/** A configuration with `n` applied (quiet) cycles. */
async function withCycles(n: number): Promise<{ cfg: string; ids: string[]; close: () => Promise<void> }> {
  const { agent, configurationId: cfg } = await setupConfiguration(server);
  for (const u of fakeUsers(PEOPLE, 3, 'hist')) agent.directory.set(u.id, u);
  await agent.hello();
  const ids: string[] = [(await agent.waitFor('startCycle')).cycleId];
  const applied = async (cycleId: string) =>
    waitFor(
      async () =>
        (await server.service.listCycles(cfg, { limit: 1 })).items[0]?.id === cycleId &&
        (await server.service.getStatus(cfg)).state === 'healthy',
      {
        message: `cycle ${cycleId} applied`,
      },
    );
  await applied(ids[0]!);
  for (let i = 1; i < n; i++) {
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === ids[i - 1]);
    const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
    ids.push(cycleId);
    await applied(cycleId);
  }
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === ids[n - 1]);
  return { cfg, ids, close: () => agent.close() };
}

async function allPages(cfg: string, limit: number, between?: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await server.service.listCycles(cfg, { limit, cursor });
    seen.push(...page.items.map((c) => c.id));
    cursor = page.nextCursor ?? undefined;
    if (cursor) await between?.();
  } while (cursor);
  return seen;
}

describe('cycle history', () => {
  it('pages newest first by start time; cycles started meanwhile and equal start times shift nothing', async () => {
    const { cfg, ids, close } = await withCycles(5);
    const prefix = server.options.redisKeyPrefix;
    // Two more records with the same start time as the third cycle (ties are ordered by id).
    const third = ids[2]!;
    const score = await server.redis.zscore(`${new Keys(prefix).config(cfg)}:cycles`, third);
    const record = await server.redis.hgetall(`${new Keys(prefix).cycle(third)}`);
    const twins = ['00000000-tie-a', 'ffffffff-tie-b'];
    for (const t of twins) {
      await server.redis.hset(`${new Keys(prefix).cycle(t)}`, record);
      await server.redis.zadd(`${new Keys(prefix).config(cfg)}:cycles`, score!, t);
    }
    const expected = [ids[4]!, ids[3]!, ...[third, ...twins].sort().reverse(), ids[1]!, ids[0]!];
    expect((await server.service.listCycles(cfg, { limit: 100 })).items.map((c) => c.id)).toEqual(expected);
    for (const limit of [1, 2, 3]) expect(await allPages(cfg, limit)).toEqual(expected);

    // New cycles start between pages: the pages already read do not come back.
    let started = 0;
    const paged = await allPages(cfg, 2, async () => {
      if (started++ < 2) {
        await server.redis.zadd(`${new Keys(prefix).config(cfg)}:cycles`, Date.now() + 1000 + started, `new-${started}`);
      }
    });
    expect(paged).toEqual(expected);
    await expect(server.service.listCycles(cfg, { cursor: '12' })).rejects.toBeInstanceOf(ValidationError);
    await close();
  });

  it('removes cycle records older than the retention, never the last or committed cycle', async () => {
    const { cfg, ids, close } = await withCycles(4);
    const prefix = server.options.redisKeyPrefix;
    // Nothing is old yet.
    expect(await server.services.cycles.pruneHistory(cfg)).toBe(0);
    // 31 days on: all but the last (also the committed) cycle go, with their records.
    const removed = await server.services.cycles.pruneHistory(cfg, Date.now() + 31 * 86_400_000);
    expect(removed).toBe(3);
    expect((await server.service.listCycles(cfg, {})).items.map((c) => c.id)).toEqual([ids[3]]);
    for (const id of ids.slice(0, 3)) expect(await server.redis.exists(`${new Keys(prefix).cycle(id)}`)).toBe(0);
    expect((await server.service.getStatus(cfg)).lastCycle?.id).toBe(ids[3]);
    await close();
  });
});
