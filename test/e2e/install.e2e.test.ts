/**
 * A real install path (issue 15): `npm run package` makes `npm pack` tarballs of the
 * controller and the agent that install alone (protocol and portal inside) and Debian
 * packages with a systemd unit each. The programs then run by name: from a temporary
 * `npm install -g --prefix`, from the installed .deb (as root, where dpkg is), and inside
 * the checkout after `npm ci && npm run build`.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  ManagedProcess,
  startRedis,
  startSlapd,
  usersLdif,
  waitFor,
  type RedisServer,
  type SlapdServer,
} from '@syncguard/testkit';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/controller/package.json'), 'utf8')) as { version: string })
  .version;
const TOKEN = `install-test-${'x'.repeat(24)}`;
const PEOPLE = 'ou=people,dc=example,dc=com';

let tmp: string;
let out: string;
let prefix: string;
let files: string[];
let redis: RedisServer;
let slapd: SlapdServer;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-install-'));
  out = path.join(tmp, 'out');
  prefix = path.join(tmp, 'prefix');
  [redis, slapd] = await Promise.all([startRedis(), startSlapd({ seedLdif: usersLdif(PEOPLE, 3) })]);
  // One packaging run for every test below (the npm install in it takes about a minute).
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts/package.js'), '--out', out, '--prefix', prefix], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`npm run package failed:\n${result.stderr}`);
  files = result.stdout.trim().split('\n');
});

afterAll(async () => {
  await redis?.dispose();
  await slapd?.dispose();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A program by name, on a PATH with nothing of the checkout in it. */
function runByName(bin: string, args: string[], pathDirs: string[], env: Record<string, string> = {}) {
  return spawnSync(bin, args, {
    cwd: tmp,
    encoding: 'utf8',
    env: { PATH: [...pathDirs, '/usr/bin', '/bin'].join(':'), HOME: tmp, ...env },
    timeout: 30_000,
  });
}

function ctl(
  pathDirs: string[],
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'syncguardctl',
      args,
      { cwd: tmp, encoding: 'utf8', env: { PATH: [...pathDirs, '/usr/bin', '/bin'].join(':'), ...env } },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

/**
 * Starts `controller` (a program path or name), registers an agent with syncguardctl,
 * starts `agent` for it and waits until the controller sees it connected; checks the
 * portal is served. Everything from the installed files, nothing from the checkout.
 */
async function controllerAndAgent(o: {
  pathDirs: string[];
  controller: string[];
  agent: string[];
  env?: Record<string, string>;
  agentEnv?: Record<string, string>;
}): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { PATH: [...o.pathDirs, '/usr/bin', '/bin'].join(':'), HOME: tmp };
  const controller = new ManagedProcess(o.controller[0]!, o.controller.slice(1), {
    cwd: '/',
    env: {
      ...env,
      SYNCGUARD_PORT: String(port),
      SYNCGUARD_HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      SYNCGUARD_REDIS_PREFIX: `install-${port}`,
      SYNCGUARD_ADMIN_TOKEN: TOKEN,
      ...o.env,
    },
  });
  let agent: ManagedProcess | undefined;
  try {
    await waitFor(
      async () => {
        if (!controller.running) throw new Error(`the controller exited:\n${controller.log}`);
        return (await fetch(`${url}/healthz`).catch(() => null))?.status === 200;
      },
      { timeoutMs: 30_000, message: 'the installed controller to answer /healthz' },
    );
    const portal = await fetch(`${url}/`, { headers: { accept: 'text/html' } });
    expect(portal.status).toBe(200);
    expect(await portal.text()).toContain('<title>syncguard</title>');

    const ctlEnv = { SYNCGUARD_URL: url, SYNCGUARD_TOKEN: TOKEN };
    const registered = await ctl(o.pathDirs, ctlEnv, ['--json', 'agents', 'register', `dc-${port}`]);
    expect(registered.stderr).toBe('');
    const { token } = JSON.parse(registered.stdout) as { token: string };
    agent = new ManagedProcess(o.agent[0]!, o.agent.slice(1), {
      cwd: '/',
      env: {
        ...env,
        SYNCGUARD_CONTROLLER_URL: `ws://127.0.0.1:${port}/agent`,
        SYNCGUARD_AGENT_TOKEN: token,
        SYNCGUARD_STATE_DIR: path.join(tmp, `state-${port}`),
        LDAP_URL: slapd.url,
        LDAP_BIND_DN: slapd.rootDn,
        LDAP_BIND_PASSWORD: slapd.rootPassword,
        ...o.agentEnv,
      },
    });
    await waitFor(
      async () => {
        if (!agent!.running) throw new Error(`the agent exited:\n${agent!.log}`);
        const shown = await ctl(o.pathDirs, ctlEnv, ['--json', 'agents', 'show', `dc-${port}`]);
        return shown.code === 0 && (JSON.parse(shown.stdout) as { status: string }).status === 'connected';
      },
      { timeoutMs: 30_000, message: 'the installed agent to connect' },
    );
  } finally {
    await agent?.stop();
    await controller.stop();
  }
}

describe('npm pack tarballs', () => {
  it('carry @syncguard/protocol and, for the controller, the portal', () => {
    const list = (name: string) => execFileSync('tar', ['tzf', path.join(out, name)], { encoding: 'utf8' }).split('\n');
    const controller = list(`syncguard-controller-${VERSION}.tgz`);
    expect(controller).toEqual(
      expect.arrayContaining([
        'package/node_modules/@syncguard/protocol/dist/index.js',
        'package/portal/index.html',
        'package/examples/controller.yaml',
        'package/dist/main.js',
        'package/dist/cli/main.js',
      ]),
    );
    const agent = list(`syncguard-agent-${VERSION}.tgz`);
    expect(agent).toEqual(
      expect.arrayContaining([
        'package/node_modules/@syncguard/protocol/dist/index.js',
        'package/examples/agent.yaml',
        'package/dist/main.js',
      ]),
    );
    // No test code goes to users.
    expect([...controller, ...agent].filter((f) => /\.test\.|\/testing\//.test(f))).toEqual([]);
  });

  it('install with npm install -g into a prefix, and the three programs run by name', async () => {
    const bin = path.join(prefix, 'bin');
    for (const program of ['syncguard-controller', 'syncguard-agent', 'syncguardctl']) {
      const version = runByName(program, ['--version'], [bin]);
      expect({ program, status: version.status, stdout: version.stdout.trim() }).toEqual({ program, status: 0, stdout: VERSION });
      const help = runByName(program, ['--help'], [bin]);
      expect({ program, status: help.status }).toEqual({ program, status: 0 });
      expect(help.stdout).toMatch(/Usage: /);
    }
    await controllerAndAgent({ pathDirs: [bin], controller: ['syncguard-controller'], agent: ['syncguard-agent'] });
  });
});

const asRootWithDpkg = process.getuid?.() === 0 && spawnSync('dpkg', ['--version']).status === 0;

(asRootWithDpkg ? describe : describe.skip)('Debian packages (as root)', () => {
  const debs = () => files.filter((f) => f.endsWith('.deb'));
  afterAll(() => {
    spawnSync('dpkg', ['--purge', 'syncguard-controller', 'syncguard-agent'], { stdio: 'ignore' });
  });

  it('install with dpkg -i: systemd units, dedicated users, state folders 0700, settings in /etc/syncguard', () => {
    expect(
      debs()
        .map((f) => path.basename(f))
        .sort(),
    ).toEqual([
      expect.stringMatching(new RegExp(`^syncguard-agent_${VERSION}_[a-z0-9]+\\.deb$`)),
      expect.stringMatching(new RegExp(`^syncguard-controller_${VERSION}_[a-z0-9]+\\.deb$`)),
    ]);
    const installed = spawnSync('dpkg', ['-i', ...debs()], { encoding: 'utf8' });
    expect({ status: installed.status, stderr: installed.stderr }).toEqual({ status: 0, stderr: '' });
    for (const [user, home, unit, yaml, env] of [
      ['syncguard', '/var/lib/syncguard', 'syncguard-controller.service', 'controller.yaml', 'controller.env'],
      ['syncguard-agent', '/var/lib/syncguard-agent', 'syncguard-agent.service', 'agent.yaml', 'agent.env'],
    ] as const) {
      expect(spawnSync('getent', ['passwd', user]).status).toBe(0);
      const state = fs.statSync(home);
      expect({ home, mode: state.mode & 0o777 }).toEqual({ home, mode: 0o700 });
      expect(execFileSync('stat', ['-c', '%U', home], { encoding: 'utf8' }).trim()).toBe(user);
      const unitText = fs.readFileSync(`/lib/systemd/system/${unit}`, 'utf8');
      expect(unitText).toContain(`User=${user}`);
      expect(unitText).toMatch(/^Restart=on-failure$/m);
      expect(unitText).toContain(`--config /etc/syncguard/${yaml}`);
      expect(fs.existsSync(`/etc/syncguard/${yaml}`)).toBe(true);
      // Secrets: readable by root and the service's group only.
      expect({ env, mode: fs.statSync(`/etc/syncguard/${env}`).mode & 0o777 }).toEqual({ env, mode: 0o640 });
    }
    // A fresh admin token per installation.
    expect(fs.readFileSync('/etc/syncguard/controller.env', 'utf8')).toMatch(/^SYNCGUARD_ADMIN_TOKEN=[0-9a-f]{64}$/m);
  });

  const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  (hasSystemdAnalyze ? it : it.skip)('has units that systemd-analyze verify accepts', () => {
    const r = spawnSync(
      'systemd-analyze',
      ['verify', '/lib/systemd/system/syncguard-controller.service', '/lib/systemd/system/syncguard-agent.service'],
      { encoding: 'utf8' },
    );
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('starts the programs from their installed paths as their users, with the installed settings', async () => {
    const asUser = (user: string, program: string, config: string) => [
      '/usr/sbin/runuser',
      '-u',
      user,
      '--',
      program,
      '--config',
      config,
    ];
    await controllerAndAgent({
      pathDirs: [],
      controller: asUser('syncguard', '/usr/bin/syncguard-controller', '/etc/syncguard/controller.yaml'),
      agent: asUser('syncguard-agent', '/usr/bin/syncguard-agent', '/etc/syncguard/agent.yaml'),
      // What the example leaves to the site (no SMTP here, no proxy in front).
      env: { SMTP_URL: '' },
      agentEnv: { SYNCGUARD_STATE_DIR: '/var/lib/syncguard-agent' },
    });
    // syncguardctl is on the PATH too.
    expect(runByName('syncguardctl', ['--version'], []).stdout.trim()).toBe(VERSION);
  });
});

describe('inside the checkout, after npm ci && npm run build', () => {
  it('runs the three programs by name from node_modules/.bin', () => {
    const bin = path.join(ROOT, 'node_modules/.bin');
    for (const program of ['syncguard-controller', 'syncguard-agent', 'syncguardctl']) {
      const version = runByName(program, ['--version'], [bin]);
      expect({ program, status: version.status, stdout: version.stdout.trim() }).toEqual({ program, status: 0, stdout: VERSION });
    }
  });
});
