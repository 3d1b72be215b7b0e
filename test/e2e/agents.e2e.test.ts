/**
 * Agent identity and revocation with the real programs (slapd, Redis, the controller
 * program, the agent program, syncguardctl): an agent started without SYNCGUARD_AGENT_ID
 * (the harness never sets it) connects and syncs; `agents rotate-token` stops it with exit
 * code 2 and its old token no longer gets in; with the new token it syncs again;
 * `agents delete` stops it the same way and the configuration no longer names it.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { usersLdif } from '@syncguard/testkit';
import { startSystem, type TestSystem } from '../harness';

const PEOPLE = 'ou=people,dc=example,dc=com';

describe('agents: identity by token, rotate-token, delete', () => {
  let system: TestSystem;
  let agentId: string;
  let configId: string;

  /** Waits for the agent program to exit by itself; its exit code and log. */
  async function agentExit(id: string): Promise<{ code: number | null; log: string }> {
    const proc = system.agents.get(id)?.process;
    if (!proc) throw new Error(`agent ${id} was not started`);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref());
    const code = await Promise.race([proc.wait(), timeout]);
    if (code === 'timeout') throw new Error(`agent ${id} still runs:\n${proc.log}`);
    return { code, log: proc.log };
  }

  /** The HTTP status the controller answers a WebSocket upgrade at /agent with this token. */
  function upgradeStatus(token: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${system.url}/agent`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': randomBytes(16).toString('base64'),
          authorization: `Bearer ${token}`,
        },
      });
      req.once('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.once('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    system = await startSystem({ slapd: { seedLdif: usersLdif(PEOPLE, 30) } });
    agentId = await system.addAgent('dc1');
    ({ id: configId } = await system.createConfiguration({
      name: 'agents.example.com',
      agentIds: [agentId],
      source: { baseDn: PEOPLE, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
    }));
  });
  afterAll(() => system?.dispose());

  it('an agent without SYNCGUARD_AGENT_ID connects and syncs', async () => {
    await system.firstCycle(configId);
    const objects = await system.api.get<{ total: number }>(`/api/v1/configurations/${configId}/objects?limit=1`);
    expect(objects.total).toBe(30);
    expect(system.agentLog(agentId)).not.toContain('SYNCGUARD_AGENT_ID');
  });

  it('rotate-token: the running agent exits 2 (AGENT_REVOKED); the old token is refused; the new one syncs', async () => {
    const oldToken = system.agents.get(agentId)!.token;
    expect(await upgradeStatus(oldToken)).toBe(101);
    const rotated = await system.ctl('--json', 'agents', 'rotate-token', 'dc1');
    expect(rotated.code).toBe(0);
    const { token } = JSON.parse(rotated.log) as { token: string };
    const exit = await agentExit(agentId);
    expect(exit.code).toBe(2);
    expect(exit.log).toContain('AGENT_REVOKED');
    expect(exit.log).toContain('the agent token was rotated');

    expect(await upgradeStatus(oldToken)).toBe(401);
    system.agents.get(agentId)!.token = token;
    await system.startAgent(agentId);
    await system.syncNow(configId);
  });

  it('delete: the running agent exits 2 (AGENT_REVOKED) and the configuration no longer names it', async () => {
    const deleted = await system.ctl('agents', 'delete', 'dc1', '--yes');
    expect(deleted).toMatchObject({ code: 0, log: expect.stringContaining(`removed from configuration(s) ${configId}`) });
    const exit = await agentExit(agentId);
    expect(exit.code).toBe(2);
    expect(exit.log).toContain('the agent was deleted');
    const config = await system.api.get<{ agentIds: string[] }>(`/api/v1/configurations/${configId}`);
    expect(config.agentIds).toEqual([]);
    const audit = await system.ctl('audit');
    expect(audit.log).toMatch(/agent\.delete/);
    expect(audit.log).toMatch(/agent\.rotate-token/);
  });
});
