import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Redis } from 'ioredis';
import { AgentStore } from './agent-store';
import { CycleStore } from './cycle-store';
import { Keys } from './keys';
import { encodeQuarantine, NO_NOTIFICATION } from './quarantine-codec';
import { Scripts } from './scripts';

jest.setTimeout(60_000);

let redis: RedisServer;
let client: Redis;
const keys = new Keys('cyclestoretest');
let cycles: CycleStore;
let agents: AgentStore;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  const scripts = new Scripts(client);
  cycles = new CycleStore(client, keys, scripts);
  agents = new AgentStore(client, keys, scripts);
});

afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

const quarantine = {
  reason: 'TooManyDeletes' as const,
  deleteCount: 12,
  threshold: 10,
  trippedBy: [],
  seriesCount: 1,
  hold: 'cycle' as const,
  cycleId: 'c-held',
  since: '2026-01-01T00:00:00.000Z',
};

describe('CycleStore', () => {
  it('pages the history newest first with each cycle start, below an exclusive bound', async () => {
    await client.zadd(keys.cycles('h'), 1000, 'a', 2000, 'b', 3000, 'c');
    expect(await cycles.newestFirst('h', '+inf', 2)).toEqual([
      { id: 'c', score: '3000' },
      { id: 'b', score: '2000' },
    ]);
    expect(await cycles.newestFirst('h', '(2000', 5)).toEqual([{ id: 'a', score: '1000' }]);
    expect(await cycles.startedBefore('h', 2000, 5)).toEqual(['a']);
  });

  it('reads a quarantine only while the configuration is quarantined, its notification defaulting to none', async () => {
    await client.hset(keys.state('q'), { state: 'quarantined', quarantine: encodeQuarantine(quarantine), lastCycleId: 'c1' });
    expect(await cycles.quarantine('q')).toEqual(quarantine);
    expect(await cycles.status('q')).toEqual({
      state: 'quarantined',
      quarantine: { ...quarantine, notification: NO_NOTIFICATION },
      lastCycleId: 'c1',
    });
    // A quarantine field left beside another state is not the configuration's quarantine.
    await client.hset(keys.state('q'), 'state', 'healthy');
    expect(await cycles.quarantine('q')).toBeNull();
    expect((await cycles.status('q')).quarantine).toBeNull();
    expect(await cycles.status('none')).toEqual({ state: 'pending', quarantine: null, lastCycleId: null });
  });

  it('drops what a cycle staged with UNLINK (freed off the main thread), every staged key gone', async () => {
    const [batches, seen, plan, approvals] = keys.staged('c-big');
    const ids = Array.from({ length: 5000 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    await client.hset(seen!, Object.fromEntries(ids.map((id, i) => [id, `1:${i}`])));
    await client.hset(batches!, '1', 'frame');
    await client.rpush(plan!, ...ids.map((id) => `u:${id}`));
    await client.sadd(approvals!, 'token-a');
    await client.config('RESETSTAT');
    await cycles.dropStaged('c-big');
    expect(await client.exists(batches!, seen!, plan!, approvals!)).toBe(0);
    const stats = await client.info('commandstats');
    expect(stats).toMatch(/^cmdstat_unlink:calls=1,/m);
    expect(stats).not.toMatch(/^cmdstat_del:/m);
  });

  it('answers nulls for a cycle that has no record', async () => {
    expect(await cycles.read('missing')).toBeNull();
    expect(await cycles.run('missing')).toEqual({
      phase: null,
      configurationId: null,
      agentId: null,
      startedAt: null,
      lastFrameAt: null,
      lastSequence: null,
    });
  });
});

describe('AgentStore', () => {
  it('replaces every cursor of an agent, none left when the hello names none', async () => {
    await agents.setCursor('a1', 'old', 'c0');
    await agents.replaceCursors('a1', { cfg: 'c1' });
    expect(await client.hgetall(keys.agentCursors('a1'))).toEqual({ cfg: 'c1' });
    await agents.replaceCursors('a1', {});
    expect(await client.exists(keys.agentCursors('a1'))).toBe(0);
  });

  it('has no credentials for an agent without a token hash', async () => {
    expect(await agents.credentials('nobody')).toBeNull();
    await client.hset(keys.agent('a2'), { id: 'a2', tokenHash: 'h' });
    expect(await agents.credentials('a2')).toEqual({ name: '', tokenHash: 'h' });
  });
});
