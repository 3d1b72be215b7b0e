/**
 * The evaluation and apply stores against a real Redis: what the cycle processor relies
 * on them for, the unhappy paths first (a record changed under the watch writes nothing; a
 * failed write of a chunk is reported, not swallowed; plan parts expire and are dropped).
 */
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '@syncguard/testkit';
import { Cluster, Redis } from 'ioredis';
import { ApplyStore } from './apply-store';
import { EvaluationStore } from './evaluation-store';
import { Keys } from './keys';
import { ProvisioningLog } from './provisioning-log';
import { WatchConnections } from './watch-connections';

let server: RedisServer;
let redis: Redis;
const keys = new Keys('sgps');
let evaluation: EvaluationStore;
let apply: ApplyStore;
let watches: WatchConnections;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  const plog = new ProvisioningLog(redis, keys);
  watches = new WatchConnections(redis);
  evaluation = new EvaluationStore(redis, keys, plog, watches);
  apply = new ApplyStore(redis, keys, plog, watches);
});

beforeEach(async () => {
  await redis.flushall();
});

afterAll(async () => {
  watches?.close();
  redis?.disconnect();
  await server?.dispose();
});

const commitInput = (parts: ReturnType<EvaluationStore['planParts']>) => ({
  configurationId: 'cfg-1',
  cycleId: 'c-1',
  parts,
  heldByType: { user: 2, group: 0 },
  cycleFields: { planSize: 2, applied: 0, deleteCount: 0, counts: '{}', evaluatedMode: 'delta' },
  quarantine: null,
});

describe('EvaluationStore', () => {
  it('commits the plan and moves the cycle complete -> applying under its watch', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'complete', 'configurationId', 'cfg-1');
    await redis.hset(keys.state('cfg-1'), 'currentCycleId', 'c-1');
    const parts = evaluation.planParts('c-1', 'run-1');
    await parts.append({ u: ['u1', 'u2'], g: [], d: [] }, []);
    const watch = await evaluation.watch('c-1');
    try {
      expect(await watch.phase()).toBe('complete');
      expect(await watch.commit(commitInput(parts))).toBe(true);
    } finally {
      watch.close();
    }
    expect(await redis.lrange(keys.plan('c-1'), 0, -1)).toEqual(['u1', 'u2']);
    expect(await redis.hget(keys.cycle('c-1'), 'phase')).toBe('applying');
    expect(await redis.hgetall(keys.heldCounts('cfg-1'))).toEqual({ user: '2', group: '0' });
  });

  it('writes nothing when the record changed under the watch', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'complete', 'configurationId', 'cfg-1');
    const parts = evaluation.planParts('c-1', 'run-1');
    await parts.append({ u: ['u1'], g: [], d: [] }, []);
    const watch = await evaluation.watch('c-1');
    try {
      await redis.hset(keys.cycle('c-1'), 'lastFrameAt', '1'); // another writer
      expect(await watch.commit(commitInput(parts))).toBe(false);
    } finally {
      watch.close();
    }
    expect(await redis.exists(keys.plan('c-1'), keys.heldCounts('cfg-1'))).toBe(0);
    expect(await redis.hget(keys.cycle('c-1'), 'phase')).toBe('complete');
  });

  it('keeps plan parts with a TTL, tells which ids it planned as deletes, and drops them', async () => {
    const parts = evaluation.planParts('c-1', 'run-1');
    await parts.append({ u: [], g: [], d: ['d1', 'd2', 'd3'] }, ['a', 'b']);
    expect(await parts.listedDeletes(['a', 'x', 'b'])).toEqual([1, 0, 1]);
    expect(await parts.deletes(1, 5)).toEqual(['d2', 'd3']);
    expect(await redis.pttl(keys.planPart('c-1', 'run-1', 'd'))).toBeGreaterThan(0);
    await parts.drop();
    expect(await redis.exists(keys.planPart('c-1', 'run-1', 'd'), keys.planPart('c-1', 'run-1', 'ds'))).toBe(0);
  });

  it('reads the window of applied deletes from the given time on', async () => {
    await redis.zadd(keys.appliedDeletes('cfg-1'), 1000, 'c-a:5', 2000, 'c-b:7', 3000, 'c-c:1');
    expect(await evaluation.appliedDeletesSince('cfg-1', 2000)).toEqual([
      { at: 2000, deletes: 7 },
      { at: 3000, deletes: 1 },
    ]);
  });

  it('answers null per-type counts unless both are kept', async () => {
    await redis.hset(keys.heldCounts('cfg-1'), 'user', '3');
    expect(await evaluation.heldCounts('cfg-1')).toBeNull();
    await redis.hset(keys.heldCounts('cfg-1'), 'group', '1');
    expect(await evaluation.heldCounts('cfg-1')).toEqual({ user: 3, group: 1 });
  });
});

describe('ApplyStore', () => {
  it('commits a chunk with its progress, and reports progress under the watch', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'applying', 'applied', '0', 'planSize', '2');
    const session = apply.session('c-1');
    try {
      expect(await session.progress()).toEqual({ phase: 'applying', applied: 0, size: 2, failed: 0 });
      const writes = apply.chunkWrites();
      writes.setInIndex('cfg-1', ['o1', 'h1\tu\tcn=o1', 'o2', 'h2\tu\tcn=o2']);
      writes.addHeld('cfg-1', 'user', 2);
      expect(await session.commitChunk(writes, 2)).toEqual([]);
    } finally {
      session.close();
    }
    expect(await redis.hgetall(keys.index('cfg-1'))).toEqual({ o1: 'h1\tu\tcn=o1', o2: 'h2\tu\tcn=o2' });
    expect(await redis.hget(keys.cycle('c-1'), 'applied')).toBe('2');
  });

  it('writes nothing of a chunk when the record changed under the watch', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'applying', 'applied', '0', 'planSize', '1');
    const session = apply.session('c-1');
    try {
      await session.progress();
      await redis.hset(keys.cycle('c-1'), 'phase', 'discarded'); // restarted meanwhile
      const writes = apply.chunkWrites();
      writes.setInIndex('cfg-1', ['o1', 'h1\tu\tcn=o1']);
      expect(await session.commitChunk(writes, 1)).toBeNull();
    } finally {
      session.close();
    }
    expect(await redis.exists(keys.index('cfg-1'))).toBe(0);
    expect(await redis.hget(keys.cycle('c-1'), 'applied')).toBe('0');
  });

  it('reports the writes of a chunk that failed (Redis ran the others)', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'applying', 'applied', '0', 'planSize', '1');
    await redis.set(keys.index('cfg-1'), 'not a hash');
    const session = apply.session('c-1');
    try {
      await session.progress();
      const writes = apply.chunkWrites();
      writes.setInIndex('cfg-1', ['o1', 'h1\tu\tcn=o1']);
      const failed = await session.commitChunk(writes, 1);
      expect(failed).toHaveLength(1);
      expect(failed![0]).toMatch(/WRONGTYPE/);
    } finally {
      session.close();
    }
  });

  it('refuses chunk writes it did not make', async () => {
    const session = apply.session('c-1');
    try {
      await expect(session.commitChunk({ unit: {} } as never, 1)).rejects.toThrow('not chunk writes of this store');
    } finally {
      session.close();
    }
  });

  it('finalizes only an applying cycle, recording its deletes for the window', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'applying', 'configurationId', 'cfg-1');
    await redis.hset(keys.state('cfg-1'), 'currentCycleId', 'c-1', 'state', 'healthy');
    await redis.hset(keys.retry('cfg-1'), 'moot-1', '{}', 'kept-1', '{}');
    await redis.zadd(keys.appliedDeletes('cfg-1'), 10, 'old:4');
    const input = {
      configurationId: 'cfg-1',
      cycleId: 'c-1',
      completedAt: '2026-12-01T00:00:00.000Z',
      committedScope: '{}',
      mootRetries: ['moot-1'],
      deletesApplied: 3,
      nowMs: 5000,
      keepSinceMs: 100,
      laneOpen: false,
      release: false,
    };
    expect(await apply.finalize(input)).toBe(true);
    expect(await redis.hget(keys.cycle('c-1'), 'phase')).toBe('applied');
    expect(await redis.hget(keys.state('cfg-1'), 'committedCycleId')).toBe('c-1');
    expect(await redis.hexists(keys.state('cfg-1'), 'currentCycleId')).toBe(0);
    expect(await redis.hkeys(keys.retry('cfg-1'))).toEqual(['kept-1']);
    expect(await redis.zrange(keys.appliedDeletes('cfg-1'), 0, -1)).toEqual(['c-1:3']);
    // Once applied, it is not finalized again.
    expect(await apply.finalize(input)).toBe(false);
  });
});

describe('WatchConnections (shared by evaluation and apply)', () => {
  let pool: WatchConnections;
  let pooledEvaluation: EvaluationStore;
  let pooledApply: ApplyStore;

  beforeEach(() => {
    const plog = new ProvisioningLog(redis, keys);
    pool = new WatchConnections(redis);
    pooledEvaluation = new EvaluationStore(redis, keys, plog, pool);
    pooledApply = new ApplyStore(redis, keys, plog, pool);
  });

  afterEach(() => pool.close());

  it("reuses one connection from cycle to cycle, without the previous holder's WATCH", async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'complete', 'configurationId', 'cfg-1');
    await redis.hset(keys.cycle('c-2'), 'phase', 'applying', 'applied', '0', 'planSize', '1');
    // An evaluation that returns without committing leaves its WATCH of c-1 behind...
    const watch = await pooledEvaluation.watch('c-1');
    expect(await watch.phase()).toBe('complete');
    watch.close();
    watch.close(); // idempotent: released once
    expect(pool.idleCount).toBe(1);
    // ...and c-1 changes: a WATCH still held would make the next transaction on the connection fail.
    await redis.hset(keys.cycle('c-1'), 'phase', 'failed');
    const session = pooledApply.session('c-2');
    try {
      await session.progress();
      const writes = pooledApply.chunkWrites();
      writes.setInIndex('cfg-2', ['o1', 'h1\tu\tcn=o1']);
      expect(await session.commitChunk(writes, 1)).toEqual([]);
    } finally {
      session.close();
    }
    expect(await redis.hget(keys.cycle('c-2'), 'applied')).toBe('1');
    expect(pool.opened).toBe(1);
  });

  it('still sees a change under its own WATCH on a reused connection', async () => {
    await redis.hset(keys.cycle('c-1'), 'phase', 'applying', 'applied', '0', 'planSize', '1');
    const first = pooledApply.session('c-0');
    await first.progress();
    first.close(); // the connection goes idle once
    const session = pooledApply.session('c-1');
    try {
      await session.progress();
      await redis.hset(keys.cycle('c-1'), 'phase', 'discarded');
      const writes = pooledApply.chunkWrites();
      writes.setInIndex('cfg-1', ['o1', 'h1\tu\tcn=o1']);
      expect(await session.commitChunk(writes, 1)).toBeNull();
    } finally {
      session.close();
    }
    expect(await redis.exists(keys.index('cfg-1'))).toBe(0);
    expect(pool.opened).toBe(1);
  });

  it('does not hand out a connection that was closed, and closes its idle ones', async () => {
    const conn = pool.acquire();
    await conn.ping();
    const ended = new Promise((resolve) => conn.once('end', resolve));
    conn.disconnect();
    await ended;
    pool.release(conn);
    expect(pool.idleCount).toBe(0);
    const watch = await pooledEvaluation.watch('c-1');
    expect(await watch.phase()).toBeNull();
    watch.close();
    expect(pool.opened).toBe(2);
    const idle = pool.acquire();
    pool.release(idle);
    pool.close();
    expect(pool.idleCount).toBe(0);
    await expect(idle.ping()).rejects.toThrow();
    expect(() => pool.acquire()).toThrow('closed');
  });
});

describe('WatchConnections on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let main: Cluster;
  let pool: WatchConnections;

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 0 });
    main = new Cluster(
      cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      {
        redisOptions: { maxRetriesPerRequest: 1 },
      },
    );
    pool = new WatchConnections(main as unknown as Redis);
  }, 60_000);

  afterAll(async () => {
    pool?.close();
    await main?.quit();
    await cluster?.dispose();
  });

  it('does not keep a Cluster client (its UNWATCH would go to any one node)', async () => {
    const first = pool.acquire();
    await first.watch('{a}watched');
    pool.release(first);
    expect(pool.idleCount).toBe(0);
    await main.set('{a}watched', 'changed');
    const second = pool.acquire();
    expect(second).not.toBe(first);
    expect(await second.multi().set('{a}watched', 'mine').exec()).not.toBeNull();
    pool.release(second);
    expect(pool.opened).toBe(2);
  });
});
