import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { waitFor } from '@syncguard/testkit';
import { Agent } from '../agent';
import { MiniController } from '../testing/mini-controller';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-tls-'));
const file = (name: string) => path.join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

let controller: MiniController | undefined;
let agent: Agent | undefined;

beforeAll(() => {
  // A private CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it.
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'agent-tls', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    fs.writeFileSync(file(`${name}.ext`), `${ext}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  }
});

afterAll(async () => {
  await agent?.close();
  await controller?.close();
  fs.rmSync(dir, { recursive: true, force: true });
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
