import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileAgentOptions } from './agent-options';
import { SettingError, type SettingsError } from './errors';
import { resolveSettings, settingName } from './settings';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENV = {
  SYNCGUARD_CONTROLLER_URL: 'ws://127.0.0.1:8080/agent',
  SYNCGUARD_AGENT_TOKEN: 'token',
  SYNCGUARD_AGENT_ID: 'agent-1',
  SYNCGUARD_STATE_DIR: path.join(dir, 'state'),
  LDAP_URL: 'ldap://127.0.0.1:389',
  LDAP_BIND_DN: 'cn=admin,dc=example,dc=com',
  LDAP_BIND_PASSWORD: 'secret',
};

/** The message main.ts prints for a bad setting. */
function failure(argv: string[], env: Record<string, string | undefined>): string {
  try {
    compileAgentOptions(resolveSettings(argv, env));
  } catch (error) {
    if (error instanceof SettingError) return `${settingName(error.setting)}: ${error.message}`;
    throw error;
  }
  throw new Error('no error');
}

describe('settings', () => {
  it('reads the contract names from the environment and applies defaults', () => {
    const options = compileAgentOptions(resolveSettings([], ENV));
    expect(options.controllerUrl).toBe(ENV.SYNCGUARD_CONTROLLER_URL);
    expect(options.ldap).toMatchObject({
      url: ENV.LDAP_URL,
      bindDn: ENV.LDAP_BIND_DN,
      startTls: false,
      pageSize: 300,
      directory: 'auto',
      changeTracking: 'auto',
      accesslogBase: 'cn=accesslog',
      fullScanIntervalMs: 24 * 3600 * 1000,
      operationTimeoutMs: 120_000,
    });
    expect(options.stateDir).toBe(ENV.SYNCGUARD_STATE_DIR);
    expect(fs.existsSync(ENV.SYNCGUARD_STATE_DIR)).toBe(true);
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.ldap)).toBe(true);
  });

  it('takes every LDAP_CHANGE_TRACKING value the contract names, dirsync included', () => {
    for (const value of ['auto', 'dirsync', 'usn', 'accesslog', 'scan']) {
      const options = compileAgentOptions(resolveSettings([], { ...ENV, LDAP_CHANGE_TRACKING: value }));
      expect(options.ldap.changeTracking).toBe(value);
    }
  });

  it('lets flags override the environment, which overrides the config file', () => {
    const yamlFile = path.join(dir, 'agent.yaml');
    fs.writeFileSync(
      yamlFile,
      'LDAP_URL: ldap://from-file:389\nLDAP_PAGE_SIZE: 50\nSYNCGUARD_AGENT_ID: file-agent\nLDAP_STARTTLS: true\n',
    );
    const env = { ...ENV, LDAP_URL: 'ldap://from-env:389', SYNCGUARD_AGENT_ID: undefined };
    const options = compileAgentOptions(resolveSettings(['--config', yamlFile, '--ldap-url', 'ldap://from-flag:389'], env));
    expect(options.ldap.url).toBe('ldap://from-flag:389');
    expect(options.ldap.pageSize).toBe(50);
    expect(options.ldap.startTls).toBe(true);
    expect(options.agentId).toBe('file-agent');

    const jsonFile = path.join(dir, 'agent.json');
    fs.writeFileSync(jsonFile, JSON.stringify({ ...ENV, LDAP_BIND_DN: 'cn=json' }));
    expect(compileAgentOptions(resolveSettings(['--config', jsonFile], {})).ldap.bindDn).toBe('cn=json');
  });

  it.each([
    [
      'a missing token',
      { SYNCGUARD_AGENT_TOKEN: undefined },
      [],
      /^SYNCGUARD_AGENT_TOKEN \(--agent-token\): agentToken: is required/,
    ],
    ['a missing LDAP URL', { LDAP_URL: undefined }, [], /^LDAP_URL \(--ldap-url\)/],
    ['a missing state dir', { SYNCGUARD_STATE_DIR: undefined }, [], /^SYNCGUARD_STATE_DIR/],
    [
      'an http controller URL',
      { SYNCGUARD_CONTROLLER_URL: 'http://x/agent' },
      [],
      /^SYNCGUARD_CONTROLLER_URL.*ws:\/\/ or wss:\/\//,
    ],
    ['a bad LDAP URL', { LDAP_URL: 'http://dir' }, [], /^LDAP_URL.*ldap:\/\//],
    ['a bad page size', { LDAP_PAGE_SIZE: 'many' }, [], /^LDAP_PAGE_SIZE/],
    ['a bad boolean', { LDAP_STARTTLS: 'maybe' }, [], /^LDAP_STARTTLS/],
    ['StartTLS on ldaps', { LDAP_STARTTLS: 'true', LDAP_URL: 'ldaps://dir:636' }, [], /^LDAP_STARTTLS/],
    ['a missing CA file', { LDAP_CA_FILE: '/nonexistent/ca.pem', LDAP_URL: 'ldaps://dir:636' }, [], /^LDAP_CA_FILE.*cannot read/],
    ['a CA file for a plain ldap:// URL', { LDAP_CA_FILE: '/etc/hostname' }, [], /^LDAP_CA_FILE.*not encrypted/],
    ['a certificate without key', { SYNCGUARD_CLIENT_CERT_FILE: '/etc/hostname' }, [], /^SYNCGUARD_CLIENT_KEY_FILE/],
    ['a bad log level', { SYNCGUARD_LOG_LEVEL: 'loud' }, [], /^SYNCGUARD_LOG_LEVEL/],
    ['a bad duration', { LDAP_TIMEOUT: 'soon' }, [], /^LDAP_TIMEOUT.*not a duration/],
    ['an unknown directory kind', { LDAP_DIRECTORY: 'eDirectory' }, [], /^LDAP_DIRECTORY.*auto, openldap or ad/],
    [
      'an unknown change tracking',
      { LDAP_CHANGE_TRACKING: 'journal' },
      [],
      /^LDAP_CHANGE_TRACKING.*auto, dirsync, usn, accesslog or scan/,
    ],
    ['an accesslog base that is no DN', { LDAP_ACCESSLOG_BASE: 'accesslog' }, [], /^LDAP_ACCESSLOG_BASE.*must be a DN/],
    [
      'a full scan interval under a second',
      { LDAP_FULL_SCAN_INTERVAL: '10ms' },
      [],
      /^LDAP_FULL_SCAN_INTERVAL.*at least 1000 ms/,
    ],
    ['an unknown flag', {}, ['--colour'], /^arguments.*unknown option/],
    ['a missing config file', {}, ['--config', '/nonexistent.yaml'], /^--config.*cannot read/],
  ])('stops on %s with a message naming the setting', (_name, overrides, argv, message) => {
    expect(failure(argv as string[], { ...ENV, ...(overrides as Record<string, string | undefined>) })).toMatch(message);
  });

  it('rejects an unknown key in the config file', () => {
    const file = path.join(dir, 'typo.yaml');
    fs.writeFileSync(file, 'LDAP_ULR: ldap://x\n');
    expect(failure(['--config', file], ENV)).toMatch(/^--config.*unknown setting LDAP_ULR/);
  });
});

describe('the config file of the repository', () => {
  it('loads, with the secrets from the environment', () => {
    const example = path.resolve(__dirname, '../examples/agent.yaml');
    const options = resolveSettings(['--config', example, '--state-dir', path.join(dir, 'example-state')], {
      SYNCGUARD_AGENT_TOKEN: 'token',
      LDAP_BIND_PASSWORD: 'secret',
    });
    const compiled = compileAgentOptions(options);
    expect(compiled).toMatchObject({
      controllerUrl: 'wss://syncguard.example.com/agent',
      ldap: { url: 'ldaps://dc1.corp.example.com:636', pageSize: 300, operationTimeoutMs: 120_000 },
    });
    expect(fs.statSync(path.join(dir, 'example-state')).mode & 0o777).toBe(0o700);
  });

  it('reports every problem at once', () => {
    const file = path.join(dir, 'many.yaml');
    fs.writeFileSync(file, 'LDAP_ULR: ldap://x\nldap_bind_dn: x\nLDAP_PAGE_SIZE: many\n');
    let problems: string[] = [];
    try {
      resolveSettings(['--config', file], ENV);
    } catch (error) {
      problems = (error as SettingsError).problems.map((p) => p.message);
    }
    expect(problems).toEqual([
      expect.stringContaining('unknown setting LDAP_ULR'),
      expect.stringContaining('unknown setting ldap_bind_dn (did you mean LDAP_BIND_DN?)'),
      expect.stringContaining('LDAP_PAGE_SIZE: must be a whole number'),
    ]);
    let compiled: string[] = [];
    try {
      compileAgentOptions({ ldap: { url: 'http://x' } } as never);
    } catch (error) {
      compiled = (error as SettingsError).problems.map((p) => p.setting);
    }
    expect(compiled).toEqual(
      expect.arrayContaining(['controllerUrl', 'ldap.url', 'stateDir', 'agentToken', 'ldap.bindDn', 'ldap.bindPassword']),
    );
  });
});
