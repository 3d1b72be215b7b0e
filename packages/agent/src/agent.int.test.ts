import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ChangeKind, CycleMode, ObjectType, type Change } from '@syncguard/protocol';
import { startSlapd, usersLdif, groupLdif, userDns, userLdif, waitFor, type SlapdServer } from '@syncguard/testkit';
import { Agent } from './agent';
import type { AgentOptions } from './agent-options';
import { MiniController } from './testing/mini-controller';

jest.setTimeout(60_000);

const FULL = CycleMode.CYCLE_MODE_FULL;
const DELTA = CycleMode.CYCLE_MODE_DELTA;
const silent = pino({ level: 'silent' });

let slapd: SlapdServer;
let controller: MiniController;
const dirs: string[] = [];
const agents: Agent[] = [];

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-agent-'));
  dirs.push(dir);
  return dir;
}

function optionsFor(stateDir: string, extra: Partial<AgentOptions['ldap']> = {}, url = controller.url): AgentOptions {
  return {
    controllerUrl: url,
    agentToken: controller.token,
    agentId: 'agent-1',
    stateDir,
    reconnectInitialDelay: '50ms',
    reconnectMaxDelay: '200ms',
    ldap: { url: slapd.url, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, pageSize: 50, deltaSkew: '0s', ...extra },
  };
}

async function startAgent(options: AgentOptions): Promise<Agent> {
  const agent = await Agent.create(options, { logger: silent });
  agents.push(agent);
  await waitFor(() => controller.connected, { message: 'agent connected' });
  return agent;
}

async function finished(cycleId: string, server = controller) {
  return waitFor(() => server.complete(cycleId) ?? server.failed(cycleId), { message: `end of ${cycleId}`, timeoutMs: 30_000 });
}

async function runCycle(
  configurationId: string,
  baseDn: string,
  mode: CycleMode,
  base: string,
  types = [ObjectType.OBJECT_TYPE_USER],
  filter = '',
) {
  const cycleId = controller.startCycle(configurationId, { baseDn, objectTypes: types, filter }, mode, base);
  const end = await finished(cycleId);
  expect(controller.failed(cycleId)).toBeUndefined();
  return { cycleId, complete: end as NonNullable<ReturnType<MiniController['complete']>>, changes: controller.changes(cycleId) };
}

function byKind(changes: Change[]): Record<string, string[]> {
  const out: Record<string, string[]> = { add: [], modify: [], delete: [], present: [] };
  const names: Record<number, string> = { 1: 'add', 2: 'modify', 3: 'delete', 4: 'present' };
  for (const c of changes) out[names[c.kind]!]!.push(c.dn);
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

beforeAll(async () => {
  const people = 'ou=people,dc=example,dc=com';
  const groups = 'ou=groups,dc=example,dc=com';
  slapd = await startSlapd({
    seedLdif:
      usersLdif(people, 20) +
      groupLdif(groups, 'staff', userDns(people, 5)) +
      ['dn: ou=archive,dc=example,dc=com', 'objectClass: organizationalUnit', 'ou: archive', '', ''].join('\n'),
  });
  controller = await MiniController.start();
});

afterAll(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  await controller?.close();
  await slapd?.dispose();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('agent against a real slapd and a protocol peer', () => {
  const people = 'ou=people,dc=example,dc=com';

  it('streams a first FULL cycle, then detects adds, modifies, deletes, moves out of scope and renames; restarts keep the cache; an aborted cycle is computed again', async () => {
    const stateDir = tmpDir();
    let agent = await startAgent(optionsFor(stateDir));
    expect(controller.hellos.at(-1)).toMatchObject({ agentId: 'agent-1', protocolVersions: [1], cursors: [] });

    // First FULL: every user is an ADD with its attributes and a 32-byte hash.
    const first = await runCycle('cfg-users', people, FULL, '');
    expect(first.complete.mode).toBe(FULL);
    expect(first.complete.totals).toEqual({ adds: 20, modifies: 0, deletes: 0, presents: 0 });
    expect(first.complete.lastSequence).toBe(controller.sequences(first.cycleId).length);
    const user0 = first.changes.find((c) => c.dn === `uid=user0,${people}`)!;
    expect(user0.kind).toBe(ChangeKind.CHANGE_KIND_ADD);
    expect(user0.objectType).toBe(ObjectType.OBJECT_TYPE_USER);
    expect(user0.objectId).toMatch(/^[0-9a-f-]{36}$/);
    expect(user0.contentHash).toHaveLength(32);
    expect(user0.attributes.find((a) => a.name === 'mail')?.values).toEqual(['user0@example.com']);
    expect(user0.attributes.map((a) => a.name.toLowerCase())).not.toContain('userpassword');
    controller.commit('cfg-users', first.cycleId);
    await waitFor(() => agent.cursors().find((c) => c.committedCycleId === first.cycleId), { message: 'commit applied' });
    expect(agent.cachedObjectCount('cfg-users')).toBe(20);

    // Nothing changed: FULL says PRESENT for everyone, DELTA says nothing.
    const unchanged = await runCycle('cfg-users', people, FULL, first.cycleId);
    expect(unchanged.complete.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, presents: 20 });
    expect(unchanged.changes.every((c) => c.kind === ChangeKind.CHANGE_KIND_PRESENT && c.attributes.length === 0)).toBe(true);
    expect(unchanged.changes.find((c) => c.objectId === user0.objectId)?.contentHash).toEqual(user0.contentHash);
    controller.commit('cfg-users', unchanged.cycleId);
    await waitFor(() => agent.cursors().find((c) => c.committedCycleId === unchanged.cycleId));

    // The agent process restarts between cycles: the cache survives.
    await agent.close();
    agent = await startAgent(optionsFor(stateDir));
    expect(controller.hellos.at(-1)!.cursors).toEqual([
      { configurationId: 'cfg-users', committedCycleId: unchanged.cycleId, pendingCycleId: '', runningCycleId: '' },
    ]);
    const quiet = await runCycle('cfg-users', people, DELTA, unchanged.cycleId);
    expect(quiet.complete.mode).toBe(DELTA);
    expect(quiet.changes).toEqual([]);
    controller.commit('cfg-users', quiet.cycleId);
    await waitFor(() => agent.cursors().find((c) => c.committedCycleId === quiet.cycleId));

    // Change the directory.
    await new Promise((r) => setTimeout(r, 1100)); // modifyTimestamp has one-second resolution
    await slapd.add(userLdif(people, 'newcomer', 100));
    await slapd.modify(`dn: uid=user1,${people}\nchangetype: modify\nreplace: title\ntitle: Director\n`);
    await slapd.delete([`uid=user2,${people}`]);
    await slapd.moveEntry(`uid=user3,${people}`, 'uid=user3', 'ou=archive,dc=example,dc=com');
    await slapd.moveEntry(`uid=user4,${people}`, 'uid=user4-renamed');
    const user4 = first.changes.find((c) => c.dn === `uid=user4,${people}`)!;

    const expected = {
      add: [`uid=newcomer,${people}`],
      modify: [`uid=user1,${people}`, `uid=user4-renamed,${people}`],
      delete: [`uid=user2,${people}`, `uid=user3,${people}`],
    };
    const delta = await runCycle('cfg-users', people, DELTA, quiet.cycleId);
    expect(delta.complete.mode).toBe(DELTA);
    expect(byKind(delta.changes)).toEqual({ ...expected, present: [] });
    expect(delta.changes.find((c) => c.dn === `uid=user4-renamed,${people}`)!.objectId).toBe(user4.objectId);
    expect(delta.complete.totals).toEqual({ adds: 1, modifies: 2, deletes: 2, presents: 0 });
    const modified = delta.changes.find((c) => c.dn === `uid=user1,${people}`)!;
    expect(modified.attributes.find((a) => a.name === 'title')?.values).toEqual(['Director']);

    // The controller aborts it (an admin chose restart): the cache stays, the next cycle sees the same changes.
    controller.abort('cfg-users', delta.cycleId);
    await waitFor(() => !agent.cursors().some((c) => c.runningCycleId === delta.cycleId || c.pendingCycleId === delta.cycleId));
    expect(agent.cursors()[0]!.committedCycleId).toBe(quiet.cycleId);
    const again = await runCycle('cfg-users', people, FULL, quiet.cycleId);
    expect(again.complete.mode).toBe(FULL);
    const kinds = byKind(again.changes);
    expect({ add: kinds.add, modify: kinds.modify, delete: kinds.delete }).toEqual(expected);
    expect(kinds.present).toHaveLength(16);

    // No verdict, then a StartCycle based on it: it counts as committed.
    const next = await runCycle('cfg-users', people, DELTA, again.cycleId);
    expect(next.complete.mode).toBe(DELTA);
    expect(next.changes).toEqual([]);
    expect(agent.cursors()[0]!.committedCycleId).toBe(again.cycleId);
    expect(agent.cachedObjectCount('cfg-users')).toBe(19);

    // A DELTA from a base the cache does not hold runs FULL (and compares with an empty cache).
    const mismatch = await runCycle('cfg-users', people, DELTA, 'some-other-cycle');
    expect(mismatch.complete.mode).toBe(FULL);
    expect(mismatch.complete.totals).toMatchObject({ adds: 19, deletes: 0 });

    // A changed scope forces FULL, and what left the scope is deleted.
    controller.abort('cfg-users', mismatch.cycleId);
    const narrowed = await runCycle('cfg-users', people, DELTA, again.cycleId, [ObjectType.OBJECT_TYPE_USER], '(!(uid=user1*))');
    expect(narrowed.complete.mode).toBe(FULL);
    expect(byKind(narrowed.changes).delete).toEqual(
      [`uid=user1,${people}`, ...Array.from({ length: 10 }, (_, i) => `uid=user1${i},${people}`)].sort(),
    );
    controller.abort('cfg-users', narrowed.cycleId);
    expect(controller.errors).toEqual([]);
  });

  it('carries group members and the disabled flag', async () => {
    const agent = await startAgent(optionsFor(tmpDir()));
    const cycleId = controller.startCycle(
      'cfg-groups',
      {
        baseDn: 'dc=example,dc=com',
        objectTypes: [ObjectType.OBJECT_TYPE_GROUP, ObjectType.OBJECT_TYPE_USER],
        disabledAttribute: 'title',
      },
      FULL,
    );
    await finished(cycleId);
    const changes = controller.changes(cycleId);
    const group = changes.find((c) => c.objectType === ObjectType.OBJECT_TYPE_GROUP)!;
    expect(group.dn).toBe('cn=staff,ou=groups,dc=example,dc=com');
    expect(group.memberDns).toEqual(userDns(people, 5).sort());
    expect(group.attributes.map((a) => a.name.toLowerCase())).not.toContain('member');
    // Every user has a title (not FALSE/0), so with disabledAttribute=title every user is disabled.
    expect(changes.filter((c) => c.objectType === ObjectType.OBJECT_TYPE_USER).every((c) => c.disabled)).toBe(true);
    expect(group.disabled).toBe(false);
    controller.abort('cfg-groups', cycleId);
    await agent.close();
  });
});
