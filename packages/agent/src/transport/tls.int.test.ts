import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { makeTestCertificates, waitFor } from '@syncguard/testkit';
import { Agent } from '../agent';
import { MiniController } from '../testing/mini-controller';

const certs = makeTestCertificates('agent-tls');
const dir = certs.dir;
const file = (name: string) => path.join(dir, name);

let controller: MiniController | undefined;
let agent: Agent | undefined;

afterAll(async () => {
  await agent?.close();
  await controller?.close();
  certs.dispose();
});

it('connects to a wss:// controller verified with SYNCGUARD_CA_FILE and presents its client certificate (mutual TLS)', async () => {
  const read = (name: string) => fs.readFileSync(file(name));
  controller = await MiniController.start({ tls: { cert: read('server.pem'), key: read('server.key'), ca: read('ca.pem') } });
  agent = await Agent.create(
    {
      controllerUrl: controller.url,
      agentToken: controller.token,
      agentId: 'agent-tls',
      stateDir: path.join(dir, 'state'),
      controllerCaFile: file('ca.pem'),
      clientCertFile: file('client.pem'),
      clientKeyFile: file('client.key'),
      ldap: { url: 'ldap://127.0.0.1:1', bindDn: 'cn=x', bindPassword: 'x' },
    },
    { logger: pino({ level: 'silent' }) },
  );
  expect(controller.url.startsWith('wss://')).toBe(true);
  await waitFor(() => controller!.connected, { message: 'agent connected over TLS' });
  expect(controller.hellos[0]?.agentId).toBe('agent-tls');
  expect(controller.clientCertificates).toEqual(['agent-tls']);
});
