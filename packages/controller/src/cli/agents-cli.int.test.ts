/**
 * `syncguardctl agents delete` and `agents rotate-token` against the real controller
 * (listening on a port, real Redis) with a connected agent: the live session closes with
 * AGENT_REVOKED. In-process through runCli, as the other CLI tests; stdin is not a terminal,
 * so `delete` refuses without --yes (the prompt itself is the one of allow-deletes).
 */
import { PassThrough } from 'node:stream';
import { CloseCode } from '@syncguard/protocol';
import { startRedis, type RedisServer } from '@syncguard/testkit';
import type { ControllerServer } from '../server';
import { FakeAgent } from '../testing/fake-agent';
import { agentUrl, startTestController, TEST_ADMIN, TEST_ADMIN_TOKEN } from '../testing/harness';
import { runCli } from './program';

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

test('agents register refuses a taken name with the API message', async () => {
  expect((await ctl('agents', 'register', 'dc-taken')).code).toBe(0);
  const again = await ctl('agents', 'register', 'dc-taken');
  expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('(HTTP 409, SG_ERR_NAME_TAKEN)') });
});

test('agents rotate-token NAME prints a new token; the old session closes with AGENT_REVOKED; the new token connects', async () => {
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

test('agents delete NAME refuses without a terminal unless --yes; with --yes it deletes and the session closes', async () => {
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
