import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectType, SECRET_ATTRIBUTES } from '@syncguard/protocol';
import { compileAgentOptions } from '../agent-options';
import { SettingError } from '../errors';
import { resolveSettings } from '../settings';
import { compileAttributeFilter } from './attribute-filter';
import { mapEntry } from './entry-mapper';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-attributes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Everything the agent requires, as settings (the attribute lists come on top). */
const required = (stateDir: string): Record<string, string> => ({
  SYNCGUARD_CONTROLLER_URL: 'ws://127.0.0.1:8080/agent',
  LDAP_URL: 'ldap://127.0.0.1:389',
  SYNCGUARD_AGENT_TOKEN: 't',
  SYNCGUARD_AGENT_ID: 'a',
  LDAP_BIND_DN: 'cn=admin',
  LDAP_BIND_PASSWORD: 'pw',
  SYNCGUARD_STATE_DIR: stateDir,
});
const ENV = required(path.join(dir, 'state'));

const user = {
  dn: 'uid=ann,ou=people,dc=example,dc=com',
  objectClass: ['top', 'inetOrgPerson'],
  entryUUID: '3f1c2d9e-0000-4000-8000-000000000001',
  uid: 'ann',
  cn: 'Ann',
  mail: 'ann@example.com',
  description: 'x',
  userPassword: '{SSHA}secret',
  'userPassword;binary': '{SSHA}secret',
  SAMBANTPASSWORD: '8846F7EAEE8FB117AD06BDD830B7586C',
  sambaLMPassword: 'E52CAC67419A9A224A3B108F3FA6CB6D',
  krbPrincipalKey: 'key',
  userPKCS12: Buffer.from('p12'),
  pwdHistory: 'old',
  unicodePwd: 'pw',
  'ms-Mcs-AdmPwd': 'laps',
  'msLAPS-EncryptedPassword': 'laps',
  'msDS-KeyCredentialLink': 'B:828:...',
};

const names = (filter = compileAttributeFilter([], [])) =>
  mapEntry(user, {
    flavor: 'openldap',
    objectTypes: [ObjectType.OBJECT_TYPE_USER],
    disabledAttribute: '',
    attributes: filter,
  })!.attributes.map((a) => a.name);

describe('attributes a change carries', () => {
  it('never the password-equivalent ones, in any case and with options', () => {
    expect(names()).toEqual(['cn', 'description', 'mail', 'objectClass', 'uid']);
    // And without a filter given at all.
    const bare = mapEntry(user, { flavor: 'openldap', objectTypes: [ObjectType.OBJECT_TYPE_USER], disabledAttribute: '' })!;
    expect(bare.attributes.map((a) => a.name)).toEqual(['cn', 'description', 'mail', 'objectClass', 'uid']);
    for (const secret of SECRET_ATTRIBUTES) {
      expect(compileAttributeFilter([], []).carries(secret.toUpperCase())).toBe(false);
      expect(compileAttributeFilter([secret], []).carries(`${secret};binary`)).toBe(false);
    }
  });

  it('an allow list keeps only its attributes (never a secret one); the deny list wins over it', () => {
    expect(
      names(compileAttributeFilter(['uid', 'CN', 'mail', 'description', 'sambaNTPassword', 'userPassword'], ['Description'])),
    ).toEqual(['cn', 'mail', 'uid']);
    expect(names(compileAttributeFilter([], ['mail', 'objectclass']))).toEqual(['cn', 'description', 'uid']);
  });

  it('LDAP_ATTRIBUTES_ALLOW and LDAP_ATTRIBUTES_DENY: comma-separated in the environment, lists in the config file', () => {
    const fromEnv = compileAgentOptions(
      resolveSettings([], { ...ENV, LDAP_ATTRIBUTES_ALLOW: 'uid, cn,mail', LDAP_ATTRIBUTES_DENY: 'mail' }),
    );
    expect(names(fromEnv.ldap.attributeFilter)).toEqual(['cn', 'uid']);
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(file, 'LDAP_ATTRIBUTES_DENY:\n  - description\n  - objectClass\n');
    const fromFile = compileAgentOptions(resolveSettings(['--config', file], ENV));
    expect(names(fromFile.ldap.attributeFilter)).toEqual(['cn', 'mail', 'uid']);
    expect(() => compileAgentOptions(resolveSettings([], { ...ENV, LDAP_ATTRIBUTES_DENY: 'mail,(cn)' }))).toThrow(
      new SettingError('ldap.attributesDeny', '"(cn)" is not an attribute name'),
    );
  });
});
