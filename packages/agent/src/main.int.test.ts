import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CycleMode, ObjectType } from '@syncguard/protocol';
import { duplicateTopLevelKeys, type SlapdServer, startSlapd, usersLdif, waitFor } from '@syncguard/testkit';
import { MiniController } from './testing/mini-controller';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '../../..');
const mainJs = path.resolve(__dirname, '../dist/main.js');
const people = 'ou=people,dc=example,dc=com';
let slapd: SlapdServer;
let controller: MiniController;
const dirs: string[] = [];

function env(stateDir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    SYNCGUARD_CONTROLLER_URL: controller.url,
    SYNCGUARD_AGENT_TOKEN: controller.token,
    SYNCGUARD_AGENT_ID: 'agent-main',
    SYNCGUARD_STATE_DIR: stateDir,
    SYNCGUARD_LOG_LEVEL: 'info',
    LDAP_URL: slapd.url,
    LDAP_BIND_DN: slapd.rootDn,
    LDAP_BIND_PASSWORD: slapd.rootPassword,
    LDAP_PAGE_SIZE: '10',
  };
}

function runMain(environment: NodeJS.ProcessEnv, args: string[] = []) {
  const child = spawn(process.execPath, [mainJs, ...args], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

beforeAll(async () => {
  // The program under test is the built one: build it (incremental, fast when up to date).
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', path.join(root, 'packages/agent')], {
    stdio: 'inherit',
  });
  slapd = await startSlapd({ seedLdif: usersLdif(people, 200) });
  controller = await MiniController.start({ welcome: { maxBatchChanges: 10, maxInFlightBatches: 1 } });
});

afterAll(async () => {
  await controller?.close();
  await slapd?.dispose();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-main-'));
  dirs.push(dir);
  return dir;
}

it('refuses to start without a required setting and names it', async () => {
  const environment = env(tmpDir());
  delete environment['LDAP_BIND_DN'];
  const run = runMain(environment);
  expect(await run.exited).toBe(78);
  expect(run.err()).toContain('LDAP_BIND_DN');
});

it('exits 0 on SIGTERM in the middle of a cycle, logging JSON, and the cycle resumes after a restart', async () => {
  const stateDir = tmpDir();
  const run = runMain(env(stateDir));
  await waitFor(() => controller.connected, { message: 'agent connected' });
  controller.autoAck = false;
  const cycleId = controller.startCycle(
    'cfg',
    { baseDn: people, objectTypes: [ObjectType.OBJECT_TYPE_USER] },
    CycleMode.CYCLE_MODE_FULL,
  );
  await waitFor(() => controller.sequences(cycleId).length === 1, { message: 'first batch' });
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  const lines = run
    .out()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string; level: number });
  expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['agent started', 'cycle started', 'agent stopped']));
  // For operators: ISO-8601 times, the program named, no key twice in one line.
  for (const line of run.out().trim().split('\n')) {
    expect((JSON.parse(line) as { time: string }).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect({ line, twice: duplicateTopLevelKeys(line) }).toEqual({ line, twice: [] });
  }
  expect(lines[0]).toMatchObject({ name: 'syncguard-agent' });

  controller.autoAck = true;
  const again = runMain(env(stateDir));
  await waitFor(() => controller.complete(cycleId), { message: 'resumed cycle complete', timeoutMs: 30_000 });
  expect(controller.hellos.at(-1)!.cursors).toEqual([
    { configurationId: 'cfg', committedCycleId: '', pendingCycleId: '', runningCycleId: cycleId },
  ]);
  expect(new Set(controller.changes(cycleId).map((c) => c.objectId)).size).toBe(200);
  expect(controller.changes(cycleId)).toHaveLength(200);
  again.child.kill('SIGINT');
  expect(await again.exited).toBe(0);
});
