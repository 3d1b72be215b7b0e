/**
 * The configuration store's per-agent indexes against a real Redis: an agent's configurations
 * are read through its index (not the whole list), and stay true through creates, changes of
 * `agentIds`, removals, entries left by a crash, and configurations stored before the index.
 */
import { startRedis, type RedisServer } from '@syncguard/testkit';
import { Redis } from 'ioredis';
import type { StoredConfiguration } from '../model';
import { AuditLog } from './audit-log';
import { ConfigurationStore } from './configuration-store';
import { Keys } from './keys';

let server: RedisServer;
let redis: Redis;
const keys = new Keys('sgcs');
let store: ConfigurationStore;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  store = new ConfigurationStore(redis, keys, new AuditLog(redis, keys));
});

beforeEach(async () => {
  await redis.flushall();
});

afterAll(async () => {
  redis?.disconnect();
  await server?.dispose();
});

let n = 0;
function configuration(agentIds: string[], id = `0000000${++n}-cfg`): StoredConfiguration {
  const at = new Date(Date.UTC(2026, 11, 1, 0, 0, n)).toISOString();
  return {
    id,
    name: `c${n}`,
    agentIds,
    source: { baseDn: 'ou=people,dc=example,dc=com', filter: '', objectTypes: ['user'] },
    syncIntervalSeconds: 120,
    accidentalDeletes: { enabled: true, threshold: 500 },
    notificationEmail: null,
    createdAt: at,
    updatedAt: at,
  } as unknown as StoredConfiguration;
}

const entry = {
  actor: { tokenId: 't', name: 'admin' },
  action: 'configuration.create',
  target: { type: 'configuration', id: 'x' },
  details: {},
};
const idsFor = async (agentId: string) => (await store.forAgent(agentId)).map((c) => c.id);

describe('ConfigurationStore.forAgent', () => {
  it('answers the configurations that name the agent, oldest first, and follows changes of agentIds', async () => {
    const a = configuration(['agent-1']);
    const b = configuration(['agent-1', 'agent-2']);
    const c = configuration(['agent-2']);
    for (const cfg of [a, b, c]) await store.create(cfg, entry);
    expect(await idsFor('agent-1')).toEqual([a.id, b.id]);
    expect(await idsFor('agent-2')).toEqual([b.id, c.id]);
    expect(await idsFor('agent-3')).toEqual([]);

    // agent-1 leaves b, agent-3 joins it.
    await store.update({ ...b, agentIds: ['agent-2', 'agent-3'] }, entry);
    expect(await idsFor('agent-1')).toEqual([a.id]);
    expect(await idsFor('agent-3')).toEqual([b.id]);
    expect(await redis.smembers(keys.agentConfigs('agent-1'))).toEqual([a.id]);

    // save() (an agent deleted from every configuration) keeps the index too.
    await store.save({ ...a, agentIds: [] });
    expect(await idsFor('agent-1')).toEqual([]);
    expect(await redis.exists(keys.agentConfigs('agent-1'))).toBe(0);

    await store.remove(b.id, entry);
    expect(await idsFor('agent-2')).toEqual([c.id]);
    expect(await idsFor('agent-3')).toEqual([]);
  });

  it('skips index entries that are no longer true (a crash between the steps of a change)', async () => {
    const a = configuration(['agent-1']);
    await store.create(a, entry);
    // Left by a crash: an id of a configuration that no longer names the agent, and of one that is gone.
    const other = configuration(['agent-2']);
    await store.create(other, entry);
    await redis.sadd(keys.agentConfigs('agent-1'), other.id, 'ffffffff-gone');
    expect(await idsFor('agent-1')).toEqual([a.id]);
  });

  it('finds configurations stored before the index once indexAgents has run', async () => {
    // As a version without the index wrote it: the record and the list only.
    const old = configuration(['agent-1']);
    await redis.set(keys.config(old.id), JSON.stringify(old));
    await redis.zadd(keys.configs, Date.parse(old.createdAt), old.id);
    const fresh = configuration(['agent-1']);
    await store.create(fresh, entry);
    expect(await idsFor('agent-1')).toEqual([fresh.id]);
    await store.indexAgents(await store.list());
    expect(await idsFor('agent-1')).toEqual([old.id, fresh.id]);
  });
});
