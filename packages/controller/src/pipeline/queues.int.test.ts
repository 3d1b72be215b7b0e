/**
 * The schedule of the pipeline's queues against a real Redis: each configuration's cycles
 * start at its own offset in the interval, so configurations created together do not start
 * their cycles together.
 */
import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Redis } from 'ioredis';
import pino from 'pino';
import { compileControllerOptions } from '../controller-options';
import type { StoredConfiguration } from '../model';
import { Keys } from '../store/keys';
import { PipelineQueues, scheduleOffsetMs } from './queues';

describe('scheduleOffsetMs', () => {
  it('is the same for an id every time, within the interval', () => {
    const id = '0a1b2c3d-0000-4000-8000-000000000001';
    expect(scheduleOffsetMs(id, 120_000)).toBe(scheduleOffsetMs(id, 120_000));
    for (const every of [1000, 60_000, 120_000, 86_400_000]) {
      const offset = scheduleOffsetMs(id, every);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(every);
    }
  });

  it('spreads 1,000 configurations over a 2-minute interval', () => {
    // Ten-second buckets: about 83 each if spread evenly, 1,000 in one if not spread at all.
    const buckets = new Array<number>(12).fill(0);
    for (let i = 0; i < 1000; i++) {
      const id = `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
      buckets[Math.floor(scheduleOffsetMs(id, 120_000) / 10_000)]!++;
    }
    expect(Math.min(...buckets)).toBeGreaterThan(50);
    expect(Math.max(...buckets)).toBeLessThan(120);
  });
});

describe('PipelineQueues.schedule', () => {
  let server: RedisServer;
  let redis: Redis;
  let queues: PipelineQueues;

  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    const options = compileControllerOptions({ adminToken: 'a-long-enough-admin-token-0123456789' });
    queues = new PipelineQueues({ producer: redis, worker: redis }, new Keys('sgq'), options, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await queues?.close();
    redis?.disconnect();
    await server?.dispose();
  });

  const cfg = (id: string, syncIntervalSeconds: number) => ({ id, syncIntervalSeconds }) as StoredConfiguration;

  it("starts each configuration's cycles at its own offset in the interval", async () => {
    const ids = ['11111111-0000-4000-8000-000000000001', '22222222-0000-4000-8000-000000000002'];
    for (const id of ids) await queues.schedule(cfg(id, 120));
    const next = await Promise.all(ids.map(async (id) => (await queues.scheduleQueue.getJobScheduler(`cfg-${id}`))?.next));
    for (const [i, id] of ids.entries()) {
      expect(next[i]).toBeDefined();
      expect(next[i]! % 120_000).toBe(scheduleOffsetMs(id, 120_000));
    }
    // Made at the same moment, they still start apart.
    expect(next[0]! % 120_000).not.toBe(next[1]! % 120_000);
  });

  it('moves to the new offset when the interval changes', async () => {
    const id = '33333333-0000-4000-8000-000000000003';
    await queues.schedule(cfg(id, 120));
    await queues.schedule(cfg(id, 300));
    const scheduler = await queues.scheduleQueue.getJobScheduler(`cfg-${id}`);
    expect(scheduler?.every).toBe(300_000);
    expect(scheduler!.next! % 300_000).toBe(scheduleOffsetMs(id, 300_000));
  });
});
