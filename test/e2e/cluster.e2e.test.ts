/**
 * Issue 20: the controller on a Redis Cluster (3 masters with a replica each), with the
 * real agent and controller programs and slapd. The subset of the guard suite that CI
 * always runs on a cluster (the whole suite runs there with SYNCGUARD_E2E_REDIS=cluster),
 * and a master killed mid-apply with its replica promoted: the cycle converges exactly (or
 * fails cleanly and the next converges) and a quarantine survives.
 */
import { userDns, usersLdif, waitFor, type RedisServer } from '@syncguard/testkit';
import { ApiError, startSystem, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';

describe('on a Redis Cluster', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({
      redisTopology: 'cluster',
      controllerConfig: {
        maxBatchChanges: 25,
        applyChunkSize: 25,
        applyStepDelayMs: 100,
        // A cycle whose staged batches a failover lost is given up after this long without frames.
        cycleTimeoutMs: 5000,
        mailBackoffMs: 300,
      },
    });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  async function scenario(name: string, users: number, threshold: number) {
    const ou = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${ou}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(ou, users, { prefix: `${name}-` }),
    );
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold },
      notificationEmail: `${name}@example.com`,
    });
    return { id, ou, dns: userDns(ou, users, { prefix: `${name}-` }) };
  }

  /** The master that holds a configuration's keys (they share the tag of its id's first 8 digits). */
  async function masterOf(id: string): Promise<RedisServer> {
    const any = system.cluster.nodes.find((n) => n.running)!;
    const slot = Number((await any.cli('CLUSTER', 'KEYSLOT', `{${id.slice(0, 8)}}`)).trim());
    const view = await system.cluster.view();
    const owner = view.find(
      (v) =>
        v.role === 'master' &&
        !v.failed &&
        v.slots.some((r) => {
          const [a, b] = r.split('-').map(Number);
          return slot >= a! && slot <= (b ?? a!);
        }),
    );
    return system.cluster.nodes.find((n) => n.port === owner?.port)!;
  }

  const dnsOf = async (id: string) => (await system.objects(id)).map((o) => o.dn).sort();

  it('guards, quarantines, mails, releases and restarts with configurations spread over the masters', async () => {
    const all = await Promise.all(['c-one', 'c-two', 'c-three', 'c-four', 'c-five'].map((n) => scenario(n, 30, 10)));
    for (const s of all) await system.firstCycle(s.id);
    // Configurations live on several masters (five random tags over three masters: all on
    // one would be a 1-in-81 chance; more configurations are made until they spread).
    const masters = new Set(await Promise.all(all.map(async (s) => (await masterOf(s.id)).port)));
    while (masters.size < 2) {
      const extra = await scenario(`c-extra-${masters.size}-${all.length}`, 5, 10);
      await system.firstCycle(extra.id);
      all.push(extra);
      masters.add((await masterOf(extra.id)).port);
    }
    for (const s of all.slice(0, 5)) expect(await system.objects(s.id)).toHaveLength(30);

    const [held, restarted, applied] = all as [(typeof all)[0], (typeof all)[0], (typeof all)[0]];
    await system.slapd.delete(held.dns.slice(0, 12));
    const q = await system.syncNow(held.id, 'quarantined');
    expect(q.quarantine).toMatchObject({ reason: 'TooManyDeletes', deleteCount: 12, threshold: 10 });
    expect(await system.logs(held.id, { action: 'StagedDelete' })).toHaveLength(12);
    await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes('c-one@example.com') });
    await expect(system.api.post(`/api/v1/configurations/${held.id}/cycles`)).rejects.toMatchObject({ status: 409 });
    const allowed = await system.api.post<{ state: string; deleted: number }>(`/api/v1/configurations/${held.id}/allow-deletes`);
    expect(allowed).toMatchObject({ state: 'applied', deleted: 12 });
    expect(await dnsOf(held.id)).toEqual(held.dns.slice(12).sort());

    // Restart without fixing the source: the cycle is discarded, nothing applied, and the next
    // one is quarantined again, with a new cycle.
    await system.slapd.delete(restarted.dns.slice(0, 15));
    const q2 = await system.syncNow(restarted.id, 'quarantined');
    await system.api.post(`/api/v1/configurations/${restarted.id}/restart`);
    const again = await system.waitForCycle(restarted.id, 'quarantined', { after: q2.lastCycle!.id });
    expect(again.quarantine).toMatchObject({ deleteCount: 15 });
    expect(again.quarantine!.cycleId).not.toBe(q2.quarantine!.cycleId);
    expect(await system.objects(restarted.id)).toHaveLength(30);

    // Under the threshold: applied at once.
    await system.slapd.delete(applied.dns.slice(0, 9));
    expect((await system.syncNow(applied.id)).lastCycle?.counts).toMatchObject({ delete: 9 });

    // The audit log and the configuration list span the cluster.
    const audit = await system.api.get<{ items: { action: string }[] }>('/api/v1/audit?limit=200');
    expect(audit.items.filter((a) => a.action === 'allow-deletes')).toHaveLength(1);
    const list = await system.api.get<{ items: { id: string }[] }>('/api/v1/configurations?limit=200');
    expect(list.items.map((c) => c.id)).toEqual(expect.arrayContaining(all.map((s) => s.id)));
  });

  it('follows a promoted replica when the master of a configuration is killed mid-apply', async () => {
    const held = await scenario('f-held', 20, 5);
    await system.firstCycle(held.id);
    await system.slapd.delete(held.dns.slice(0, 6));
    const q = await system.syncNow(held.id, 'quarantined');

    const big = await scenario('f-big', 300, 500);
    const first = await waitFor(async () => (await system.status(big.id)).lastCycle, {
      timeoutMs: 10_000,
      message: 'a first cycle',
    });
    await waitFor(async () => (await system.objects(big.id)).length >= 50, {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: 'the apply under way',
    });
    // What the quarantine wrote is on the replicas before the kill (WAIT on its master).
    expect((await (await masterOf(held.id)).cli('WAIT', '1', '5000')).trim()).toBe('1');
    const victim = await masterOf(big.id);
    const killed = await system.cluster.killMaster({ key: `{${big.id.slice(0, 8)}}` });
    expect(killed.port).toBe(victim.port);
    expect((await system.objects(big.id)).length).toBeGreaterThan(0);

    const ended = await waitFor(
      async () => {
        try {
          const page = await system.api.get<{ items: { id: string; state: string }[] }>(
            `/api/v1/configurations/${big.id}/cycles?limit=50`,
          );
          const mine = page.items.find((c) => c.id === first.id);
          if (!mine) return 'lost';
          return mine.state === 'running' ? undefined : mine.state;
        } catch (error) {
          if (error instanceof ApiError && error.status === 503) return undefined;
          throw error;
        }
      },
      { timeoutMs: 90_000, intervalMs: 200, message: 'the cycle to end' },
    );
    expect(['applied', 'failed', 'lost']).toContain(ended);
    if (ended !== 'applied') {
      await waitFor(
        async () => {
          try {
            await system.syncNow(big.id);
            return true;
          } catch (error) {
            if (error instanceof ApiError && (error.code === 'SG_ERR_CYCLE_RUNNING' || error.status === 503)) return false;
            throw error;
          }
        },
        { timeoutMs: 60_000, intervalMs: 500, message: 'a cycle that converges' },
      );
    }
    expect(await dnsOf(big.id)).toEqual([...big.dns].sort());
    expect((await system.syncNow(big.id)).lastCycle?.counts).toMatchObject({ create: 0, update: 0, delete: 0 });

    const status = await system.status(held.id);
    expect(status.state).toBe('quarantined');
    expect(status.quarantine).toMatchObject({ cycleId: q.quarantine!.cycleId, deleteCount: 6 });
    const allowed = await system.api.post<{ state: string; deleted: number }>(`/api/v1/configurations/${held.id}/allow-deletes`);
    expect(allowed).toMatchObject({ state: 'applied', deleted: 6 });
    expect(await dnsOf(held.id)).toEqual(held.dns.slice(6).sort());
  });
});
