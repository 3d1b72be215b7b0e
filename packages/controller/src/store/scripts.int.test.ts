import { startRedis, type RedisServer } from '@syncguard/testkit';
import Redis from 'ioredis';
import { COUNT_IN_WINDOW, Scripts, callScript } from './scripts';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.dispose();
});

async function calls(command: string): Promise<number> {
  const info = await redis.info('commandstats');
  const line = info.split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

describe('Lua scripts', () => {
  it('are called by SHA, loaded once, and loaded again after the server lost them', async () => {
    await redis.config('RESETSTAT');
    const scripts = new Scripts(redis);
    expect(await scripts.setIfFree('k', 'a', '')).toBe(true);
    expect(await scripts.setIfFree('k', 'b', '')).toBe(false);
    expect((await redis.script('EXISTS', COUNT_IN_WINDOW.sha)) as number[]).toEqual([0]);
    expect(await callScript(redis, COUNT_IN_WINDOW, ['n'], [60_000])).toBe(1);
    expect(await callScript(redis, COUNT_IN_WINDOW, ['n'], [60_000])).toBe(2);
    // A restarted or failed-over Redis has an empty script cache.
    await redis.script('FLUSH');
    expect(await scripts.deleteIfEqual('k', 'a')).toBe(true);
    expect(await callScript(redis, COUNT_IN_WINDOW, ['n'], [60_000])).toBe(3);
    expect(await calls('eval')).toBe(0);
    expect(await calls('evalsha')).toBeGreaterThanOrEqual(7);
    // Each script's text went to the server only when it did not hold it.
    expect(await calls('script|load')).toBe(4);
  });

  it('report a script error as an error, not as a missing script', async () => {
    await redis.set('a-string', 'x');
    await expect(callScript(redis, COUNT_IN_WINDOW, ['a-string'], [1000])).rejects.toThrow(/not an integer/);
  });
});
