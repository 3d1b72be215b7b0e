import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Agent } from './agent';
import { compileAgentOptions, type AgentOptions } from './agent-options';
import { SettingError } from './errors';
import { main } from './main';
import { redactUrl } from './redact';

/*
 * What the agent leaves where others could read it: its state folder and files, and its
 * log lines and setting errors. No controller is needed: the agent starts and retries.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-hardening-'));
  dirs.push(dir);
  return dir;
}

function options(stateDir: string, urls: { controller?: string; ldap?: string; startTls?: boolean } = {}): AgentOptions {
  return {
    controllerUrl: urls.controller ?? 'ws://127.0.0.1:9/agent',
    agentToken: 'sga_token',
    agentId: 'agent-1',
    stateDir,
    reconnectInitialDelay: '10s',
    ldap: { url: urls.ldap ?? 'ldap://127.0.0.1:9', bindDn: 'cn=admin', bindPassword: 'pw', startTls: urls.startTls },
  };
}

/** Starts an agent logging into `lines` (JSON objects), runs `during` while it runs, and closes it. */
async function runAgent(opts: AgentOptions, during: () => void = () => undefined): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const agent = await Agent.create(opts, { logger: pino({ level: 'debug' }, sink) });
  await new Promise((r) => setTimeout(r, 300));
  try {
    during();
  } finally {
    await agent.close();
  }
  return lines;
}

const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);

describe('agent state on disk', () => {
  const umask = process.umask(0o022);
  afterAll(() => process.umask(umask));

  it('is created readable by the agent user only: the folder 0700, agent.sqlite and its -wal and -shm 0600', async () => {
    const stateDir = path.join(tmpDir(), 'state');
    const db = path.join(stateDir, 'agent.sqlite');
    await runAgent(options(stateDir), () => {
      expect(mode(stateDir)).toBe('700');
      for (const file of [db, `${db}-wal`, `${db}-shm`]) expect({ file, mode: mode(file) }).toEqual({ file, mode: '600' });
    });
  });

  it('an existing folder and files open to others are tightened at start', async () => {
    const stateDir = path.join(tmpDir(), 'state');
    await runAgent(options(stateDir));
    const db = path.join(stateDir, 'agent.sqlite');
    fs.chmodSync(stateDir, 0o755);
    fs.chmodSync(db, 0o644);
    await runAgent(options(stateDir));
    expect(mode(stateDir)).toBe('700');
    expect(mode(db)).toBe('600');
  });
});

describe('agent logs and setting errors', () => {
  it('never show URL credentials or secret query values; plain text over a network is warned about once', async () => {
    const lines = await runAgent(
      options(tmpDir(), {
        controller: 'ws://relay:R3layPass@controller.example.invalid:8080/agent?token=T0kenValue',
        ldap: 'ldap://svc:S3cretBind@dc1.example.invalid:389',
      }),
    );
    const text = JSON.stringify(lines);
    for (const secret of ['R3layPass', 'T0kenValue', 'S3cretBind']) expect(text).not.toContain(secret);
    const started = lines.find((l) => l.msg === 'agent started');
    expect(started).toMatchObject({
      controllerUrl: 'ws://***@controller.example.invalid:8080/agent?token=***',
      ldapUrl: 'ldap://***@dc1.example.invalid:389',
    });
    const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(warnings.filter((w) => w.startsWith('SYNCGUARD_CONTROLLER_URL') && w.includes('ws://'))).toHaveLength(1);
    expect(warnings.filter((w) => w.startsWith('LDAP_URL') && w.includes('StartTLS'))).toHaveLength(1);
  });

  it('no transport warning for loopback, wss:// or StartTLS', async () => {
    const quiet = async (urls: Parameters<typeof options>[1]) =>
      (await runAgent(options(tmpDir(), urls))).filter((l) => /^(SYNCGUARD_CONTROLLER_URL|LDAP_URL) /.test(String(l.msg)));
    expect(await quiet({ controller: 'ws://localhost:9/agent', ldap: 'ldap://[::1]:9' })).toEqual([]);
    expect(
      await quiet({ controller: 'wss://controller.example.invalid/agent', ldap: 'ldap://dc1.example.invalid', startTls: true }),
    ).toEqual([]);
    expect(await quiet({ controller: 'wss://controller.example.invalid/agent', ldap: 'ldaps://dc1.example.invalid' })).toEqual(
      [],
    );
  });

  it('a bad URL setting is named without its credentials', () => {
    const message = (urls: Parameters<typeof options>[1]) => {
      try {
        compileAgentOptions(options(tmpDir(), urls));
      } catch (error) {
        if (error instanceof SettingError) return error.message;
      }
      throw new Error('no SettingError');
    };
    const ldap = message({ ldap: 'ftp://svc:S3cretBind@dc1.example.invalid' });
    expect(ldap).toMatch(/^ldap\.url: /);
    expect(ldap).not.toContain('S3cretBind');
    const controller = message({ controller: 'ws//relay:R3layPass@controller/agent?token=T0kenValue' });
    expect(controller).toMatch(/^controllerUrl: not a URL/);
    expect(controller).not.toMatch(/R3layPass|T0kenValue/);
    expect(redactUrl('wss://host/agent?token=a&x=1&api_key=b')).toBe('wss://host/agent?token=***&x=1&api_key=***');
  });

  it('syncguard-agent prints a bad URL setting on stderr without its credentials', async () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const code = await main([], {
        SYNCGUARD_CONTROLLER_URL: 'ws://127.0.0.1:9/agent',
        SYNCGUARD_AGENT_TOKEN: 't',
        SYNCGUARD_AGENT_ID: 'a',
        SYNCGUARD_STATE_DIR: tmpDir(),
        LDAP_URL: 'ftp://svc:S3cretBind@dc1.example.invalid',
        LDAP_BIND_DN: 'cn=admin',
        LDAP_BIND_PASSWORD: 'pw',
      });
      expect(code).toBe(78); // a bad setting, as in every syncguard program
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toMatch(/invalid setting LDAP_URL \(--ldap-url\): .*ftp:\/\/\*\*\*@dc1\.example\.invalid/);
    expect(written.join('')).not.toContain('S3cretBind');
  });
});
