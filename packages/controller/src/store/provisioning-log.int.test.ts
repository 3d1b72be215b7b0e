import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Redis, type ChainableCommander } from 'ioredis';
import type { ProvisioningLogEntry } from '../model';
import { Keys } from './keys';
import { isLogCursor, ProvisioningLog, type NewLogEntry } from './provisioning-log';

jest.setTimeout(60_000);

let redis: RedisServer;
let client: Redis;
const keys = new Keys('plogtest');
let log: ProvisioningLog;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  log = new ProvisioningLog(client, keys);
});

afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

function entry(n: number, extra: Partial<NewLogEntry> = {}): NewLogEntry {
  return {
    cycleId: n < 1500 ? 'c1' : 'c2',
    action: n % 3 === 0 ? 'Update' : 'Create',
    status: 'success',
    objectType: 'user',
    objectId: `u${n}`,
    dn: `uid=user${n},ou=People,dc=example,dc=com`,
    details: null,
    ...extra,
  };
}

/** A log entry of its own (field `d`), as earlier versions wrote every entry. */
function single(tx: ChainableCommander, cfg: string, e: NewLogEntry, at: string): void {
  tx.xadd(keys.plog(cfg), '*', 'd', JSON.stringify({ ...e, at }));
}

async function all(cfg: string, query: Parameters<ProvisioningLog['list']>[1]): Promise<ProvisioningLogEntry[]> {
  const out: ProvisioningLogEntry[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await log.list(cfg, { ...query, cursor });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    expect(isLogCursor(page.nextCursor)).toBe(true);
    cursor = page.nextCursor;
  }
}

describe('provisioning log', () => {
  it('pages newest first through bundles and single entries, with filters, losing and repeating nothing', async () => {
    const cfg = 'a';
    // 2,500 entries in bundles (1,000 + 1,000 + 500), then 3 single entries (as earlier versions wrote them).
    const tx = client.multi();
    log.addMany(
      tx,
      cfg,
      Array.from({ length: 2500 }, (_, n) => entry(n)),
      '2026-11-25T00:00:00.000Z',
    );
    for (let n = 2500; n < 2503; n++)
      single(tx, cfg, entry(n, { action: 'StagedDelete', status: 'staged' }), '2026-11-25T00:00:01.000Z');
    await tx.exec();
    expect(await client.xlen(keys.plog(cfg))).toBe(6);

    for (const limit of [7, 50, 999, 1000]) {
      const got = await all(cfg, { limit });
      expect(got.map((e) => e.objectId)).toEqual(Array.from({ length: 2503 }, (_, i) => `u${2502 - i}`));
      expect(new Set(got.map((e) => e.id)).size).toBe(2503);
    }
    const first = (await log.list(cfg, { limit: 1 })).items[0]!;
    expect(first).toMatchObject({ action: 'StagedDelete', status: 'staged', at: '2026-11-25T00:00:01.000Z', details: null });
    const updates = await all(cfg, { action: 'Update', cycleId: 'c2', limit: 33 });
    expect(updates.map((e) => e.objectId)).toEqual(
      Array.from({ length: 2500 }, (_, n) => n)
        .filter((n) => n >= 1500 && n % 3 === 0)
        .reverse()
        .map((n) => `u${n}`),
    );
    const byDn = await all(cfg, { dn: 'USER12', limit: 5 });
    expect(byDn.map((e) => e.objectId)).toEqual(
      Array.from({ length: 2503 }, (_, n) => 2502 - n)
        .filter((n) => `user${n}`.includes('user12'))
        .map((n) => `u${n}`),
    );
  });

  it('trims entries older than the retention as new ones are written', async () => {
    const short = new ProvisioningLog(client, keys, 50);
    const cfg = 'retention';
    const tx = client.multi();
    for (let n = 0; n < 250; n++) single(tx, cfg, entry(n), '2026-11-25T00:00:00.000Z');
    short.addMany(
      tx,
      cfg,
      Array.from({ length: 10 }, (_, n) => entry(1000 + n)),
      '2026-11-25T00:00:00.000Z',
    );
    await tx.exec();
    expect(await client.xlen(keys.plog(cfg))).toBe(251);
    await new Promise((r) => setTimeout(r, 120));
    const later = client.multi();
    short.addMany(later, cfg, [entry(2000)], '2026-11-25T00:00:01.000Z');
    await later.exec();
    // Whole stream nodes go (approximate trimming): the old single entries, in nodes of 100, and the old bundle.
    expect(await client.xlen(keys.plog(cfg))).toBeLessThanOrEqual(51);
    expect((await log.list(cfg, { limit: 1 })).items[0]).toMatchObject({ objectId: 'u2000', at: '2026-11-25T00:00:01.000Z' });
  });

  it('knows its cursors', () => {
    expect(isLogCursor('1732500000000-0')).toBe(true);
    expect(isLogCursor('1732500000000-3.999')).toBe(true);
    expect(isLogCursor('1732500000000-3.')).toBe(false);
    expect(isLogCursor('abc')).toBe(false);
    expect(isLogCursor('1-2.3.4')).toBe(false);
  });
});
