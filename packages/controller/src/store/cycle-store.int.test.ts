import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Redis } from 'ioredis';
import { AgentStore } from './agent-store';
import { CycleStore } from './cycle-store';
import { Keys } from './keys';
import { encodeQuarantine, NO_NOTIFICATION } from './quarantine-codec';
import { Scripts } from './scripts';
import { outboxEvent } from '../cycles/cycle-events';

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
  it("writes a transition's event to the outbox with the move, and nothing when the move is refused", async () => {
    const cfg = 'abcdef01-0000-4000-8000-000000000001';
    const cycleId = 'abcdef01-0000-4000-8000-0000000000c1';
    await client.hset(keys.cycle(cycleId), { phase: 'quarantined', configurationId: cfg });
    await client.hset(keys.state(cfg), {
      state: 'quarantined',
      currentCycleId: cycleId,
      quarantine: encodeQuarantine(quarantine),
    });
    const event = outboxEvent({ event: 'quarantine.released', configurationId: cfg, cycleId, quarantine, actor: 'alice' });
    expect(await cycles.release(cfg, cycleId, 'alice', '2026-01-01T00:00:00.000Z', event)).toBe(true);
    expect(await client.hget(keys.cycle(cycleId), 'phase')).toBe('applying');
    expect(await cycles.outboxEntries(cfg)).toEqual(new Map([[event.id, event.entry]]));
    // Removed only while it holds what was read.
    await cycles.removeOutboxEntry(cfg, event.id, 'another value');
    expect((await cycles.outboxEntries(cfg)).size).toBe(1);
    await cycles.removeOutboxEntry(cfg, event.id, event.entry);
    expect((await cycles.outboxEntries(cfg)).size).toBe(0);
    // A second release (already applying) moves nothing and writes no event.
    expect(await cycles.release(cfg, cycleId, 'bob', '2026-01-01T00:00:01.000Z', event)).toBe(false);
    expect(await client.exists(keys.outbox(cfg))).toBe(0);
    // The same for a failure of a cycle that is not current.
    const failed = outboxEvent({ event: 'cycle.failed', configurationId: cfg, cycleId });
    expect(
      await cycles.markFailed(
        cfg,
        'abcdef01-0000-4000-8000-0000000000c2',
        ['streaming'],
        { code: 'X', message: 'x' },
        'now',
        failed,
      ),
    ).toBe(false);
    expect(await client.exists(keys.outbox(cfg))).toBe(0);
    expect(await cycles.markFailed(cfg, cycleId, ['applying'], { code: 'X', message: 'x' }, 'now', failed)).toBe(true);
    expect([...(await cycles.outboxEntries(cfg)).keys()]).toEqual([failed.id]);
  });

  it("writes the events of a delete lane's release and restart with them, and none when no lane is open", async () => {
    const cfg = 'abcdef02-0000-4000-8000-000000000001';
    const lane = { ...quarantine, hold: 'deletes' as const, cycleId: 'abcdef02-0000-4000-8000-0000000000a1' };
    const open = async () => {
      await client.hset(keys.state(cfg), { state: 'quarantined', lane: '1', quarantine: encodeQuarantine(lane) });
      await client.hset(keys.lane(cfg), 'o1', 'entry-1');
    };
    const released = outboxEvent({ event: 'quarantine.released', configurationId: cfg, cycleId: lane.cycleId, quarantine: lane });
    await open();
    expect(await cycles.releaseLane(cfg, 'abcdef02-0000-4000-8000-0000000000a2', 'alice', 'now', released)).toBe(1);
    expect(await cycles.outboxEntries(cfg)).toEqual(new Map([[released.id, released.entry]]));
    expect(await client.hget(keys.cycle('abcdef02-0000-4000-8000-0000000000a2'), 'releasedBy')).toBe('alice');
    await client.del(keys.outbox(cfg));
    // No lane open any more: nothing released, no event.
    expect(await cycles.releaseLane(cfg, 'abcdef02-0000-4000-8000-0000000000a3', 'bob', 'now', released)).toBe(0);
    expect(await client.exists(keys.outbox(cfg))).toBe(0);

    const restarted = outboxEvent({
      event: 'quarantine.restarted',
      configurationId: cfg,
      cycleId: lane.cycleId,
      quarantine: lane,
    });
    await client.hdel(keys.state(cfg), 'currentCycleId');
    await open();
    expect(await cycles.discardLane(cfg, 'healthy', 1, restarted)).toBe(1);
    expect([...(await cycles.outboxEntries(cfg)).keys()]).toEqual([restarted.id]);
    expect(await cycles.discardLane(cfg, 'healthy', 1, restarted)).toBe(0);
  });

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
