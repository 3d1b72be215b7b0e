import { CloseCode, CycleErrorCode, ErrorCode, PROTOCOL_VERSION, type DeepPartial, type Change } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import { Keys } from '../store/keys';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { agentUrl, registerAgent, startTestController, TEST_ADMIN } from '../testing/harness';
import { MAX_HELLO_CURSORS } from './agent-limits';

/*
 * What an agent token can do to the controller: crafted frames from a protocol peer, against
 * a real controller on a real Redis. Nothing one agent sends may touch another agent's
 * cycles, nor grow without bound.
 */

jest.setTimeout(90_000);

let redis: RedisServer;
let server: ControllerServer;
let keys: Keys;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestController(redis.url);
  keys = new Keys(server.options.redisKeyPrefix);
});

afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

const BASE = 'ou=people,dc=example,dc=com';

function change(id: string, padding = 0): DeepPartial<Change> {
  return {
    kind: 1,
    objectType: 1,
    objectId: id,
    dn: `uid=${id},${BASE}`,
    contentHash: Buffer.alloc(32, 1),
    attributes: padding > 0 ? [{ name: 'description', values: ['x'.repeat(padding)] }] : [],
  };
}

/** Runs `test` against a controller of its own with these options, closed afterwards. */
async function withController(
  options: Parameters<typeof startTestController>[1],
  test: (controller: ControllerServer) => Promise<void>,
): Promise<void> {
  const controller = await startTestController(redis.url, options);
  try {
    await test(controller);
  } finally {
    await controller.close();
  }
}

/** A configuration served by a new agent that is connected and has been sent its first cycle (not answered). */
async function runningCycle(on: ControllerServer, name: string) {
  const owner = await registerAgent(on, name);
  const cfg = await on.service.createConfiguration({ name, agentIds: [owner.id], source: { baseDn: BASE } }, TEST_ADMIN);
  const agent = await FakeAgent.connect({ url: agentUrl(on), agentId: owner.id, token: owner.token, autoRespond: false });
  const start = await agent.waitFor('startCycle', (s) => s.configurationId === cfg.id);
  /** The ids a frame about this cycle carries. */
  const ids = { configurationId: cfg.id, cycleId: start.cycleId };
  return { owner, cfg, agent, start, ids };
}

function complete(agent: FakeAgent, configurationId: string, cycleId: string, lastSequence: number): void {
  agent.send({
    type: 'cycleComplete',
    value: {
      configurationId,
      cycleId,
      lastSequence,
      totals: { adds: lastSequence, modifies: 0, deletes: 0, presents: 0 },
      source: { entriesRead: lastSequence, pages: 1, readDurationMs: 1, serverUrl: 'fake://' },
    },
  });
}

describe('another agent cannot end a cycle', () => {
  it('CycleFailed from an agent that does not own the cycle is refused: the configuration stays healthy and the cycle completes', async () => {
    const { cfg, agent, start, ids } = await runningCycle(server, 'owned-cycle');
    const intruderReg = await registerAgent(server, 'intruder');
    const intruder = await FakeAgent.connect({ url: agentUrl(server), agentId: intruderReg.id, token: intruderReg.token });
    const from = intruder.received.length;
    intruder.send({
      type: 'cycleFailed',
      value: {
        ...ids,
        code: CycleErrorCode.CYCLE_ERROR_LDAP_UNAVAILABLE,
        message: 'not mine to fail',
      },
    });
    const error = await intruder.waitFor('error', (e) => e.cycleId === start.cycleId, from);
    expect(error).toMatchObject({ code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, fatal: false });
    // Nor through a reconnect's cursors: a "completed" cycle it names is not settled (failed) for it.
    await intruder.reconnect([{ configurationId: cfg.id, pendingCycleId: start.cycleId, committedCycleId: 'forged' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await server.redis.hgetall(keys.agentCursors(intruderReg.id))).toEqual({});
    const status = await server.service.getStatus(cfg.id);
    expect(status.state).toBe('pending');
    expect(status.lastCycle).toMatchObject({ id: start.cycleId, state: 'running' });
    // The owner finishes its cycle as if nothing happened.
    agent.send({
      type: 'changeBatch',
      value: { ...ids, sequence: 1, changes: [change('u1')] },
    });
    await agent.waitFor('batchAck', (a) => a.cycleId === start.cycleId);
    complete(agent, cfg.id, start.cycleId, 1);
    await waitFor(async () => (await server.service.getStatus(cfg.id)).state === 'healthy', { message: 'cycle applied' });
    expect((await server.service.getStatus(cfg.id)).lastCycle).toMatchObject({ id: start.cycleId, state: 'applied' });
    await agent.close();
    await intruder.close();
  });

  it("the owner's CycleFailed still fails its cycle, its message cut to 1000 characters", async () => {
    const { cfg, agent, start, ids } = await runningCycle(server, 'own-failure');
    agent.send({
      type: 'cycleFailed',
      value: {
        ...ids,
        code: CycleErrorCode.CYCLE_ERROR_LDAP_UNAVAILABLE,
        message: 'e'.repeat(50_000),
      },
    });
    await waitFor(async () => (await server.service.getStatus(cfg.id)).state === 'error', { message: 'cycle failed' });
    const cycle = await server.services.cycles.readCycle(start.cycleId);
    expect(cycle?.error?.code).toBe('CYCLE_ERROR_LDAP_UNAVAILABLE');
    expect(cycle?.error?.message.length).toBeLessThan(1100);
    await agent.close();
  });
});

describe('an agent is bounded', () => {
  it('100 unacknowledged 1 MB batches: the connection closes with RATE_LIMITED after the window, and no more than the window is stored', async () => {
    // A long heartbeat: on a loaded machine, pushing 100 MB through one test process can keep
    // both ends busy past the harness's 1 s heartbeat, closing with HEARTBEAT_TIMEOUT first.
    await withController(
      { maxFrameBytes: 2 * 1024 * 1024, maxInFlightBatches: 4, heartbeatIntervalMs: 60_000 },
      async (bounded) => {
        const { owner, agent, start, ids } = await runningCycle(bounded, 'flood');
        // Redis is slow (paused for writes) while the agent floods: nothing is acknowledged
        // meanwhile, so every batch past the fourth is beyond the window, whatever the timing.
        await bounded.redis.call('CLIENT', 'PAUSE', '1500', 'WRITE');
        for (let seq = 1; seq <= 100; seq++) {
          agent.send({
            type: 'changeBatch',
            value: { ...ids, sequence: seq, changes: [change(`u${seq}`, 1024 * 1024)] },
          });
        }
        expect(await agent.waitClosed()).toBe(CloseCode.RATE_LIMITED);
        expect(agent.received.find((b) => b.type === 'error')?.value).toMatchObject({
          code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
          fatal: true,
          message: expect.stringContaining('maxInFlightBatches'),
        });
        expect(agent.count('batchAck')).toBeLessThanOrEqual(4);
        await waitFor(async () => (await bounded.service.getAgent(owner.id)).status === 'disconnected', {
          message: 'agent disconnected',
        });
        const batches = await bounded.redis.hkeys(new Keys(bounded.options.redisKeyPrefix).batches(start.cycleId));
        const stored = batches.filter((k) => /^\d+$/.test(k));
        expect(stored.length).toBeLessThanOrEqual(4);
      },
    );
  });

  it('an agent that keeps to a small window streams a whole cycle', async () => {
    await withController({ maxInFlightBatches: 2 }, async (small) => {
      const { id, token } = await registerAgent(small, 'windowed');
      const cfg = await small.service.createConfiguration(
        { name: 'windowed', agentIds: [id], source: { baseDn: BASE } },
        TEST_ADMIN,
      );
      const agent = await FakeAgent.open({ url: agentUrl(small), agentId: id, token, batchSize: 5 });
      for (const u of fakeUsers(BASE, 60)) agent.directory.set(u.id, u);
      await agent.hello();
      await waitFor(async () => (await small.service.getStatus(cfg.id)).state === 'healthy', { message: 'cycle applied' });
      expect((await small.service.listObjects(cfg.id, { limit: 100 })).total).toBe(60);
      expect(agent.ws.readyState).toBe(agent.ws.OPEN);
      await agent.close();
    });
  });

  it('stops reading an agent whose frames wait to be handled (back-pressure), and reads on afterwards', async () => {
    const { id, token } = await registerAgent(server, 'pressing');
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: id, token, autoRespond: false });
    // While Redis does not answer, each CycleComplete waits; 100 of 400 KB are 40 MB.
    await server.redis.call('CLIENT', 'PAUSE', '2500', 'ALL');
    const padding = 'p'.repeat(400 * 1024);
    for (let i = 0; i < 100; i++) {
      agent.send({
        type: 'cycleComplete',
        value: {
          configurationId: 'c',
          cycleId: `no-such-cycle-${i}`,
          lastSequence: 1,
          source: { entriesRead: 0, pages: 0, readDurationMs: 0, serverUrl: padding },
        },
      });
    }
    await new Promise((r) => setTimeout(r, 1000));
    // The controller holds a few of them; the rest wait in the agent's socket.
    expect(agent.ws.bufferedAmount).toBeGreaterThan(20 * 1024 * 1024);
    // Once Redis answers, every frame is handled (each an UNKNOWN_CYCLE error) on the same connection.
    await waitFor(() => agent.count('error') === 100, { timeoutMs: 30_000, message: 'every frame handled' });
    expect(agent.ws.readyState).toBe(agent.ws.OPEN);
    await agent.close();
  });

  it('a cycle over maxCycleBatches or maxCycleBytes fails with LIMIT_EXCEEDED; the connection stays', async () => {
    await withController({ maxCycleBatches: 3, maxCycleBytes: 64 * 1024 }, async (capped) => {
      for (const c of [
        { name: 'batches', size: 10, expect: 'maxCycleBatches' },
        { name: 'bytes', size: 30 * 1024, expect: 'maxCycleBytes' },
      ]) {
        const { agent, start, ids } = await runningCycle(capped, c.name);
        let refused = null;
        for (let seq = 1; seq <= 4 && !refused; seq++) {
          const from = agent.received.length;
          agent.send({
            type: 'changeBatch',
            value: { ...ids, sequence: seq, changes: [change(`u${seq}`, c.size)] },
          });
          await waitFor(() => agent.received.slice(from).some((b) => b.type === 'batchAck' || b.type === 'error'), {
            message: `answer to batch ${seq}`,
          });
          refused = agent.received.slice(from).find((b) => b.type === 'error')?.value ?? null;
        }
        expect(refused).toMatchObject({ code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, fatal: false, cycleId: start.cycleId });
        expect((refused as { message: string }).message).toContain(c.expect);
        await agent.waitFor('cycleAborted', (a) => a.cycleId === start.cycleId);
        const cycle = await capped.services.cycles.readCycle(start.cycleId);
        expect({ name: c.name, state: cycle?.state, code: cycle?.error?.code }).toEqual({
          name: c.name,
          state: 'failed',
          code: 'LIMIT_EXCEEDED',
        });
        expect(agent.ws.readyState).toBe(agent.ws.OPEN);
        await agent.close();
      }
    });
  });

  it('refuses a hello with a 100 KB hostname (naming the field) and stores nothing of it', async () => {
    const { id, token } = await registerAgent(server, 'long-hostname');
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: id, token, hostname: 'h'.repeat(100 * 1024) });
    agent.send({
      type: 'agentHello',
      value: { agentId: id, protocolVersions: [PROTOCOL_VERSION], hostname: 'h'.repeat(100 * 1024), softwareVersion: '1' },
    });
    expect(await agent.waitClosed()).toBe(CloseCode.POLICY_VIOLATION);
    expect(agent.received.find((b) => b.type === 'error')?.value).toMatchObject({
      code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
      fatal: true,
      message: expect.stringContaining('hostname'),
    });
    expect((await server.service.getAgent(id)).hostname).toBeNull();
  });

  it("keeps only the hello's cursors of configurations the agent serves, and refuses more than the bound", async () => {
    const { id, token } = await registerAgent(server, 'cursors');
    const cfg = await server.service.createConfiguration(
      { name: 'cursors', agentIds: [id], source: { baseDn: BASE } },
      TEST_ADMIN,
    );
    const other = await server.service.createConfiguration({ name: 'not-served', source: { baseDn: BASE } }, TEST_ADMIN);
    const cursor = (configurationId: string) => ({
      configurationId,
      committedCycleId: 'c-1',
      pendingCycleId: '',
      runningCycleId: '',
    });
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: id, token, autoRespond: false }, [
      cursor(cfg.id),
      cursor(other.id),
      cursor('made-up'),
    ]);
    await waitFor(async () => (await server.redis.hlen(keys.agentCursors(id))) > 0, { message: 'cursors stored' });
    expect(await server.redis.hgetall(keys.agentCursors(id))).toEqual({ [cfg.id]: 'c-1' });
    await agent.close();

    const flooding = await FakeAgent.open({ url: agentUrl(server), agentId: id, token });
    flooding.send({
      type: 'agentHello',
      value: {
        agentId: id,
        protocolVersions: [PROTOCOL_VERSION],
        cursors: Array.from({ length: MAX_HELLO_CURSORS + 1 }, (_, i) => cursor(`cfg-${i}`)),
      },
    });
    expect(await flooding.waitClosed()).toBe(CloseCode.POLICY_VIOLATION);
    expect(flooding.received.find((b) => b.type === 'error')?.value).toMatchObject({
      code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
      message: expect.stringContaining('cursors'),
    });
  });

  it('a CycleComplete or CycleFailed with an id over its bound closes the connection, naming the field', async () => {
    for (const type of ['cycleComplete', 'cycleFailed'] as const) {
      const { id, token } = await registerAgent(server, `long-id-${type}`);
      const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: id, token });
      const ids = { configurationId: 'c', cycleId: 'x'.repeat(10_000) };
      if (type === 'cycleComplete') agent.send({ type, value: { ...ids, lastSequence: 1 } });
      else agent.send({ type, value: { ...ids, code: CycleErrorCode.CYCLE_ERROR_INTERNAL, message: 'm' } });
      expect(await agent.waitClosed()).toBe(CloseCode.POLICY_VIOLATION);
      expect(agent.received.find((b) => b.type === 'error')?.value).toMatchObject({
        code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
        message: expect.stringContaining('cycleId is 10000 characters'),
      });
    }
  });

  it('a batch with an object id or DN over its bound fails the cycle, naming the field', async () => {
    const { agent, start, ids } = await runningCycle(server, 'long-dn');
    const from = agent.received.length;
    agent.send({
      type: 'changeBatch',
      value: {
        ...ids,
        sequence: 1,
        changes: [{ ...change('u1'), dn: `uid=u1,${'ou=x,'.repeat(4000)}${BASE}` }],
      },
    });
    const error = await agent.waitFor('error', (e) => e.cycleId === start.cycleId, from);
    expect(error).toMatchObject({ code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, fatal: false });
    expect(error.message).toContain('changes[0].dn');
    await waitFor(async () => (await server.services.cycles.readCycle(start.cycleId))?.state === 'failed', {
      message: 'cycle failed',
    });
    await agent.close();
  });
});

describe('secrets an agent sends anyway', () => {
  it('are neither served by the objects API nor provisioned', async () => {
    const { cfg, agent, start, ids } = await runningCycle(server, 'old-agent');
    agent.send({
      type: 'changeBatch',
      value: {
        ...ids,
        sequence: 1,
        changes: [
          {
            ...change('u1'),
            attributes: [
              { name: 'cn', values: ['U 1'] },
              { name: 'sambaNTPassword', values: ['8846F7EAEE8FB117AD06BDD830B7586C'] },
              { name: 'userPassword;binary', values: ['e1NTSEF9'], binary: true },
              { name: 'MS-MCS-ADMPWD', values: ['laps'] },
            ],
          },
        ],
      },
    });
    await agent.waitFor('batchAck', (a) => a.cycleId === start.cycleId);
    complete(agent, cfg.id, start.cycleId, 1);
    await waitFor(async () => (await server.service.getStatus(cfg.id)).state === 'healthy', { message: 'cycle applied' });
    const [object] = (await server.service.listObjects(cfg.id, { limit: 10 })).items;
    expect(object?.attributes).toEqual({ cn: ['U 1'] });
    await agent.close();
  });
});
