import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { ControllerOptions } from '../controller-options';
import type { Actor, ConfigurationInput } from '../model';
import { createServer, type ControllerServer, type CreateServerExtras } from '../server';
import { FakeAgent, type FakeAgentOptions } from './fake-agent';

/** The actor tests act as. */
export const TEST_ADMIN: Actor = { tokenId: 'test', name: 'test-admin', role: 'admin' };
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghij';

/**
 * Starts a controller on a free port against `redisUrl` with a unique key prefix (or
 * the one given), no schedulers and quiet logs (SYNCGUARD_TEST_LOG=debug to see them).
 */
export async function startTestController(
  redisUrl: string,
  options: Partial<ControllerOptions> = {},
  extras: Omit<CreateServerExtras, 'logger'> = {},
): Promise<ControllerServer> {
  const server = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      redisUrl,
      redisKeyPrefix: `t-${randomUUID().slice(0, 8)}`,
      adminToken: TEST_ADMIN_TOKEN,
      schedule: false,
      heartbeatIntervalMs: 1000,
      ...options,
    },
    { ...extras, logger: pino({ level: process.env.SYNCGUARD_TEST_LOG ?? 'silent' }) },
  );
  await server.listen();
  return server;
}

export function agentUrl(server: ControllerServer): string {
  return `${server.url.replace(/^http/, 'ws')}/agent`;
}

/** Registers an agent (names are unique: by default a fresh one) and returns its id and token. */
export async function registerAgent(
  server: ControllerServer,
  name = `agent-${randomUUID().slice(0, 8)}`,
): Promise<{ id: string; token: string }> {
  return server.service.registerAgent({ name }, TEST_ADMIN);
}

/** Registers an agent, creates a configuration it serves, and connects a FakeAgent (which answers StartCycle). */
export async function setupConfiguration(
  server: ControllerServer,
  input: Partial<ConfigurationInput> = {},
  agentOptions: Partial<FakeAgentOptions> = {},
): Promise<{ agent: FakeAgent; agentId: string; token: string; configurationId: string }> {
  const { id: agentId, token } = await registerAgent(server);
  const cfg = await server.service.createConfiguration(
    {
      name: 'test',
      agentIds: [agentId],
      source: { baseDn: 'ou=people,dc=example,dc=com', objectTypes: ['user', 'group'] },
      accidentalDeletes: { enabled: true, threshold: 10 },
      notificationEmail: 'ops@example.com',
      ...input,
    },
    TEST_ADMIN,
  );
  const agent = await FakeAgent.open({ url: agentUrl(server), token, agentId, ...agentOptions });
  return { agent, agentId, token, configurationId: cfg.id };
}
