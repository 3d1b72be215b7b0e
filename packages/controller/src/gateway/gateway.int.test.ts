import { CloseCode, ErrorCode, encodeFrame } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import { FakeAgent } from '../testing/fake-agent';
import { Queue } from 'bullmq';
import { agentUrl, registerAgent, startTestController, TEST_ADMIN } from '../testing/harness';
import { Keys } from '../store/keys';

jest.setTimeout(60_000);

let redis: RedisServer;
let server: ControllerServer;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestController(redis.url, { maxFrameBytes: 64 * 1024 });
});

afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

describe('agent gateway', () => {
  it('refuses the upgrade without a token or with a bad token (HTTP 401)', async () => {
    const { id } = await registerAgent(server);
    await expect(FakeAgent.open({ url: agentUrl(server), agentId: id })).rejects.toMatchObject({ status: 401 });
    await expect(FakeAgent.open({ url: agentUrl(server), agentId: id, token: 'sga_wrong' })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('welcomes an agent with a valid token and records it as connected', async () => {
    const { id, token } = await registerAgent(server, 'welcome');
    const cfg = await server.service.createConfiguration(
      { name: 'gw', agentIds: [id], source: { baseDn: 'dc=example,dc=com' } },
      TEST_ADMIN,
    );
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: id, token, hostname: 'host-1', autoRespond: false });
    const welcome = await agent.hello();
    expect(welcome.protocolVersion).toBe(1);
    expect(welcome.maxFrameBytes).toBe(64 * 1024);
    expect(welcome.assignments).toEqual([{ configurationId: cfg.id, active: true }]);
    const seen = await server.service.getAgent(id);
    expect(seen).toMatchObject({ status: 'connected', hostname: 'host-1', version: '0.0.0-fake', configurationIds: [cfg.id] });
    expect(seen.lastSeenAt).not.toBeNull();
    // The controller starts a cycle for the newly connected active agent.
    await agent.waitFor('startCycle', (s) => s.configurationId === cfg.id);
    await agent.close();
    await waitFor(async () => (await server.service.getAgent(id)).status === 'disconnected', { message: 'agent disconnected' });
    await server.service.deleteConfiguration(cfg.id, TEST_ADMIN);
  });

  it('closes the connection when the hello names another agent (AUTH_FAILED)', async () => {
    const { token } = await registerAgent(server);
    const { id: other } = await registerAgent(server);
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: other, token });
    agent.send({ type: 'agentHello', value: { agentId: other, protocolVersions: [1] } });
    expect(await agent.waitClosed()).toBe(CloseCode.AUTH_FAILED);
    expect(agent.received.find((b) => b.type === 'error')?.value).toMatchObject({
      code: ErrorCode.ERROR_CODE_AUTH_FAILED,
      fatal: true,
    });
  });

  it('refuses a hello without a common protocol version', async () => {
    const { id, token } = await registerAgent(server);
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: id, token });
    agent.send({ type: 'agentHello', value: { agentId: id, protocolVersions: [99] } });
    expect(await agent.waitClosed()).toBe(CloseCode.UNSUPPORTED_VERSION);
  });

  it('closes only the offending connection on garbage, oversized and text frames', async () => {
    const bystanderReg = await registerAgent(server, 'bystander');
    const bystander = await FakeAgent.connect({ url: agentUrl(server), agentId: bystanderReg.id, token: bystanderReg.token });

    const cases: { name: string; send: (a: FakeAgent) => void; close: number; wire: ErrorCode }[] = [
      {
        name: 'garbage',
        send: (a) => a.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])),
        close: CloseCode.PROTOCOL_ERROR,
        wire: ErrorCode.ERROR_CODE_MALFORMED_FRAME,
      },
      {
        name: 'oversized',
        send: (a) => a.sendRaw(Buffer.alloc(64 * 1024 + 1, 1)),
        close: CloseCode.MESSAGE_TOO_BIG,
        wire: ErrorCode.ERROR_CODE_FRAME_TOO_LARGE,
      },
      {
        name: 'text',
        send: (a) => a.sendRaw('hello', false),
        close: CloseCode.UNSUPPORTED_DATA,
        wire: ErrorCode.ERROR_CODE_MALFORMED_FRAME,
      },
      {
        name: 'batch before hello',
        send: (a) => a.sendRaw(Buffer.from(encodeFrame({ type: 'heartbeat', value: { sentAtUnixMs: 1 } }))),
        close: CloseCode.PROTOCOL_ERROR,
        wire: ErrorCode.ERROR_CODE_UNEXPECTED_MESSAGE,
      },
    ];
    for (const c of cases) {
      const reg = await registerAgent(server, c.name);
      const agent = await FakeAgent.open({ url: agentUrl(server), agentId: reg.id, token: reg.token });
      if (c.name !== 'batch before hello') await agent.hello();
      c.send(agent);
      expect({ name: c.name, code: await agent.waitClosed() }).toEqual({ name: c.name, code: c.close });
      const error = agent.received.find((b) => b.type === 'error');
      expect({ name: c.name, error: error?.value }).toMatchObject({ name: c.name, error: { code: c.wire, fatal: true } });
    }
    // The bystander is still served: a heartbeat round trip and its status.
    const before = bystander.count('heartbeat');
    bystander.send({ type: 'heartbeat', value: { sentAtUnixMs: Date.now() } });
    await waitFor(() => bystander.count('heartbeat') > before, { message: 'heartbeat from the controller' });
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    expect((await server.service.getAgent(bystanderReg.id)).status).toBe('connected');
    const rejected = await server.metrics.framesRejected.get();
    expect(rejected.values.map((v) => v.labels.code).sort()).toEqual(
      expect.arrayContaining(['PROTO_ERR_FRAME_TOO_LARGE', 'PROTO_ERR_MALFORMED_FRAME', 'PROTO_ERR_NOT_BINARY']),
    );
    await bystander.close();
  });

  it('terminates an agent that stays silent (heartbeat timeout)', async () => {
    const { id, token } = await registerAgent(server, 'silent');
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: id, token });
    // Stop answering pings: ws answers them automatically, so pause the socket instead.
    (agent.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitFor(async () => (await server.service.getAgent(id)).status === 'disconnected', {
      timeoutMs: 20_000,
      message: 'silent agent dropped',
    });
    agent.ws.terminate();
  });

  it('a second agent of a configuration takes over when the active one disconnects', async () => {
    const a = await registerAgent(server, 'a');
    const b = await registerAgent(server, 'b');
    const cfg = await server.service.createConfiguration(
      { name: 'ha', agentIds: [a.id, b.id], source: { baseDn: 'dc=example,dc=com' } },
      TEST_ADMIN,
    );
    const agentA = await FakeAgent.open({ url: agentUrl(server), agentId: a.id, token: a.token, autoRespond: false });
    const welcomeA = await agentA.hello();
    expect(welcomeA.assignments).toEqual([{ configurationId: cfg.id, active: true }]);
    await agentA.waitFor('startCycle');
    const agentB = await FakeAgent.open({ url: agentUrl(server), agentId: b.id, token: b.token });
    const welcomeB = await agentB.hello();
    expect(welcomeB.assignments).toEqual([{ configurationId: cfg.id, active: false }]);
    await agentA.close();
    // B becomes active: A's unfinished cycle is abandoned and B gets a new one, which it completes.
    await agentB.waitFor('startCycle', (s) => s.configurationId === cfg.id);
    await waitFor(async () => (await server.service.getStatus(cfg.id)).state === 'healthy', {
      message: 'healthy after failover',
    });
    const cycles = await server.service.listCycles(cfg.id, {});
    expect(cycles.items.map((c) => c.state)).toEqual(['applied', 'failed']);
    await agentB.close();
  });

  it('closes a connection that sends no hello in time (HELLO_TIMEOUT)', async () => {
    const quick = await startTestController(redis.url, { helloTimeoutMs: 300 });
    try {
      const { id, token } = await registerAgent(quick);
      const agent = await FakeAgent.open({ url: agentUrl(quick), agentId: id, token });
      expect(await agent.waitClosed()).toBe(CloseCode.HELLO_TIMEOUT);
    } finally {
      await quick.close();
    }
  });

  it("refuses batches for a cycle that is not the sending agent's, of that configuration, or at all; nothing of them is kept", async () => {
    const owner = await registerAgent(server, 'owner');
    const other = await registerAgent(server, 'other');
    const cfg = await server.service.createConfiguration(
      { name: 'owned', agentIds: [owner.id], source: { baseDn: 'dc=example,dc=com' } },
      TEST_ADMIN,
    );
    const a = await FakeAgent.connect({ url: agentUrl(server), agentId: owner.id, token: owner.token, autoRespond: false });
    const b = await FakeAgent.connect({ url: agentUrl(server), agentId: other.id, token: other.token, autoRespond: false });
    const start = await a.waitFor('startCycle');
    const change = (id: string) => ({
      kind: 1,
      objectType: 1,
      objectId: id,
      dn: `uid=${id},dc=example,dc=com`,
      contentHash: Buffer.alloc(32, 1),
    });
    const refused = async (agent: FakeAgent, configurationId: string, cycleId: string, id: string) => {
      const from = agent.received.length;
      agent.send({ type: 'changeBatch', value: { configurationId, cycleId, sequence: 1, changes: [change(id)] } });
      const error = await agent.waitFor('error', (e) => e.cycleId === cycleId, from);
      expect(error).toMatchObject({ code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, fatal: false });
      expect(agent.received.slice(from).some((f) => f.type === 'batchAck')).toBe(false);
    };
    await refused(b, cfg.id, start.cycleId, 'from-another-agent');
    await refused(a, 'some-other-configuration', start.cycleId, 'wrong-configuration');
    await refused(a, cfg.id, 'no-such-cycle', 'no-cycle');
    // Both connections carry on; the owner's own batch is taken and the cycle applies it alone.
    a.send({
      type: 'changeBatch',
      value: { configurationId: cfg.id, cycleId: start.cycleId, sequence: 1, changes: [change('mine')] },
    });
    await a.waitFor('batchAck', (ack) => ack.cycleId === start.cycleId);
    a.send({
      type: 'cycleComplete',
      value: {
        configurationId: cfg.id,
        cycleId: start.cycleId,
        lastSequence: 1,
        totals: { adds: 1, modifies: 0, deletes: 0, presents: 0 },
        source: { entriesRead: 1, pages: 1, readDurationMs: 1, serverUrl: 'fake://' },
      },
    });
    await waitFor(async () => (await server.service.getStatus(cfg.id)).lastCycle?.state === 'applied', {
      message: 'cycle applied',
    });
    expect((await server.service.listObjects(cfg.id, { limit: 10 })).items.map((o) => o.id)).toEqual(['mine']);
    await a.close();
    await b.close();
  });

  it('delivers commands to an agent connected to another replica (Redis pub/sub)', async () => {
    const replica = await startTestController(redis.url, { redisKeyPrefix: server.options.redisKeyPrefix });
    try {
      const { id, token } = await registerAgent(server, 'remote');
      const cfg = await server.service.createConfiguration(
        { name: 'remote', agentIds: [id], source: { baseDn: 'dc=example,dc=com' } },
        TEST_ADMIN,
      );
      // The agent is connected to `replica`; the API call is served by `server`.
      const agent = await FakeAgent.connect({ url: agentUrl(replica), agentId: id, token });
      await waitFor(async () => (await server.service.getStatus(cfg.id)).state === 'healthy', { message: 'first cycle' });
      const before = agent.count('startCycle');
      const { cycleId } = await server.service.startCycle(cfg.id, TEST_ADMIN);
      await agent.waitFor('startCycle', (s) => s.cycleId === cycleId);
      expect(agent.count('startCycle')).toBe(before + 1);
      await waitFor(async () => (await server.service.getStatus(cfg.id)).lastCycle?.state === 'applied', {
        message: 'cycle applied',
      });
      await agent.close();
    } finally {
      await replica.close();
    }
  });

  it('an agent connected again through another replica: the older connection is closed (SUPERSEDED), only the new one gets cycles', async () => {
    const replica = await startTestController(redis.url, { redisKeyPrefix: server.options.redisKeyPrefix });
    try {
      const { id, token } = await registerAgent(server, 'twice');
      const cfg = await server.service.createConfiguration(
        { name: 'twice', agentIds: [id], source: { baseDn: 'dc=example,dc=com' } },
        TEST_ADMIN,
      );
      const first = await FakeAgent.connect({ url: agentUrl(server), agentId: id, token });
      await waitFor(async () => (await server.service.getStatus(cfg.id)).state === 'healthy', { message: 'first cycle' });
      const second = await FakeAgent.connect({ url: agentUrl(replica), agentId: id, token });
      expect(await first.waitClosed()).toBe(CloseCode.SUPERSEDED);
      const before = second.count('startCycle');
      const { cycleId } = await server.service.startCycle(cfg.id, TEST_ADMIN);
      await second.waitFor('startCycle', (s) => s.cycleId === cycleId);
      expect(second.count('startCycle')).toBe(before + 1);
      await waitFor(async () => (await server.service.getStatus(cfg.id)).lastCycle?.state === 'applied', {
        message: 'cycle applied through the newer connection',
      });
      // The session key names the newer connection, and heartbeats keep it so.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await server.service.getAgent(id)).toMatchObject({ status: 'connected' });
      await second.close();
    } finally {
      await replica.close();
    }
  });

  it('an agent whose controller process is gone shows disconnected at once, not when its session expires', async () => {
    const replica = await startTestController(redis.url, { redisKeyPrefix: server.options.redisKeyPrefix });
    try {
      const { id, token } = await registerAgent(server, 'orphan');
      const agent = await FakeAgent.connect({ url: agentUrl(replica), agentId: id, token });
      await waitFor(async () => (await server.service.getAgent(id)).status === 'connected', { message: 'connected' });
      // What a crash leaves: the agent's session key, but no liveness key of its controller.
      await replica.services.agents.stopLiveness();
      expect(await server.redis.exists(`${server.options.redisKeyPrefix}:agent:${id}:session`)).toBe(1);
      expect((await server.service.getAgent(id)).status).toBe('disconnected');
      // A session written by a controller version without liveness keys counts until it expires.
      await server.redis.set(`${server.options.redisKeyPrefix}:agent:${id}:session`, 'old-controller/old-session', 'PX', 60_000);
      expect((await server.service.getAgent(id)).status).toBe('connected');
      await agent.close();
    } finally {
      await replica.close();
    }
  });

  it('keeps one job scheduler per configuration at its interval', async () => {
    const scheduled = await startTestController(redis.url, { schedule: true });
    const queue = new Queue('schedule', {
      connection: { host: '127.0.0.1', port: redis.port },
      prefix: new Keys(scheduled.options.redisKeyPrefix).bullPrefix('schedule'),
    });
    try {
      const cfg = await scheduled.service.createConfiguration(
        { name: 'sched', source: { baseDn: 'dc=example,dc=com' }, syncIntervalSeconds: 30 },
        TEST_ADMIN,
      );
      expect((await queue.getJobScheduler(`cfg-${cfg.id}`))?.every).toBe(30_000);
      await scheduled.service.updateConfiguration(cfg.id, { syncIntervalSeconds: 45 }, TEST_ADMIN);
      expect((await queue.getJobScheduler(`cfg-${cfg.id}`))?.every).toBe(45_000);
      await scheduled.service.deleteConfiguration(cfg.id, TEST_ADMIN);
      expect(await queue.getJobScheduler(`cfg-${cfg.id}`)).toBeUndefined();
    } finally {
      await queue.close();
      await scheduled.close();
    }
  });
});
