import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ChangeKind, CycleErrorCode, CycleMode, ObjectType } from '@syncguard/protocol';
import { startSlapd, usersLdif, waitFor, type SlapdServer } from '@syncguard/testkit';
import { Agent } from './agent';
import type { AgentOptions } from './agent-options';
import { MiniController } from './testing/mini-controller';

jest.setTimeout(60_000);

const FULL = CycleMode.CYCLE_MODE_FULL;
const USERS = 300;
const people = 'ou=people,dc=example,dc=com';
const scope = { baseDn: people, objectTypes: [ObjectType.OBJECT_TYPE_USER] };
const silent = pino({ level: 'silent' });

let slapd: SlapdServer;
const dirs: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-agent-'));
  dirs.push(dir);
  return dir;
}

async function controllerWith(welcome: { maxBatchChanges: number; maxInFlightBatches: number }, token = 'test-token') {
  const controller = await MiniController.start({ welcome, token });
  cleanups.push(() => controller.close());
  return controller;
}

async function agentFor(
  controller: MiniController,
  stateDir: string,
  ldap: Partial<AgentOptions['ldap']> = {},
  token = controller.token,
) {
  const agent = await Agent.create(
    {
      controllerUrl: controller.url,
      agentToken: token,
      agentId: 'agent-r',
      stateDir,
      reconnectInitialDelay: '20ms',
      reconnectMaxDelay: '100ms',
      ldap: { url: slapd.url, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, pageSize: 20, deltaSkew: '0s', ...ldap },
    },
    { logger: silent },
  );
  cleanups.push(() => agent.close());
  return agent;
}

function end(controller: MiniController, cycleId: string) {
  return waitFor(() => controller.complete(cycleId) ?? controller.failed(cycleId), {
    message: `end of ${cycleId}`,
    timeoutMs: 30_000,
  });
}

beforeAll(async () => {
  slapd = await startSlapd({ seedLdif: usersLdif(people, USERS) });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await slapd?.dispose();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

it('loses and duplicates nothing when the WebSocket drops in the middle of a cycle', async () => {
  const controller = await controllerWith({ maxBatchChanges: 10, maxInFlightBatches: 3 });
  await agentFor(controller, tmpDir());
  await waitFor(() => controller.connected);
  let dropped = false;
  controller.onBatch = (batch) => {
    if (batch.sequence === 5 && !dropped) {
      dropped = true;
      controller.dropConnection(); // batch 5 is never acknowledged on this connection
    }
  };
  const cycleId = controller.startCycle('cfg', scope, FULL);
  await end(controller, cycleId);
  expect(dropped).toBe(true);
  expect(controller.hellos).toHaveLength(2);
  expect(controller.hellos[1]!.cursors).toEqual([
    { configurationId: 'cfg', committedCycleId: '', pendingCycleId: '', runningCycleId: cycleId },
  ]);
  expect(controller.resent(cycleId)).toBeGreaterThan(0);
  const complete = controller.complete(cycleId)!;
  expect(controller.sequences(cycleId)).toEqual(Array.from({ length: complete.lastSequence }, (_, i) => i + 1));
  const ids = controller.changes(cycleId).map((c) => c.objectId);
  expect(ids).toHaveLength(USERS);
  expect(new Set(ids).size).toBe(USERS);
  expect(complete.totals.adds).toBe(USERS);
  expect(controller.errors).toEqual([]);
});

it('resends the unacknowledged batches and finishes the cycle after the agent restarts mid-cycle', async () => {
  const controller = await controllerWith({ maxBatchChanges: 10, maxInFlightBatches: 2 });
  controller.autoAck = false;
  const stateDir = tmpDir();
  const first = await agentFor(controller, stateDir);
  await waitFor(() => controller.connected);
  const cycleId = controller.startCycle('cfg', scope, FULL);
  await waitFor(() => controller.sequences(cycleId).length === 2, { message: 'two batches in flight' });
  await first.close(); // the window is full: the read waits, then stops with the batches unacknowledged
  controller.autoAck = true;
  await agentFor(controller, stateDir);
  await end(controller, cycleId);
  expect(controller.hellos.at(-1)!.cursors).toEqual([
    { configurationId: 'cfg', committedCycleId: '', pendingCycleId: '', runningCycleId: cycleId },
  ]);
  expect(controller.resent(cycleId)).toBe(2);
  const complete = controller.complete(cycleId)!;
  expect(controller.sequences(cycleId)).toEqual(Array.from({ length: complete.lastSequence }, (_, i) => i + 1));
  const ids = controller.changes(cycleId).map((c) => c.objectId);
  expect(new Set(ids).size).toBe(USERS);
  expect(ids).toHaveLength(USERS);
  expect(controller.errors).toEqual([]);
});

it('fails the cycle with LDAP_UNAVAILABLE and sends no delete when slapd dies in the middle of a read', async () => {
  const controller = await controllerWith({ maxBatchChanges: 10, maxInFlightBatches: 1 });
  const agent = await agentFor(controller, tmpDir(), { pageSize: 5 });
  await waitFor(() => controller.connected);
  const first = controller.startCycle('cfg', scope, FULL);
  await end(controller, first);
  controller.commit('cfg', first);
  await waitFor(() => agent.cursors()[0]?.committedCycleId === first);

  controller.autoAck = false;
  const second = controller.startCycle('cfg', scope, FULL, first);
  await waitFor(() => controller.sequences(second).length === 1, { message: 'first batch' });
  await slapd.kill();
  controller.autoAck = true;
  controller.ackAll(second);
  const failed = await waitFor(() => controller.failed(second), { message: 'CycleFailed' });
  expect(failed.code).toBe(CycleErrorCode.CYCLE_ERROR_LDAP_UNAVAILABLE);
  expect(controller.complete(second)).toBeUndefined();
  expect(controller.changes(second).filter((c) => c.kind === ChangeKind.CHANGE_KIND_DELETE)).toEqual([]);
  expect(agent.cursors()[0]).toMatchObject({ committedCycleId: first, pendingCycleId: '', runningCycleId: '' });
  expect(agent.cachedObjectCount('cfg')).toBe(USERS);

  // Back up: the next cycle sees everything unchanged, still no deletes.
  await slapd.start();
  const third = controller.startCycle('cfg', scope, FULL, first);
  await end(controller, third);
  expect(controller.complete(third)!.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, presents: USERS });
});

it('reports a refused bind and a missing base DN as cycle failures with their LDAP result codes', async () => {
  const controller = await controllerWith({ maxBatchChanges: 100, maxInFlightBatches: 4 });
  await agentFor(controller, tmpDir(), { bindPassword: 'wrong' });
  await waitFor(() => controller.connected);
  const badBind = controller.startCycle('cfg', scope, FULL);
  const failed = await waitFor(() => controller.failed(badBind));
  expect(failed).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_LDAP_BIND_FAILED, ldapResultCode: 49 });

  const controller2 = await controllerWith({ maxBatchChanges: 100, maxInFlightBatches: 4 });
  await agentFor(controller2, tmpDir());
  await waitFor(() => controller2.connected);
  const noBase = controller2.startCycle('cfg', { ...scope, baseDn: 'ou=nowhere,dc=example,dc=com' }, FULL);
  expect(await waitFor(() => controller2.failed(noBase))).toMatchObject({
    code: CycleErrorCode.CYCLE_ERROR_LDAP_NO_SUCH_OBJECT,
    ldapResultCode: 32,
  });
  const badFilter = controller2.startCycle('cfg', { ...scope, filter: '(&(uid=' }, FULL);
  expect(await waitFor(() => controller2.failed(badFilter))).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_INVALID_SCOPE });
});

it('stops with exit code 2 and does not reconnect when the controller refuses the token', async () => {
  const controller = await controllerWith({ maxBatchChanges: 100, maxInFlightBatches: 4 });
  const agent = await agentFor(controller, tmpDir(), {}, 'not-the-token');
  const exit = await agent.exited;
  expect(exit.code).toBe(2);
  expect(exit.error?.code).toBe('AGENT_ERR_CONNECTION_REFUSED');
  expect(controller.hellos).toHaveLength(0);
});

it('fails the cycle with LDAP_SIZE_LIMIT (result code 4) when a server size limit cuts the read short', async () => {
  // The rootdn has no limits in OpenLDAP: read as an ordinary account.
  const reader = [
    'dn: cn=reader,dc=example,dc=com',
    'objectClass: organizationalRole',
    'objectClass: simpleSecurityObject',
    'cn: reader',
    'userPassword: reader-secret',
    '',
    '',
  ].join('\n');
  const limited = await startSlapd({ seedLdif: usersLdif(people, 40) + reader, sizeLimit: 25 });
  cleanups.push(() => limited.dispose());
  const controller = await controllerWith({ maxBatchChanges: 10, maxInFlightBatches: 4 });
  const agent = await Agent.create(
    {
      controllerUrl: controller.url,
      agentToken: controller.token,
      agentId: 'agent-limited',
      stateDir: tmpDir(),
      ldap: { url: limited.url, bindDn: 'cn=reader,dc=example,dc=com', bindPassword: 'reader-secret', pageSize: 30 },
    },
    { logger: silent },
  );
  cleanups.push(() => agent.close());
  await waitFor(() => controller.connected);
  const cycleId = controller.startCycle('cfg', scope, FULL);
  const failed = await waitFor(() => controller.failed(cycleId) ?? controller.complete(cycleId));
  expect(controller.complete(cycleId)).toBeUndefined();
  expect(failed).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT, ldapResultCode: 4 });
});

it('reports a completed cycle without verdict as pending after a restart, and drops it when the next StartCycle is based elsewhere', async () => {
  const controller = await controllerWith({ maxBatchChanges: 100, maxInFlightBatches: 4 });
  const stateDir = tmpDir();
  const first = await agentFor(controller, stateDir);
  await waitFor(() => controller.connected);
  const committed = controller.startCycle('cfg', scope, FULL);
  await end(controller, committed);
  controller.commit('cfg', committed);
  await waitFor(() => first.cursors()[0]?.committedCycleId === committed);
  const unanswered = controller.startCycle('cfg', scope, FULL, committed);
  await end(controller, unanswered);
  await waitFor(() => first.cursors()[0]?.pendingCycleId === unanswered, { message: 'pending cursor' });
  await first.close();

  const second = await agentFor(controller, stateDir);
  await waitFor(() => controller.hellos.length === 2);
  expect(controller.hellos[1]!.cursors).toEqual([
    { configurationId: 'cfg', committedCycleId: committed, pendingCycleId: unanswered, runningCycleId: '' },
  ]);
  // The controller never applied it: the next cycle is based on the committed one, and sees no change.
  const next = controller.startCycle('cfg', scope, CycleMode.CYCLE_MODE_DELTA, committed);
  await end(controller, next);
  expect(controller.complete(next)).toMatchObject({ mode: CycleMode.CYCLE_MODE_DELTA, lastSequence: 0 });
  // The unanswered cycle is gone; the new one now waits for its verdict.
  expect(second.cursors()[0]).toMatchObject({ committedCycleId: committed, pendingCycleId: next });
});
