/**
 * syncguardctl against a running HTTP server (buildHttpApp listening on a free port, over
 * the in-memory test double of ControllerService and a real redis-server). Most commands
 * run in-process through runCli (same code as the binary, faster); the exit codes of the
 * real process and the confirmation prompt are checked by spawning the built CLI
 * (dist/cli/main.js, built first if stale). The prompt needs a terminal: the CLI refuses
 * without one unless --yes, so that test runs it under util-linux `script`, which gives
 * it a pty and feeds it our piped answer (no test-only switch in the CLI).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startRedis, type RedisServer } from '@syncguard/testkit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildHttpApp } from '../api/http-app';
import { httpStores } from '../store/http-stores';
import { InMemoryControllerService } from '../api/in-memory-service.test';
import { ControllerMetrics } from '../metrics';
import { runCli } from './program';

const ADMIN = 'cli-test-admin-token-0123456789abcdef';
const PACKAGE_DIR = path.resolve(__dirname, '../..');
const CLI_MAIN = path.join(PACKAGE_DIR, 'dist/cli/main.js');
let redisServer: RedisServer;
let redis: Redis;
let service: InMemoryControllerService;
let app: FastifyInstance;
let url: string;
let tmp: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function ctl(args: string[], options: { token?: string | null; tty?: boolean } = {}): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty ?? false });
  const env: Record<string, string | undefined> = { SYNCGUARD_URL: url };
  if (options.token !== null) env.SYNCGUARD_TOKEN = options.token ?? ADMIN;
  const code = await runCli(['node', 'syncguardctl', ...args], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    stdin,
    env,
  });
  return { code, stdout, stderr };
}

/** Runs the built binary; with `script`, under a pty fed with `input`. */
function spawnCtl(args: string[], options: { input?: string; pty?: boolean } = {}): Promise<Result> {
  const env = { ...process.env, SYNCGUARD_URL: url, SYNCGUARD_TOKEN: ADMIN };
  const quoted = [process.execPath, CLI_MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = options.pty
    ? spawn('script', ['-qec', quoted, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  if (options.input !== undefined) {
    // Answer once the prompt is up, as a person would.
    const answer = options.input;
    const timer = setInterval(() => {
      if (/\[y\/N\]/.test(stdout + stderr)) {
        clearInterval(timer);
        child.stdin.write(answer);
      }
    }, 20);
    child.once('exit', () => clearInterval(timer));
  } else child.stdin.end();
  return new Promise((resolve) => child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

function buildIfStale(): void {
  const sources = fs.readdirSync(path.join(PACKAGE_DIR, 'src/cli')).map((f) => path.join(PACKAGE_DIR, 'src/cli', f));
  const built = fs.existsSync(CLI_MAIN) ? fs.statSync(path.join(PACKAGE_DIR, 'dist/cli/program.js')).mtimeMs : 0;
  if (!sources.some((s) => fs.statSync(s).mtimeMs > built)) return;
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', PACKAGE_DIR], { stdio: 'pipe' });
  } catch (error) {
    // Type errors elsewhere in the package still emit dist/cli; only a missing CLI is fatal.
    if (!fs.existsSync(CLI_MAIN)) throw error;
  }
}

async function quarantinedConfig(name = 'corp.example.com', deletes = 612): Promise<{ id: string; cycleId: string }> {
  const created = await ctl(['--json', 'configs', 'create', '--name', name, '--base-dn', 'ou=people,dc=example,dc=com']);
  expect(created.code).toBe(0);
  const { id } = JSON.parse(created.stdout) as { id: string };
  return { id, cycleId: service.quarantine(id, deletes) };
}

beforeAll(async () => {
  buildIfStale();
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-cli-'));
}, 180_000);

beforeEach(async () => {
  await redis.flushall();
  service = new InMemoryControllerService();
  app = await buildHttpApp({
    service,
    metrics: new ControllerMetrics(),
    stores: httpStores(redis, 'sgcli'),
    adminToken: ADMIN,
    logger: pino({ level: 'silent' }),
    portalDir: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterEach(async () => {
  await app.close();
});

afterAll(async () => {
  redis?.disconnect();
  await redisServer?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('configs: create from flags and --file, list as a table and JSON, show and update by name, delete', async () => {
  const agent = await ctl(['--json', 'agents', 'register', 'dc1']);
  const agentId = JSON.parse(agent.stdout).id as string;
  let r = await ctl([
    'configs',
    'create',
    '--name',
    'corp.example.com',
    '--base-dn',
    'ou=people,dc=example,dc=com',
    '--filter',
    '(objectClass=inetOrgPerson)',
    '--object-types',
    'user,group',
    '--agent',
    'dc1',
    '--threshold',
    '300',
    '--notification-email',
    'ops@example.com',
    '--interval',
    '60',
  ]);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/created configuration/);
  const file = path.join(tmp, 'config.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ name: 'from-file', source: { baseDn: 'dc=example,dc=com' }, accidentalDeletes: { threshold: 10 } }),
  );
  r = await ctl(['--json', 'configs', 'create', '--file', file, '--threshold', '20']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ name: 'from-file', accidentalDeletes: { threshold: 20 } });

  r = await ctl(['configs', 'list']);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^ID\s+NAME\s+STATE\s+BASE DN\s+THRESHOLD\s+INTERVAL\s+AGENTS$/);
  expect(lines).toHaveLength(3);
  expect(r.stdout).toMatch(/corp\.example\.com\s+pending\s+ou=people,dc=example,dc=com\s+300\s+60s/);
  const listed = JSON.parse((await ctl(['configs', 'list', '--json'])).stdout) as { name: string; agentIds: string[] }[];
  expect(listed.find((c) => c.name === 'corp.example.com')?.agentIds).toEqual([agentId]);

  r = await ctl(['configs', 'show', 'corp.example.com']);
  expect(r.stdout).toMatch(/delete prevention:\s+on, threshold 300/);
  r = await ctl(['--json', 'configs', 'update', 'corp.example.com', '--threshold', '50', '--prevention', 'off']);
  expect(JSON.parse(r.stdout).accidentalDeletes).toMatchObject({ enabled: false, threshold: 50, countDisables: false });
  r = await ctl([
    '--json',
    'configs',
    'update',
    'corp.example.com',
    '--percentage',
    '10',
    '--minimum-objects',
    '500',
    '--group-threshold',
    '20',
    '--user-percentage',
    '5',
    '--window-hours',
    '24',
    '--window-threshold',
    '1000',
    '--protect-dn',
    'ou=admins,dc=example,dc=com',
    '--protect-id',
    'a1',
    'a2',
  ]);
  expect(JSON.parse(r.stdout).accidentalDeletes).toMatchObject({
    percentage: 10,
    minimumObjects: 500,
    perType: { group: { threshold: 20 }, user: { percentage: 5 } },
    window: { hours: 24, threshold: 1000 },
    protected: { dnSuffixes: ['ou=admins,dc=example,dc=com'], objectIds: ['a1', 'a2'] },
  });
  r = await ctl(['--json', 'configs', 'update', 'corp.example.com', '--percentage', 'off', '--window-hours', 'off']);
  expect(JSON.parse(r.stdout).accidentalDeletes).toMatchObject({ percentage: null, window: null });
  r = await ctl(['--json', 'configs', 'update', 'corp.example.com', '--prevention', 'on', '--member-removals', '2000']);
  expect(JSON.parse(r.stdout).accidentalDeletes).toMatchObject({ memberRemovals: { threshold: 2000 }, hold: 'cycle' });
  r = await ctl(['configs', 'show', 'corp.example.com']);
  expect(r.stdout).toMatch(/member removals:\s+2000 memberships a cycle/);
  r = await ctl(['--json', 'configs', 'update', 'corp.example.com', '--member-removals', 'off', '--hold', 'deletes']);
  expect(JSON.parse(r.stdout).accidentalDeletes).toMatchObject({ memberRemovals: null, hold: 'deletes' });
  r = await ctl(['configs', 'show', 'corp.example.com']);
  expect(r.stdout).toMatch(/hold:\s+deletes \(the delete lane\)/);
  r = await ctl(['configs', 'update', 'corp.example.com', '--hold', 'all']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--hold');
  // Text that is not a number goes as typed, for the API to refuse naming the field.
  r = await ctl(['configs', 'update', 'corp.example.com', '--member-removals', 'many']);
  expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('accidentalDeletes.memberRemovals.threshold') });
  r = await ctl(['configs', 'delete', 'from-file']);
  expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('deleted configuration from-file') });
  expect(JSON.parse((await ctl(['configs', 'list', '--json'])).stdout)).toHaveLength(1);
});

test("a failing call exits non-zero with the API's message", async () => {
  let r = await ctl(['configs', 'create', '--name', 'x', '--base-dn', 'dc=x', '--threshold', '0']);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/accidentalDeletes\.threshold: must be >= 1 \(HTTP 400, SG_ERR_INVALID_INPUT\)/);
  r = await ctl(['status', 'nope']);
  expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('no configuration with id or name "nope"') });
  r = await ctl(['configs', 'list'], { token: 'wrong' });
  expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('unknown or revoked (HTTP 401') });
  r = await ctl(['configs', 'list'], { token: null });
  expect(r).toMatchObject({
    code: 78,
    stderr: expect.stringContaining('invalid setting SYNCGUARD_TOKEN (--token): is required'),
  });
  const reader = JSON.parse((await ctl(['--json', 'tokens', 'create', 'viewer', '--role', 'reader'])).stdout) as {
    token: string;
  };
  const { id } = await quarantinedConfig();
  r = await ctl(['allow-deletes', id, '--yes'], { token: reader.token });
  expect(r).toMatchObject({ code: 1, stderr: expect.stringMatching(/needs an admin token.*\(HTTP 403, SG_ERR_FORBIDDEN\)/) });
  r = await ctl(['sync', id]);
  expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('HTTP 409') });
  r = await ctl(['configs', 'frobnicate']);
  expect(r.code).toBe(2);
});

test('agents, tokens, status, sync, logs, objects, restart and audit', async () => {
  let r = await ctl(['agents', 'register', 'dc1']);
  expect(r.stdout).toMatch(/token:\s+agent-secret-/);
  r = await ctl(['agents', 'list']);
  expect(r.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+LAST SEEN/);
  expect(r.stdout).toMatch(/dc1\s+disconnected/);
  expect((await ctl(['agents', 'show', 'dc1'])).stdout).toMatch(/status:\s+disconnected/);

  const created = JSON.parse((await ctl(['--json', 'tokens', 'create', 'grafana'])).stdout) as {
    id: string;
    token: string;
    role: string;
  };
  expect(created).toMatchObject({ role: 'reader', token: expect.stringMatching(/^sgt_/) });
  r = await ctl(['tokens', 'list']);
  expect(r.stdout).toMatch(/grafana\s+reader/);
  expect(r.stdout).not.toContain(created.token);
  expect((await ctl(['tokens', 'revoke', created.id])).stdout).toContain(`revoked token ${created.id}`);

  const { id, cycleId } = await quarantinedConfig('corp', 3);
  r = await ctl(['status', 'corp']);
  expect(r.stdout).toMatch(/state:\s+quarantined/);
  expect(r.stdout).toMatch(/TooManyDeletes: 3 staged deletes >= threshold 500/);
  expect(r.stdout).toMatch(/tripped by:\s+3 deletes >= threshold 500/);
  expect(JSON.parse((await ctl(['status', id, '--json'])).stdout)).toMatchObject({
    state: 'quarantined',
    quarantine: { deleteCount: 3 },
  });

  r = await ctl(['logs', 'corp', '--action', 'StagedDelete', '--cycle', cycleId]);
  const logLines = r.stdout.trim().split('\n');
  expect(logLines[0]).toMatch(/^AT\s+ACTION\s+STATUS\s+TYPE\s+DN\s+CAUSE\s+CYCLE\s+DETAILS$/);
  expect(logLines).toHaveLength(4);
  expect(logLines[1]).toMatch(/StagedDelete\s+staged\s+user\s+uid=user\d,ou=people/);
  expect(JSON.parse((await ctl(['logs', 'corp', '--json', '--action', 'Create'])).stdout)).toEqual([]);
  r = await ctl(['logs', 'corp', '--action', 'Remove']);
  expect(r.code).toBe(2);

  const at = '2026-11-24T10:00:00.000Z';
  service.objects.set(id, [
    { id: 'u1', type: 'user', dn: 'uid=a,dc=x', attributes: {}, disabled: false, memberDns: [], memberIds: [], updatedAt: at },
    {
      id: 'g1',
      type: 'group',
      dn: 'cn=g,dc=x',
      attributes: {},
      disabled: false,
      memberDns: ['uid=a,dc=x'],
      memberIds: [],
      updatedAt: at,
    },
  ]);
  r = await ctl(['objects', 'corp', '--type', 'group']);
  expect(r.stdout).toMatch(/g1\s+group\s+cn=g,dc=x\s+no\s+1/);
  expect(r.stdout).toContain('1 of 1 objects');
  expect(JSON.parse((await ctl(['objects', 'corp', '--json'])).stdout)).toMatchObject({ total: 2 });

  r = await ctl(['restart', 'corp']);
  expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining(`discarded cycle ${cycleId}`) });
  r = await ctl(['sync', 'corp', '--json']);
  expect(JSON.parse(r.stdout)).toEqual({ cycleId: expect.any(String) });

  r = await ctl(['audit']);
  expect(r.stdout).toMatch(/^AT\s+WHO\s+ACTION\s+TARGET\s+DETAILS/);
  expect(r.stdout).toMatch(/bootstrap-admin\s+restart\s+configuration\//);
  expect(r.stdout).toContain('token.revoke');
});

test('--help works on every command', async () => {
  const commands = [
    [],
    ['agents'],
    ['agents', 'list'],
    ['agents', 'register'],
    ['agents', 'show'],
    ['agents', 'delete'],
    ['agents', 'rotate-token'],
    ['configs'],
    ['configs', 'list'],
    ['configs', 'create'],
    ['configs', 'show'],
    ['configs', 'update'],
    ['configs', 'delete'],
    ['tokens'],
    ['tokens', 'list'],
    ['tokens', 'create'],
    ['tokens', 'revoke'],
    ['status'],
    ['sync'],
    ['logs'],
    ['allow-deletes'],
    ['restart'],
    ['objects'],
    ['audit'],
  ];
  for (const command of commands) {
    const r = await ctl([...command, '--help']);
    expect({ command, code: r.code, usage: r.stdout.startsWith('Usage: syncguardctl') }).toEqual({
      command,
      code: 0,
      usage: true,
    });
  }
  expect((await ctl(['configs', 'create', '--help'])).stdout).toContain('--notification-email');
  expect((await ctl(['allow-deletes', '--help'])).stdout).toContain('--yes');
});

describe('allow-deletes', () => {
  test('without a terminal and without --yes it refuses and applies nothing; --yes applies', async () => {
    const { id, cycleId } = await quarantinedConfig();
    let r = await ctl(['allow-deletes', 'corp.example.com']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('612 staged deletes (threshold 500)');
    expect(r.stderr).toContain('refusing to apply 612 deletes without confirmation: stdin is not a terminal. Pass --yes');
    expect(service.quarantines.has(id)).toBe(true);

    r = await ctl(['allow-deletes', 'corp.example.com', '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ state: 'applied', cycleId, deleted: 612, kept: 0 });
    expect(r.stderr).toContain('612 staged deletes');
    r = await ctl(['allow-deletes', 'corp.example.com', '--yes']);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('is not quarantined (state: healthy)') });
  });

  test('the built binary: exit codes of the real process', async () => {
    await quarantinedConfig();
    let r = await spawnCtl(['allow-deletes', 'corp.example.com']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('stdin is not a terminal');
    r = await spawnCtl(['--json', 'configs', 'list']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ name: 'corp.example.com', state: 'quarantined' })]);
    r = await spawnCtl(['configs', 'show', 'missing']);
    expect(r.code).toBe(1);
  });

  test('on a terminal it shows the staged count, asks, and applies only on yes', async () => {
    const { id } = await quarantinedConfig();
    let r = await spawnCtl(['allow-deletes', 'corp.example.com'], { pty: true, input: 'n\n' });
    expect(r.code).toBe(1);
    const said = r.stdout + r.stderr;
    expect(said.indexOf('612 staged deletes')).toBeGreaterThanOrEqual(0);
    expect(said.indexOf('612 staged deletes')).toBeLessThan(said.indexOf('Apply 612 deletes to corp.example.com?'));
    expect(said).toContain('aborted; nothing was deleted');
    expect(service.quarantines.has(id)).toBe(true);

    r = await spawnCtl(['allow-deletes', 'corp.example.com'], { pty: true, input: 'y\n' });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toContain('allowed: 612 objects deleted');
    expect(service.quarantines.has(id)).toBe(false);
    expect(service.audit[0]).toMatchObject({ action: 'allow-deletes', details: { deleted: 612 } });
  }, 30_000);
});
