/**
 * Connection problems an operator must fix (a controller URL without /agent, a
 * certificate the agent cannot verify) are reported once, clearly, naming the setting, and
 * retried slowly rather than hammered; problems that fix themselves keep the fast backoff.
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeTestCertificates, waitFor } from '@syncguard/testkit';
import { Agent } from '../agent';
import { captureLogs } from '../testing/log-capture';

jest.setTimeout(30_000);

const certs = makeTestCertificates();
const stateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-connprob-'));
afterAll(() => {
  certs.dispose();
  fs.rmSync(stateRoot, { recursive: true, force: true });
});

/** A server that counts upgrade attempts and answers each as the real controller does on a wrong path. */
async function upgradeCounter(server: http.Server): Promise<{ url: string; attempts: () => number; close: () => Promise<void> }> {
  let attempts = 0;
  server.on('upgrade', (_req, socket) => {
    attempts += 1;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  server.on('tlsClientError', () => (attempts += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${server instanceof https.Server ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    attempts: () => attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function startAgent(name: string, controllerUrl: string) {
  const { logger, lines } = captureLogs('debug');
  const agent = await Agent.create(
    {
      controllerUrl,
      agentToken: 'token',
      stateDir: path.join(stateRoot, name),
      reconnectInitialDelay: '10ms',
      reconnectMaxDelay: '1s',
      ldap: { url: 'ldap://127.0.0.1:1', bindDn: 'cn=admin,dc=example,dc=com', bindPassword: 'unused' },
    },
    { logger },
  );
  return { agent, warnings: () => lines().filter((l) => l.level === 40) };
}

it('a controller URL without /agent (HTTP 404): one clear warning, then a slow retry', async () => {
  const server = await upgradeCounter(http.createServer());
  const { agent, warnings } = await startAgent('no-path', `${server.url}/`);
  try {
    await waitFor(() => server.attempts() >= 1, { message: 'first attempt' });
    // With a 10 ms backoff it would try about 100 times in this second; slowly, once or twice.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.attempts()).toBeLessThanOrEqual(3);
    await waitFor(() => server.attempts() >= 2, { message: 'it does retry', timeoutMs: 5000 });
    const wrongUrl = warnings().filter((w) => w.msg === 'wrong controller URL');
    expect(wrongUrl).toHaveLength(1);
    expect(String(wrongUrl[0]!.problem)).toContain(
      "SYNCGUARD_CONTROLLER_URL must be the controller's agent endpoint, ending in /agent",
    );
  } finally {
    await agent.close();
    await server.close();
  }
});

it('a controller certificate it cannot verify: names SYNCGUARD_CA_FILE, once, and retries slowly', async () => {
  const server = await upgradeCounter(
    https.createServer({ cert: fs.readFileSync(certs.serverCertFile), key: fs.readFileSync(certs.serverKeyFile) }),
  );
  const { agent, warnings } = await startAgent('untrusted', `${server.url}/agent`);
  try {
    await waitFor(() => warnings().length >= 1, { message: 'a warning' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.attempts()).toBeLessThanOrEqual(3);
    const tls = warnings().filter((w) => String(w.problem).includes('TLS certificate'));
    expect(tls).toHaveLength(1);
    expect(String(tls[0]!.problem)).toContain('set SYNCGUARD_CA_FILE to the PEM file of the CA that signed it');
  } finally {
    await agent.close();
    await server.close();
  }
});
