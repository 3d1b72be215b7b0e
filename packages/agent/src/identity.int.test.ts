/**
 * The agent's identity is its token: without SYNCGUARD_AGENT_ID it says hello with an empty
 * id and logs the id the controller's welcome names. When the controller revokes it
 * (AGENT_REVOKED: deleted, or its token rotated) it stops for good with exit code 2 and a
 * message that says what to do, instead of reconnecting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloseCode } from '@syncguard/protocol';
import { waitFor } from '@syncguard/testkit';
import { Agent } from './agent';
import { captureLogs } from './testing/log-capture';
import { MiniController } from './testing/mini-controller';

jest.setTimeout(30_000);

let controller: MiniController;
const dirs: string[] = [];
const agents: Agent[] = [];

// One controller (and so one connection) per test.
beforeEach(async () => {
  controller = await MiniController.start({ welcome: { agentId: 'agent-from-token' } });
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.close();
  await controller?.close();
});

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function startAgent(): Promise<{ agent: Agent; lines: () => Record<string, unknown>[] }> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-identity-'));
  dirs.push(stateDir);
  const { logger, lines } = captureLogs();
  const agent = await Agent.create(
    {
      controllerUrl: controller.url,
      agentToken: controller.token,
      stateDir,
      reconnectInitialDelay: '20ms',
      reconnectMaxDelay: '50ms',
      // Never reached: these tests run no cycle.
      ldap: { url: 'ldap://127.0.0.1:1', bindDn: 'cn=admin,dc=example,dc=com', bindPassword: 'unused' },
    },
    { logger },
  );
  agents.push(agent);
  return { agent, lines };
}

it('without SYNCGUARD_AGENT_ID: hello with an empty id, and the id from the welcome is logged', async () => {
  const { lines } = await startAgent();
  await waitFor(() => controller.connected, { message: 'agent connected' });
  expect(controller.hellos.at(-1)).toMatchObject({ agentId: '' });
  const connected = await waitFor(() => lines().find((l) => l.msg === 'connected to the controller'), {
    message: 'connected log line',
  });
  expect(connected).toMatchObject({ agentId: 'agent-from-token' });
});

it('on AGENT_REVOKED it stops with exit code 2 and a clear message, and does not reconnect', async () => {
  const { agent } = await startAgent();
  await waitFor(() => controller.connected, { message: 'agent connected' });
  const hellos = controller.hellos.length;
  controller.closeConnection(CloseCode.AGENT_REVOKED, 'the agent token was rotated');
  const exit = await agent.exited;
  expect(exit.code).toBe(2);
  expect(exit.error).toMatchObject({ code: 'AGENT_ERR_CONNECTION_REFUSED' });
  expect(exit.error?.message).toContain('4007 AGENT_REVOKED: the agent token was rotated');
  expect(exit.error?.message).toContain('SYNCGUARD_AGENT_TOKEN');
  // Several reconnect delays later, still no new connection.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(controller.hellos.length).toBe(hellos);
  expect(agent.currentState).toBe('stopped');
});
