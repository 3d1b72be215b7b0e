/**
 * Issue 20: the controller on Redis Sentinel (a master, a replica, three sentinels), with
 * the real agent and controller programs and slapd. The master is killed (SIGKILL) while a
 * cycle applies: the controller follows the promoted replica by itself, the cycle either
 * converges exactly or fails cleanly and the next one converges, and a quarantine made
 * before the failover survives it and is released afterwards.
 */
import { sleep, userDns, usersLdif, waitFor } from '@syncguard/testkit';
import { ApiError, startSystem, type StatusView, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';

describe('Redis Sentinel failover', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({
      redisTopology: 'sentinel',
      controllerConfig: {
        // Small batches and slow apply chunks: the kill lands in the middle of the work.
        maxBatchChanges: 25,
        applyChunkSize: 25,
        applyStepDelayMs: 100,
        // A cycle whose staged batches a failover lost (asynchronous replication) is given
        // up after this long without frames, and the next one starts.
        cycleTimeoutMs: 5000,
      },
    });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  async function ou(name: string, users: number): Promise<{ ou: string; dns: string[] }> {
    const dn = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(dn, users, { prefix: `${name}-` }),
    );
    return { ou: dn, dns: userDns(dn, users, { prefix: `${name}-` }) };
  }

  /** Starts a cycle, retrying while one runs (a cycle the failover stalled is failed after cycleTimeoutMs). */
  async function startCycle(id: string): Promise<string> {
    return waitFor(
      async () => {
        try {
          return (await system.api.post<{ cycleId: string }>(`/api/v1/configurations/${id}/cycles`)).cycleId;
        } catch (error) {
          if (error instanceof ApiError && (error.code === 'SG_ERR_CYCLE_RUNNING' || error.status === 503)) return undefined;
          throw error;
        }
      },
      { timeoutMs: 60_000, intervalMs: 250, message: `a new cycle of ${id}` },
    );
  }

  /** The cycle's end state, whatever it is (applied or failed), read through any 503 of the failover. */
  async function outcome(id: string, cycleId: string): Promise<string> {
    return waitFor(
      async () => {
        try {
          const cycles = await system.api.get<{ items: { id: string; state: string }[] }>(
            `/api/v1/configurations/${id}/cycles?limit=50`,
          );
          const mine = cycles.items.find((c) => c.id === cycleId);
          // A cycle whose record a failover lost is gone: report it as such.
          if (!mine) return 'lost';
          return mine.state === 'running' ? undefined : mine.state;
        } catch (error) {
          if (error instanceof ApiError && error.status === 503) return undefined;
          throw error;
        }
      },
      { timeoutMs: 90_000, intervalMs: 200, message: `cycle ${cycleId} to end` },
    );
  }

  async function dnsOf(id: string): Promise<string[]> {
    return (await system.objects(id)).map((o) => o.dn).sort();
  }

  it('follows the promoted replica mid-apply, converges exactly, and keeps a quarantine', async () => {
    // A quarantine, replicated before the failover (WAIT): it must survive it.
    const q = await ou('held', 30);
    const { id: qid } = await system.createConfiguration({
      name: 'held.example.com',
      agentIds: [agentId],
      source: { baseDn: q.ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold: 10 },
    });
    await system.firstCycle(qid);
    await system.slapd.delete(q.dns.slice(0, 12));
    const quarantined = await system.syncNow(qid, 'quarantined');
    expect(quarantined.quarantine).toMatchObject({ reason: 'TooManyDeletes', deleteCount: 12 });
    const master = await system.sentinels.master();
    expect((await master.cli('WAIT', '1', '5000')).trim()).toBe('1');

    // A big first cycle: 400 creates in 25-object chunks, 100 ms apart. Kill the master while it applies.
    const big = await ou('big', 400);
    const { id } = await system.createConfiguration({
      name: 'big.example.com',
      agentIds: [agentId],
      source: { baseDn: big.ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold: 500 },
    });
    const first = await waitFor(async () => (await system.status(id)).lastCycle, {
      timeoutMs: 10_000,
      message: 'a first cycle',
    }).catch(async () => ({ id: await startCycle(id) }));
    await waitFor(async () => (await system.objects(id)).length >= 50, {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: 'the apply under way',
    });
    expect((await system.objects(id)).length).toBeLessThan(400);
    const killed = await system.sentinels.failover();
    expect(killed).toBe(master);

    // The cycle ends on the new master: applied, or failed (then the next one converges).
    const ended = await outcome(id, first.id);
    expect(['applied', 'failed', 'lost']).toContain(ended);
    if (ended !== 'applied') {
      const retry = await startCycle(id);
      expect(await outcome(id, retry)).toBe('applied');
    }
    expect(await dnsOf(id)).toEqual([...big.dns].sort());
    const status: StatusView = await system.status(id);
    expect(status.state).toBe('healthy');

    // Nothing is applied twice: a quiet cycle finds nothing to do, a change is applied once.
    expect((await system.syncNow(id)).lastCycle?.counts).toMatchObject({ create: 0, update: 0, delete: 0 });
    await system.slapd.delete(big.dns.slice(0, 5));
    expect((await system.syncNow(id)).lastCycle?.counts).toMatchObject({ create: 0, update: 0, delete: 5 });
    expect(await dnsOf(id)).toEqual(big.dns.slice(5).sort());

    // The quarantine is still there, unchanged, and releases its deletes once.
    const held = await system.status(qid);
    expect(held.state).toBe('quarantined');
    expect(held.quarantine).toMatchObject({ cycleId: quarantined.quarantine!.cycleId, deleteCount: 12 });
    expect(await system.objects(qid)).toHaveLength(30);
    const allowed = await system.api.post<{ state: string; deleted: number }>(`/api/v1/configurations/${qid}/allow-deletes`);
    expect(allowed).toMatchObject({ state: 'applied', deleted: 12 });
    expect(await dnsOf(qid)).toEqual(q.dns.slice(12).sort());

    // The old master comes back as a replica; the controller stays on the new one.
    await killed.start();
    await sleep(500);
    expect((await system.syncNow(qid)).state).toBe('healthy');
    const health = await fetch(`${system.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
