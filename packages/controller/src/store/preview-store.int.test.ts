/**
 * The preview store against a real Redis: a preview moves out of `running` once, whatever
 * races it; batches count atomically; the sample keeps its first 20; everything it writes
 * expires, and its seen set goes when it ends.
 */
import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Redis } from 'ioredis';
import { Keys } from './keys';
import { PREVIEW_TTL_MS, PreviewStore } from './preview-store';

let server: RedisServer;
let redis: Redis;
const keys = new Keys('sgpv');
let store: PreviewStore;
const ID = 'abcdef01-0000-4000-8000-000000000001';
const none = { create: 0, update: 0, delete: 0, deleteUser: 0, deleteGroup: 0, protectedDeletes: 0 };

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  store = new PreviewStore(redis, keys);
});

beforeEach(async () => {
  await redis.flushall();
});

afterAll(async () => {
  redis?.disconnect();
  await server?.dispose();
});

const del = (n: number) => ({ objectId: `o-${n}`, objectType: 'user' as const, dn: `uid=u${n},dc=x`, cause: 'unknown' as const });

describe('PreviewStore', () => {
  it('reads nothing for an unknown preview, and a record with a TTL for a new one', async () => {
    expect(await store.read(ID)).toBeNull();
    expect(await store.setIfRunning(ID, { state: 'complete' })).toBe(false);
    await store.create(ID, { state: 'running', configurationId: 'abcdef01-cfg' });
    expect(await store.read(ID)).toMatchObject({ state: 'running', configurationId: 'abcdef01-cfg' });
    const ttl = await redis.pttl(keys.preview(ID));
    expect(ttl).toBeGreaterThan(PREVIEW_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(PREVIEW_TTL_MS);
    // Every key of the preview is in its configuration's slot.
    expect(keys.preview(ID)).toContain(Keys.configTag(ID));
    expect(keys.previewSeen(ID)).toContain(Keys.configTag(ID));
    expect(keys.previewSample(ID)).toContain(Keys.configTag(ID));
  });

  it('adds batches atomically: seen ids, counts, the acknowledged sequence; the sample stops at its size', async () => {
    await store.create(ID, { state: 'running' });
    await store.addBatch(
      ID,
      { sequence: 1, objectIds: ['a', 'b'], objects: 2, increments: { ...none, create: 1, update: 1 }, sample: [] },
      3,
      1000,
    );
    await store.addBatch(
      ID,
      { sequence: 2, objectIds: ['c'], objects: 1, increments: { ...none, delete: 1, deleteUser: 1 }, sample: [del(1), del(2)] },
      3,
      2000,
    );
    await store.addSample(ID, [del(3), del(4), del(5)], 3);
    expect(await store.read(ID)).toMatchObject({
      acked: '2',
      objects: '3',
      create: '1',
      update: '1',
      delete: '1',
      lastFrameAt: '2000',
    });
    expect(await store.seen(ID, ['a', 'c', 'z'])).toEqual([true, true, false]);
    expect((await store.sample(ID)).map((d) => d.objectId)).toEqual(['o-1', 'o-2', 'o-3']);
    for (const key of [keys.previewSeen(ID), keys.previewSample(ID)]) expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('ends once: a failure after the completion (or the other way round) changes nothing, and the seen set goes', async () => {
    await store.create(ID, { state: 'running' });
    await store.markSeen(ID, ['a']);
    const results = await Promise.all([
      store.finish(ID, { state: 'complete', result: '{}' }),
      store.finish(ID, { state: 'failed', error: '{"code":"TIMEOUT","message":"late"}' }),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const rec = (await store.read(ID))!;
    expect(['complete', 'failed']).toContain(rec.state);
    expect(rec.state === 'complete' ? rec.error : rec.result).toBeUndefined();
    expect(await redis.exists(keys.previewSeen(ID))).toBe(0);
    expect(await store.setIfRunning(ID, { state: 'running' })).toBe(false);
  });
});
