import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ChangeKind, CycleErrorCode, CycleMode, ObjectType } from '@syncguard/protocol';
import { makeTestCertificates, startSlapd, usersLdif, waitFor, type SlapdServer } from '@syncguard/testkit';
import { Agent } from '../agent';
import { SettingError } from '../errors';
import type { AgentOptions } from '../agent-options';
import { MiniController } from '../testing/mini-controller';

/* LDAP over TLS against a real slapd serving ldaps:// and StartTLS with a private CA's certificate. */

jest.setTimeout(60_000);

const PEOPLE = 'ou=people,dc=example,dc=com';
const certs = makeTestCertificates();
let slapd: SlapdServer;
const stateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-ldaptls-'));

beforeAll(async () => {
  slapd = await startSlapd({
    seedLdif: usersLdif(PEOPLE, 5),
    tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
  });
});

afterAll(async () => {
  await slapd?.dispose();
  certs.dispose();
  fs.rmSync(stateRoot, { recursive: true, force: true });
});

/** One FULL cycle of a fresh agent with these LDAP settings, into a fresh controller. */
async function fullCycle(name: string, ldap: Partial<AgentOptions['ldap']>, baseDn = PEOPLE) {
  const controller = await MiniController.start();
  let agent: Agent | undefined;
  try {
    agent = await Agent.create(
      {
        controllerUrl: controller.url,
        agentToken: controller.token,
        agentId: name,
        stateDir: path.join(stateRoot, name),
        ldap: { url: slapd.url, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, ...ldap },
      },
      { logger: pino({ level: 'silent' }) },
    );
    await waitFor(() => controller.connected, { message: 'agent connected' });
    const cycleId = controller.startCycle(
      'cfg',
      { baseDn, objectTypes: [ObjectType.OBJECT_TYPE_USER], filter: '' },
      CycleMode.CYCLE_MODE_FULL,
      '',
    );
    await waitFor(() => controller.complete(cycleId) ?? controller.failed(cycleId), {
      message: `end of ${cycleId}`,
      timeoutMs: 30_000,
    });
    return { complete: controller.complete(cycleId), failed: controller.failed(cycleId), changes: controller.changes(cycleId) };
  } finally {
    await agent?.close();
    await controller.close();
  }
}

describe('LDAP over TLS', () => {
  it('reads over ldaps:// with the server certificate verified against ldap.caFile', async () => {
    const { complete, failed, changes } = await fullCycle('ldaps', { url: slapd.ldapsUrl, caFile: certs.caFile });
    expect(failed).toBeUndefined();
    expect(complete).toBeDefined();
    expect(changes.filter((c) => c.kind === ChangeKind.CHANGE_KIND_ADD)).toHaveLength(5);
  });

  it('reads over StartTLS on an ldap:// URL with ldap.caFile', async () => {
    const { complete, failed, changes } = await fullCycle('starttls', { url: slapd.url, startTls: true, caFile: certs.caFile });
    expect(failed).toBeUndefined();
    expect(complete).toBeDefined();
    expect(changes).toHaveLength(5);
  });

  it('refuses ldap.caFile with a plain ldap:// URL rather than read unencrypted while TLS seems on', async () => {
    const error = await fullCycle('plain-with-ca', { url: slapd.url, caFile: certs.caFile }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SettingError);
    expect(error).toMatchObject({ code: 'AGENT_ERR_INVALID_SETTING' });
    expect((error as Error).message).toMatch(/^ldap\.caFile: applies to ldaps:\/\/ URLs or StartTLS/);
  });

  it('refuses a server certificate it cannot verify: the cycle fails with LDAP_UNAVAILABLE and sends nothing', async () => {
    const { complete, failed, changes } = await fullCycle('untrusted', { url: slapd.ldapsUrl });
    expect(complete).toBeUndefined();
    expect(failed).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_LDAP_UNAVAILABLE });
    expect(failed?.message).toMatch(/certificate/i);
    // The message names the setting that fixes it.
    expect(failed?.message).toContain('self-signed or signed by an unknown CA): set LDAP_CA_FILE');
    expect(changes).toEqual([]);
  });
});

describe('LDAP errors that say what to do', () => {
  it('invalid credentials (49): check LDAP_BIND_DN and LDAP_BIND_PASSWORD', async () => {
    const { failed } = await fullCycle('bad-password', { bindPassword: 'wrong' });
    expect(failed).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_LDAP_BIND_FAILED, ldapResultCode: 49 });
    expect(failed?.message).toContain('invalid credentials: check LDAP_BIND_DN and LDAP_BIND_PASSWORD');
  });

  it('no such object (32): the base DN ... does not exist', async () => {
    const missing = 'ou=nowhere,dc=example,dc=com';
    const { failed, changes } = await fullCycle('no-base', {}, missing);
    expect(failed).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_LDAP_NO_SUCH_OBJECT, ldapResultCode: 32 });
    expect(failed?.message).toContain(`no such object: the base DN ${missing} does not exist`);
    expect(changes).toEqual([]);
  });
});
