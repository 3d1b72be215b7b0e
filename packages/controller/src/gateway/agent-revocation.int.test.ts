/**
 * Revoking agents through the real controller (HTTP API on a port, agent gateway, Redis):
 * DELETE /api/v1/agents/{id} and POST /api/v1/agents/{id}/token close the live session with
 * AGENT_REVOKED (on whichever replica holds it) and the old token gets 401 at the upgrade;
 * agent names are unique, also under concurrent registrations; an agent that leaves its id
 * out of AgentHello is identified by its token; `syncguardctl agents delete|rotate-token` do
 * the same (in-process through runCli; stdin is not a terminal, so `delete` refuses without
 * --yes: the prompt itself is the one of allow-deletes, tested in cli.int.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { CloseCode, ErrorCode } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import { Keys } from '../store/keys';
import { FakeAgent } from '../testing/fake-agent';
import { runCli } from '../cli/program';
import { agentUrl, registerAgent, startTestController, TEST_ADMIN, TEST_ADMIN_TOKEN } from '../testing/harness';

jest.setTimeout(60_000);

let redis: RedisServer;
let server: ControllerServer;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestController(redis.url);
});

afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

/** An API answer, read loosely: the fields these tests look at. */
interface Answer {
  status: number;
  json: {
    id?: string;
    token?: string;
    name?: string;
    items?: { id: string; name: string; action: string; target: { id: string } }[];
    error?: { code: string; message: string };
  };
}

async function api(method: string, path: string, body?: unknown, on: ControllerServer = server): Promise<Answer> {
  const res = await fetch(`${on.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Answer['json']) : {} };
}

async function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['node', 'syncguardctl', ...args], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    stdin: Object.assign(new PassThrough(), { isTTY: false }),
    env: { SYNCGUARD_URL: server.url, SYNCGUARD_TOKEN: TEST_ADMIN_TOKEN },
  });
  return { code, stdout, stderr };
}

async function auditActions(agentId: string): Promise<string[]> {
  const { json } = await api('GET', '/audit?limit=1000');
  return (json.items ?? [])
    .filter((e) => e.target.id === agentId)
    .map((e) => e.action)
    .reverse();
}

async function upgradeStatus(token: string, agentId = ''): Promise<number | 'open'> {
  try {
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId, token });
    agent.ws.terminate();
    return 'open';
  } catch (error) {
    return (error as { status: number }).status;
  }
}

describe('DELETE /api/v1/agents/{id}', () => {
  it('closes the live session with AGENT_REVOKED, the token gets 401, configurations stop naming it, audited', async () => {
    const a = await registerAgent(server, 'doomed');
    const b = await registerAgent(server, 'survivor');
    const cfg = await server.service.createConfiguration(
      { name: 'revoke-delete', agentIds: [a.id, b.id], source: { baseDn: 'dc=example,dc=com' } },
      TEST_ADMIN,
    );
    // `a` is active and holds a running cycle (it does not answer StartCycle); `b` stands by.
    const agentA = await FakeAgent.connect({ url: agentUrl(server), agentId: a.id, token: a.token, autoRespond: false });
    const running = await agentA.waitFor('startCycle', (s) => s.configurationId === cfg.id);
    const agentB = await FakeAgent.connect({ url: agentUrl(server), agentId: b.id, token: b.token, autoRespond: false });

    const res = await api('DELETE', `/agents/${a.id}`);
    expect(res).toEqual({ status: 200, json: { id: a.id, configurationIds: [cfg.id] } });

    expect(await agentA.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
    expect(agentA.received.find((m) => m.type === 'error')?.value).toMatchObject({
      code: ErrorCode.ERROR_CODE_AUTH_FAILED,
      fatal: true,
    });
    expect(await upgradeStatus(a.token, a.id)).toBe(401);
    expect((await api('GET', `/agents/${a.id}`)).status).toBe(404);
    expect((await api('GET', '/agents')).json.items?.map((x) => x.id)).not.toContain(a.id);
    expect((await server.service.getConfiguration(cfg.id)).agentIds).toEqual([b.id]);
    // The cycle `a` was running failed cleanly, and `b` took over with a new one.
    const failed = (await server.service.listCycles(cfg.id, {})).items.find((c) => c.id === running.cycleId);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'AGENT_REVOKED' } });
    const next = await agentB.waitFor('startCycle', (s) => s.configurationId === cfg.id);
    expect(next.cycleId).not.toBe(running.cycleId);
    expect(await auditActions(a.id)).toEqual(['agent.register', 'agent.delete']);
    // Nothing of the agent is left in Redis (its session key goes with the closed session).
    const keys = new Keys(server.options.redisKeyPrefix);
    await waitFor(async () => (await server.redis.exists(keys.agentSession(a.id))) === 0, { message: 'session key gone' });
    expect(await server.redis.exists(keys.agent(a.id), keys.agentCursors(a.id))).toBe(0);
    // The name is free again.
    expect((await api('POST', '/agents', { name: 'doomed' })).status).toBe(201);
    expect((await api('DELETE', `/agents/${a.id}`)).status).toBe(404);
    await agentB.close();
  });

  it('closes the session held by another replica (the command travels through Redis)', async () => {
    // A long heartbeat there: only the pub/sub command can close the session in time.
    const replica = await startTestController(redis.url, {
      redisKeyPrefix: server.options.redisKeyPrefix,
      heartbeatIntervalMs: 60_000,
    });
    try {
      const reg = await registerAgent(server);
      const agent = await FakeAgent.connect({ url: agentUrl(replica), agentId: reg.id, token: reg.token });
      await waitFor(async () => (await server.service.getAgent(reg.id)).status === 'connected', { message: 'connected' });
      expect((await api('DELETE', `/agents/${reg.id}`)).status).toBe(200);
      const late = new Promise((resolve) => setTimeout(() => resolve('still open after 10 s'), 10_000).unref());
      expect(await Promise.race([agent.waitClosed(), late])).toBe(CloseCode.AGENT_REVOKED);
    } finally {
      await replica.close();
    }
  });

  it('refuses a connection that authenticated before the delete and says hello after it', async () => {
    const reg = await registerAgent(server);
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: reg.id, token: reg.token });
    expect((await api('DELETE', `/agents/${reg.id}`)).status).toBe(200);
    agent.send({ type: 'agentHello', value: { agentId: reg.id, protocolVersions: [1] } });
    expect(await agent.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
    expect(agent.received.some((m) => m.type === 'controllerWelcome')).toBe(false);
    // The refused hello wrote nothing back: the agent stays deleted.
    expect(await server.redis.exists(new Keys(server.options.redisKeyPrefix).agent(reg.id))).toBe(0);
  });
});

describe('POST /api/v1/agents/{id}/token', () => {
  it('answers a new token once; the old one gets 401 and its live session closes with AGENT_REVOKED; audited', async () => {
    const reg = await registerAgent(server, 'rotating');
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: reg.id, token: reg.token });
    const res = await api('POST', `/agents/${reg.id}/token`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: reg.id, token: expect.stringMatching(/^sga_/) });
    const token = res.json.token!;
    expect(token).not.toBe(reg.token);
    expect(await agent.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
    expect(await upgradeStatus(reg.token, reg.id)).toBe(401);
    // The new token works, and the agent is the same one (its name, its configurations).
    const again = await FakeAgent.connect({ url: agentUrl(server), agentId: '', token });
    expect((await api('GET', `/agents/${reg.id}`)).json).toMatchObject({ name: 'rotating', status: 'connected' });
    expect(await auditActions(reg.id)).toEqual(['agent.register', 'agent.rotate-token']);
    // A second rotation closes the session of the first new token, not a stranger's.
    const bystander = await registerAgent(server);
    const other = await FakeAgent.connect({ url: agentUrl(server), agentId: bystander.id, token: bystander.token });
    expect((await api('POST', `/agents/${reg.id}/token`)).status).toBe(200);
    expect(await again.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
    expect(other.ws.readyState).toBe(other.ws.OPEN);
    await other.close();
    expect((await api('POST', '/agents/nope/token')).status).toBe(400);
    expect((await api('POST', `/agents/${randomUUID()}/token`)).status).toBe(404);
  });

  it('a session whose revocation command was missed is closed at its next heartbeat', async () => {
    const reg = await registerAgent(server);
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: reg.id, token: reg.token });
    // As if another replica rotated the token and this replica never heard the pub/sub message.
    await server.redis.hset(new Keys(server.options.redisKeyPrefix).agent(reg.id), 'tokenHash', 'rotated-elsewhere');
    expect(await agent.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
  });
});

describe('who may revoke', () => {
  it('a reader token gets 403 on delete and rotate; the agent and its token stay', async () => {
    const reg = await registerAgent(server);
    const reader = await api('POST', '/tokens', { name: 'revoke-reader', role: 'reader' });
    const asReader = (method: string, path: string) =>
      fetch(`${server.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${reader.json.token!}` } });
    expect((await asReader('DELETE', `/agents/${reg.id}`)).status).toBe(403);
    expect((await asReader('POST', `/agents/${reg.id}/token`)).status).toBe(403);
    expect(await upgradeStatus(reg.token, reg.id)).toBe('open');
  });
});

describe('agent names', () => {
  it('a taken name answers 409 SG_ERR_NAME_TAKEN naming the field', async () => {
    expect((await api('POST', '/agents', { name: 'dc1' })).status).toBe(201);
    const res = await api('POST', '/agents', { name: ' dc1 ' });
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'SG_ERR_NAME_TAKEN', message: expect.stringContaining('name') });
  });

  it('of concurrent registrations of one name exactly one wins, also across replicas', async () => {
    const replica = await startTestController(redis.url, { redisKeyPrefix: server.options.redisKeyPrefix });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => api('POST', '/agents', { name: 'contended' }, i % 2 ? replica : server)),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, ...Array<number>(19).fill(409)]);
      const named = (await api('GET', '/agents?limit=1000')).json.items?.filter((a) => a.name === 'contended');
      expect(named).toHaveLength(1);
    } finally {
      await replica.close();
    }
  });

  it('names of agents registered by an earlier version are claimed at start', async () => {
    const keys = new Keys(server.options.redisKeyPrefix);
    // An agent as an earlier version wrote it: no entry in the names hash.
    await server.redis.hset(keys.agent('legacy-1'), { id: 'legacy-1', name: 'legacy', tokenHash: 'x', createdAt: '2026-01-01' });
    await server.redis.zadd(keys.agents, 1, 'legacy-1');
    const replica = await startTestController(redis.url, { redisKeyPrefix: server.options.redisKeyPrefix });
    try {
      expect((await api('POST', '/agents', { name: 'legacy' }, replica)).status).toBe(409);
    } finally {
      await replica.close();
    }
  });
});

describe('the token alone identifies the agent', () => {
  it('an AgentHello without agent id is welcomed as the token’s agent, and the welcome names it', async () => {
    const reg = await registerAgent(server);
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: '', token: reg.token, hostname: 'no-id-host' });
    const welcome = await agent.hello();
    expect(welcome.agentId).toBe(reg.id);
    expect(await server.service.getAgent(reg.id)).toMatchObject({ status: 'connected', hostname: 'no-id-host' });
    // A non-empty id is still checked against the token.
    const other = await registerAgent(server);
    const liar = await FakeAgent.open({ url: agentUrl(server), agentId: other.id, token: reg.token });
    liar.send({ type: 'agentHello', value: { agentId: other.id, protocolVersions: [1] } });
    expect(await liar.waitClosed()).toBe(CloseCode.AUTH_FAILED);
    await agent.close();
  });
});

describe('syncguardctl agents', () => {
  it('agents register refuses a taken name with the API message', async () => {
    expect((await ctl('agents', 'register', 'dc-taken')).code).toBe(0);
    const again = await ctl('agents', 'register', 'dc-taken');
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('(HTTP 409, SG_ERR_NAME_TAKEN)') });
  });

  it('agents rotate-token NAME prints a new token; the old session closes with AGENT_REVOKED; the new token connects', async () => {
    const reg = JSON.parse((await ctl('--json', 'agents', 'register', 'dc-rotate')).stdout) as { id: string; token: string };
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: '', token: reg.token });
    const human = await ctl('agents', 'rotate-token', 'dc-rotate');
    expect(human).toMatchObject({ code: 0, stdout: expect.stringMatching(/token:\s+sga_\S+/) });
    expect(human.stdout).toContain('SYNCGUARD_AGENT_TOKEN');
    expect(await agent.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
    const json = await ctl('--json', 'agents', 'rotate-token', reg.id);
    const rotated = JSON.parse(json.stdout) as { id: string; token: string };
    expect(rotated).toEqual({ id: reg.id, token: expect.stringMatching(/^sga_/) });
    const again = await FakeAgent.connect({ url: agentUrl(server), agentId: '', token: rotated.token });
    expect((await server.service.getAgent(reg.id)).status).toBe('connected');
    await again.close();
  });

  it('agents delete NAME refuses without a terminal unless --yes; with --yes it deletes and the session closes', async () => {
    const reg = JSON.parse((await ctl('--json', 'agents', 'register', 'dc-delete')).stdout) as { id: string; token: string };
    const cfg = await server.service.createConfiguration(
      { name: 'cli-delete', agentIds: [reg.id], source: { baseDn: 'dc=example,dc=com' } },
      TEST_ADMIN,
    );
    const agent = await FakeAgent.connect({ url: agentUrl(server), agentId: reg.id, token: reg.token });
    const refused = await ctl('agents', 'delete', 'dc-delete');
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('Pass --yes to confirm') });
    expect(refused.stdout).toContain(`serves 1 configuration(s): ${cfg.id}`);
    expect((await server.service.getAgent(reg.id)).status).toBe('connected');

    const deleted = await ctl('agents', 'delete', 'dc-delete', '--yes');
    expect(deleted).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`deleted agent dc-delete (${reg.id}); removed from`),
    });
    expect(await agent.waitClosed()).toBe(CloseCode.AGENT_REVOKED);
    expect((await server.service.getConfiguration(cfg.id)).agentIds).toEqual([]);
    const gone = await ctl('agents', 'show', reg.id);
    expect(gone).toMatchObject({ code: 1, stderr: expect.stringContaining(`no agent with id or name "${reg.id}"`) });
    expect((await ctl('audit')).stdout).toMatch(/bootstrap-admin\s+agent\.delete\s+agent\//);
  });
});
