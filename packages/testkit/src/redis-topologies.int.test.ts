import { redisCli, startRedisCluster, startRedisSentinels, type RedisCluster, type RedisSentinelSet } from './index';

jest.setTimeout(90_000);

describe('Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(() => cluster?.dispose());

  it('runs 3 masters with a replica each, every slot served', async () => {
    const view = await cluster.view();
    expect(view.filter((v) => v.role === 'master')).toHaveLength(3);
    expect(view.filter((v) => v.role === 'replica')).toHaveLength(3);
    expect(cluster.seeds.split(',')).toHaveLength(6);
    const info = await cluster.nodes[0]!.cli('CLUSTER', 'INFO');
    expect(info).toContain('cluster_slots_assigned:16384');
  });

  it('promotes the replica of a killed master, which still holds what was replicated', async () => {
    const master = (await cluster.masters())[0]!;
    // A key of the master's slots, written and replicated (WAIT) before the kill.
    let key = '';
    for (let i = 0; !key; i++) {
      const candidate = `k${i}`;
      const moved = await master.cli('SET', candidate, 'v1');
      if (moved.trim() === 'OK') key = candidate;
    }
    expect((await master.cli('WAIT', '1', '5000')).trim()).toBe('1');
    const killed = await cluster.killMaster({ key });
    expect(killed.port).toBe(master.port);
    expect(await cluster.masters()).toHaveLength(3);
    expect(await cluster.masters()).not.toContain(killed);
    const reads = await Promise.all((await cluster.masters()).map((m) => redisCli(m.port, '-c', 'GET', key)));
    expect(reads.map((r) => r.trim())).toEqual(['v1', 'v1', 'v1']);
  });
});

describe('Redis Sentinel', () => {
  let set: RedisSentinelSet;
  beforeAll(async () => {
    set = await startRedisSentinels({ name: 'sg' });
  });
  afterAll(() => set?.dispose());

  it('announces the master, and promotes the replica when the master is killed', async () => {
    expect(set.sentinelAddresses.split(',')).toHaveLength(3);
    const master = await set.master();
    expect(master).toBe(set.servers[0]);
    await master.cli('SET', 'k', 'before');
    expect((await master.cli('WAIT', '1', '5000')).trim()).toBe('1');
    const killed = await set.failover();
    expect(killed).toBe(master);
    const promoted = await set.master();
    expect(promoted).toBe(set.servers[1]);
    expect((await promoted.cli('GET', 'k')).trim()).toBe('before');
    // The old master comes back as a replica of the new one.
    await killed.start();
    await new Promise((r) => setTimeout(r, 100));
    const role = async () => (await killed.cli('ROLE')).split('\n')[0];
    for (let i = 0; i < 200 && (await role()) !== 'slave'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await role()).toBe('slave');
  });
});
