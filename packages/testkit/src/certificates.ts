import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Files of a private test CA and the certificates it signed (PEM). */
export interface TestCertificates {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Removes the folder. */
  dispose(): void;
}

/**
 * A private CA, a server certificate for `serverAddress` (default 127.0.0.1, and localhost) and a client
 * certificate (`extendedKeyUsage=clientAuth`), all signed by it and valid for a day.
 * Made with the `openssl` program, in a temporary folder.
 */
export function makeTestCertificates(clientName = 'agent-tls', serverAddress = '127.0.0.1'): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-certs-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
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
    ['server', serverAddress, `subjectAltName=IP:${serverAddress},DNS:localhost`],
    ['client', clientName, 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
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
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client.key'),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
