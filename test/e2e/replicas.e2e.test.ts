/**
 * Issue 20: several controllers, one truth. The agent is connected to the first controller,
 * which runs no workers; the admin talks to another replica. Commands and their outcomes
 * travel between replicas through Redis: a cycle started on the second replica reaches the
 * agent, allow-deletes sent there is applied by a worker and its CycleCommitted reaches the
 * agent on the first. A replica killed mid-apply leaves the work to another, with every
 * object applied exactly once.
 */
import { userDns, usersLdif, waitFor } from '@syncguard/testkit';
import { ApiError, startSystem, type ControllerReplica, type LogEntryView, type StatusView, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';

describe('several controllers', () => {
  let system: TestSystem;
  let agentId: string;
  let b: ControllerReplica;

  beforeAll(async () => {
    system = await startSystem({
      // The first controller (the agents' one) only serves the API and the gateway.
      controllerEnv: { SYNCGUARD_WORKERS: 'false' },
      controllerConfig: { applyChunkSize: 20, applyStepDelayMs: 100, jobLockMs: 2000, stalledIntervalMs: 1000 },
    });
    agentId = await system.addAgent('dc1');
    // Info logs: the test reads which replica evaluated a cycle (its job's holder).
    b = await system.addController({ SYNCGUARD_WORKERS: 'true', SYNCGUARD_LOG_LEVEL: 'info' });
  });
  afterAll(() => system?.dispose());

  async function ou(name: string, users: number) {
    const dn = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(dn, users, { prefix: `${name}-` }),
    );
    return { ou: dn, dns: userDns(dn, users, { prefix: `${name}-` }) };
  }

  const statusOn = (replica: ControllerReplica, id: string) => replica.api.get<StatusView>(`/api/v1/configurations/${id}/status`);

  /** Starts a cycle through `replica` and waits (there) for it to end in `state`. */
  async function syncOn(replica: ControllerReplica, id: string, state: string): Promise<StatusView> {
    // A cycle may be running already (the one a release starts): wait for it to end first.
    const cycleId = await waitFor(
      async () => {
        try {
          return (await replica.api.post<{ cycleId: string }>(`/api/v1/configurations/${id}/cycles`)).cycleId;
        } catch (error) {
          if (error instanceof ApiError && error.code === 'SG_ERR_CYCLE_RUNNING') return undefined;
          throw error;
        }
      },
      { timeoutMs: 60_000, intervalMs: 100, message: `a new cycle of ${id}` },
    );
    return waitFor(
      async () => {
        const s = await statusOn(replica, id);
        if (s.lastCycle?.id !== cycleId || s.lastCycle.state === 'running') return undefined;
        if (s.lastCycle.state !== state) throw new Error(`cycle ${cycleId} ended ${s.lastCycle.state}, expected ${state}`);
        return s;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: `cycle ${cycleId} to be ${state}` },
    );
  }

  it('routes a cycle, allow-deletes and its commit across replicas to the agent', async () => {
    const src = await ou('routed', 30);
    const { id } = await b.api.post<{ id: string }>('/api/v1/configurations', {
      name: 'routed.example.com',
      agentIds: [agentId],
      source: { baseDn: src.ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold: 10 },
    });
    // Both replicas see the agent connected (to the first one).
    expect((await b.api.get<{ status: string }>(`/api/v1/agents/${agentId}`)).status).toBe('connected');
    const first = await waitFor(
      async () => {
        const s = await statusOn(b, id);
        return s.lastCycle && s.lastCycle.state !== 'running' ? s : undefined;
      },
      { timeoutMs: 30_000, message: 'the first cycle' },
    ).catch(() => syncOn(b, id, 'applied'));
    expect(first.lastCycle).toMatchObject({ state: 'applied', counts: { create: 30 } });

    await system.slapd.delete(src.dns.slice(0, 12));
    const q = await syncOn(b, id, 'quarantined');
    expect(q.quarantine).toMatchObject({ deleteCount: 12 });
    // The first replica sees the same quarantine.
    expect((await system.status(id)).quarantine).toMatchObject({ cycleId: q.quarantine!.cycleId });

    const allowed = await b.api.post<{ state: string; deleted: number }>(`/api/v1/configurations/${id}/allow-deletes`);
    expect(allowed).toMatchObject({ state: 'applied', deleted: 12 });
    expect(await system.objects(id)).toHaveLength(18);
    // The agent got CycleCommitted (through the first replica): it advanced its cache, so the
    // next cycle is a DELTA from the released cycle and finds nothing to do.
    const next = await syncOn(b, id, 'applied');
    expect(next.lastCycle).toMatchObject({ mode: 'delta', counts: { create: 0, update: 0, delete: 0 } });
    expect(next.state).toBe('healthy');
  });

  it('a replica killed mid-apply leaves the work to another: every object applied once', async () => {
    const c = await system.addController({ SYNCGUARD_WORKERS: 'true', SYNCGUARD_LOG_LEVEL: 'info' });
    const src = await ou('handover', 300);
    const { id } = await b.api.post<{ id: string }>('/api/v1/configurations', {
      name: 'handover.example.com',
      agentIds: [agentId],
      source: { baseDn: src.ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold: 500 },
    });
    // 300 creates in chunks of 20, 100 ms apart, by whichever replica took the cycle's job.
    await waitFor(async () => (await system.objects(id)).length >= 40, {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: 'the apply under way',
    });
    const logged = (r: ControllerReplica, msg: string) =>
      r.process.log.split('\n').some((l) => l.includes(`"msg":"${msg}"`) && l.includes(id));
    const evaluatedBy = (r: ControllerReplica) => logged(r, 'cycle evaluated');
    const holder = evaluatedBy(b) ? b : c;
    const other = holder === b ? c : b;
    expect(evaluatedBy(holder)).toBe(true);
    expect((await system.objects(id)).length).toBeLessThan(300);
    await holder.process.stop('SIGKILL');

    const done = await waitFor(
      async () => {
        const s = await statusOn(other, id);
        return s.lastCycle?.state === 'applied' ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'the apply finished by the other replica' },
    );
    expect(done.state).toBe('healthy');
    expect((await system.objects(id)).map((o) => o.dn).sort()).toEqual([...src.dns].sort());
    const creates: LogEntryView[] = await system.logs(id, { action: 'Create' });
    expect(creates).toHaveLength(300);
    expect(new Set(creates.map((e) => e.objectId)).size).toBe(300);
    expect(creates.every((e) => e.status === 'success')).toBe(true);
    // The other replica finished it (a lost job would leave the cycle applying).
    expect(logged(other, 'cycle applied')).toBe(true);
    const quiet = await syncOn(other, id, 'applied');
    expect(quiet.lastCycle).toMatchObject({ mode: 'delta', counts: { create: 0, update: 0, delete: 0 } });
  });
});
