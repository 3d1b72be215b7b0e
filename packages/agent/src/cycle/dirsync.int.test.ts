import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { ChangeTracking, CycleMode, DeleteCause, ObjectType, type Change, type Scope } from '@syncguard/protocol';
import { adGroupLdif, adOusLdif, adUserDns, adUsersLdif, startSambaDc, waitFor, type SambaDc } from '@syncguard/testkit';
import { Agent } from '../agent';
import type { AgentOptions } from '../agent-options';
import { StateStore } from '../cache/state-store';
import { MiniController } from '../testing/mini-controller';
import { parseWatermark } from './watermark';

/*
 * Active Directory change tracking by DirSync (LDAP_CHANGE_TRACKING=auto picks it, and
 * `dirsync` asks for it): the real agent, a Samba AD DC, a protocol peer. DirSync without
 * the OBJECT_SECURITY flag needs the Replicating Directory Changes right: these agents bind
 * as the domain's Administrator, apart from the one that shows what happens without it.
 */

jest.setTimeout(120_000);

const FULL = CycleMode.CYCLE_MODE_FULL;
const DELTA = CycleMode.CYCLE_MODE_DELTA;
const DIRSYNC = ChangeTracking.CHANGE_TRACKING_DIRSYNC;
const SCAN = ChangeTracking.CHANGE_TRACKING_SCAN;
const DOMAIN = 'DC=corp,DC=example';
const BASE = `OU=ds,${DOMAIN}`;
const STAFF = `OU=staff,${BASE}`;
const GROUPS = `OU=groups,${BASE}`;
const ATTIC = `OU=attic,${DOMAIN}`;
const USERS: Scope = scope([ObjectType.OBJECT_TYPE_USER]);

let dc: SambaDc;
let controller: MiniController;
let agent: Agent | undefined;
const dirs: string[] = [];
const lines: string[] = [];

function scope(objectTypes: ObjectType[]): Scope {
  return { baseDn: BASE, filter: '', objectTypes, attributes: [], disabledAttribute: '' };
}

function stateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-dirsync-'));
  dirs.push(dir);
  return dir;
}

async function agentFor(
  peer: MiniController,
  agentId: string,
  dir: string,
  ldap: Partial<AgentOptions['ldap']> = {},
): Promise<Agent> {
  const started = await Agent.create(
    {
      controllerUrl: peer.url,
      agentToken: peer.token,
      agentId,
      stateDir: dir,
      reconnectInitialDelay: '50ms',
      ldap: {
        url: dc.url,
        caFile: dc.caFile,
        bindDn: dc.adminDn,
        bindPassword: dc.adminPassword,
        pageSize: 50,
        changeTracking: 'auto',
        ...ldap,
      },
    },
    { logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }) },
  );
  await waitFor(() => peer.connected, { message: `${agentId} connected` });
  return started;
}

const mainDir = stateDir();
const startAgent = async () => {
  agent = await agentFor(controller, 'agent-1', mainDir);
};
const stopAgent = async (peer = controller) => {
  await agent!.close();
  await waitFor(() => !peer.connected, { message: 'agent gone' });
};

/** Runs one cycle to its end and commits it unless told not to. */
async function cycle(
  peer: MiniController,
  configurationId: string,
  mode: CycleMode,
  base: string,
  { commit = true, of = USERS }: { commit?: boolean; of?: Scope } = {},
) {
  const cycleId = peer.startCycle(configurationId, of, mode, base);
  await waitFor(() => peer.complete(cycleId) ?? peer.failed(cycleId), { message: `end of ${cycleId}`, timeoutMs: 60_000 });
  expect(peer.failed(cycleId)).toBeUndefined();
  if (commit) {
    peer.commit(configurationId, cycleId);
    // Applied to the cache (and its cookie committed) before the test goes on.
    await waitFor(() => lines.some((l) => l.includes(`"cycleId":"${cycleId}"`) && l.includes('cycle committed')), {
      message: `commit of ${cycleId}`,
    });
  }
  const all = peer.changes(cycleId);
  return { cycleId, complete: peer.complete(cycleId)!, changes: kinds(all), causes: causes(all), all };
}

function kinds(changes: Change[]) {
  const out: Record<'add' | 'modify' | 'delete', string[]> = { add: [], modify: [], delete: [] };
  const names = { 1: 'add', 2: 'modify', 3: 'delete' } as const;
  for (const c of changes) {
    const name = names[c.kind as 1 | 2 | 3];
    if (name) out[name].push(c.dn);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

const CAUSE = { 0: 'unknown', 1: 'deleted', 2: 'movedOutOfScope', 3: 'filteredOut' } as const;
function causes(changes: Change[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of changes) {
    if (c.kind !== 3) continue;
    out[c.dn] = [CAUSE[(c.deleteCause ?? DeleteCause.DELETE_CAUSE_UNSPECIFIED) as 0 | 1 | 2 | 3], c.newDn]
      .filter(Boolean)
      .join(' ');
  }
  return out;
}

/** The cookie committed for a configuration, read from the agent's state while the agent is stopped. */
function committedCookie(dir: string, configurationId: string): string {
  const store = StateStore.open(dir);
  try {
    return parseWatermark(store.configuration(configurationId).watermark).cookie;
  } finally {
    store.close();
  }
}

function logged(text: string): { level: number; msg: string } | undefined {
  return lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.includes(text));
}

const NONE = { add: [], modify: [], delete: [] };
const title = (dn: string, value: string) => `dn: ${dn}\nchangetype: modify\nreplace: title\ntitle: ${value}\n`;
const user = (i: number) => `CN=user${i},${BASE}`;

beforeAll(async () => {
  dc = await startSambaDc({
    seedLdif:
      adOusLdif(BASE, STAFF, GROUPS, ATTIC) +
      adUsersLdif(BASE, 40) +
      adUsersLdif(STAFF, 4, { prefix: 'staff' }) +
      adGroupLdif(GROUPS, 'team', adUserDns(BASE, 3, { start: 30 })),
  });
  controller = await MiniController.start();
  await startAgent();
});

afterAll(async () => {
  await agent?.close();
  await controller?.close();
  await dc?.dispose();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('DirSync change tracking against Samba', () => {
  let last = '';

  it('auto picks DirSync for a bind DN with the right: a FULL read scans, a quiet DELTA reads nothing of the scope', async () => {
    const full = await cycle(controller, 'ds', FULL, '');
    expect(full.complete.changeTracking).toBe(SCAN);
    expect(full.complete.totals.adds).toBe(44);
    const quiet = await cycle(controller, 'ds', DELTA, full.cycleId);
    expect(quiet.complete.changeTracking).toBe(DIRSYNC);
    expect(quiet.complete.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, presents: 0 });
    expect(quiet.complete.source.entriesRead).toBe(0);
    last = quiet.cycleId;
  });

  it('modifies, adds, renames, disables and deletes (tombstones) come from DirSync, the changed objects read whole', async () => {
    await dc.modify(title(user(1), 'Director'));
    await dc.add(adUsersLdif(BASE, 1, { start: 40 }));
    await dc.moveEntry(user(3), 'CN=user3x');
    await dc.setDisabled([user(4)], true);
    await dc.delete([user(2)]);
    const delta = await cycle(controller, 'ds', DELTA, last);
    expect(delta.complete.changeTracking).toBe(DIRSYNC);
    expect(delta.changes).toEqual({
      add: [user(40)],
      modify: [user(1), `CN=user3x,${BASE}`, user(4)].sort(),
      delete: [user(2)],
    });
    expect(delta.causes).toEqual({ [user(2)]: 'deleted' });
    const director = delta.all.find((c) => c.dn === user(1))!;
    // Whole: DirSync itself sent only the title; the change carries every attribute.
    expect(director.attributes.find((a) => a.name === 'title')?.values).toEqual(['Director']);
    expect(director.attributes.find((a) => a.name === 'mail')?.values).toEqual(['user1@corp.example']);
    expect(delta.all.find((c) => c.dn === user(4))?.disabled).toBe(true);
    expect(delta.complete.source.entriesRead).toBe(4);
    const quiet = await cycle(controller, 'ds', DELTA, delta.cycleId);
    expect(quiet.complete.changeTracking).toBe(DIRSYNC);
    expect(quiet.changes).toEqual(NONE);
    last = quiet.cycleId;
  });

  it('a user moved out of scope is a delete with its new DN; moved back, the cycle from the committed cookie deletes nothing', async () => {
    await dc.moveEntry(user(5), 'CN=user5', ATTIC);
    const out = await cycle(controller, 'ds', DELTA, last, { commit: false });
    expect(out.complete.changeTracking).toBe(DIRSYNC);
    expect(out.changes).toEqual({ add: [], modify: [], delete: [user(5)] });
    expect(out.causes).toEqual({ [user(5)]: `movedOutOfScope CN=user5,${ATTIC}` });
    controller.abort('ds', out.cycleId);
    await dc.moveEntry(`CN=user5,${ATTIC}`, 'CN=user5', BASE);
    const back = await cycle(controller, 'ds', DELTA, last);
    expect(back.complete.changeTracking).toBe(DIRSYNC);
    expect(back.changes).toEqual(NONE);
    last = back.cycleId;
  });

  it('an OU moved out of scope: DirSync names the OU only, the agent finds the users below it (no scan)', async () => {
    await dc.moveEntry(STAFF, 'OU=staff', ATTIC);
    const out = await cycle(controller, 'ds', DELTA, last, { commit: false });
    expect(out.complete.changeTracking).toBe(DIRSYNC);
    const staff = adUserDns(STAFF, 4, { prefix: 'staff' });
    expect(out.causes).toEqual(
      Object.fromEntries(staff.map((dn) => [dn, `movedOutOfScope ${dn.replace(`OU=staff,${BASE}`, `OU=staff,${ATTIC}`)}`])),
    );
    controller.abort('ds', out.cycleId);
    await dc.moveEntry(`OU=staff,${ATTIC}`, 'OU=staff', BASE);
    const back = await cycle(controller, 'ds', DELTA, last);
    expect(back.complete.changeTracking).toBe(DIRSYNC);
    expect(back.changes).toEqual(NONE);
    // Renamed in place: the users below it have new DNs, each a MODIFY.
    await dc.moveEntry(STAFF, 'OU=crew');
    const renamed = await cycle(controller, 'ds', DELTA, back.cycleId);
    expect(renamed.complete.changeTracking).toBe(DIRSYNC);
    expect(renamed.changes).toEqual({
      add: [],
      modify: adUserDns(`OU=crew,${BASE}`, 4, { prefix: 'staff' }).sort(),
      delete: [],
    });
    await dc.moveEntry(`OU=crew,${BASE}`, 'OU=staff');
    const restored = await cycle(controller, 'ds', DELTA, renamed.cycleId);
    expect(restored.changes.modify).toHaveLength(4);
    last = restored.cycleId;
  });

  it("a group's members: added and removed members change the group; a deleted member leaves it", async () => {
    const groups = scope([ObjectType.OBJECT_TYPE_USER, ObjectType.OBJECT_TYPE_GROUP]);
    const team = `CN=team,${GROUPS}`;
    const full = await cycle(controller, 'ds-groups', FULL, '', { of: groups });
    expect(full.all.find((c) => c.dn === team)?.memberDns.sort()).toEqual(adUserDns(BASE, 3, { start: 30 }).sort());
    await dc.modify(
      `dn: ${team}\nchangetype: modify\nadd: member\nmember: ${user(33)}\n-\ndelete: member\nmember: ${user(30)}\n`,
    );
    const changed = await cycle(controller, 'ds-groups', DELTA, full.cycleId, { of: groups });
    expect(changed.complete.changeTracking).toBe(DIRSYNC);
    expect(changed.changes).toEqual({ add: [], modify: [team], delete: [] });
    expect(changed.all[0]!.memberDns.sort()).toEqual([user(31), user(32), user(33)].sort());
    await dc.delete([user(31)]);
    const deleted = await cycle(controller, 'ds-groups', DELTA, changed.cycleId, { of: groups });
    expect(deleted.complete.changeTracking).toBe(DIRSYNC);
    expect(deleted.changes).toEqual({ add: [], modify: [team], delete: [user(31)] });
    expect(deleted.all.find((c) => c.dn === team)?.memberDns.sort()).toEqual([user(32), user(33)].sort());
    // The users' configuration sees the delete too, in its own cycle.
    const users = await cycle(controller, 'ds', DELTA, last);
    expect(users.changes).toEqual({ add: [], modify: [], delete: [user(31)] });
    last = users.cycleId;
  });

  it('an agent stopped between reading and the commit re-reads from the committed cookie: nothing lost, nothing sent twice', async () => {
    await dc.modify(title(user(6), 'Crash'));
    await dc.delete([user(7)]);
    const read = await cycle(controller, 'ds', DELTA, last, { commit: false });
    expect(read.complete.changeTracking).toBe(DIRSYNC);
    expect(read.changes).toEqual({ add: [], modify: [user(6)], delete: [user(7)] });
    await stopAgent();
    // The read's new cookie waits with its cycle; the committed one is still the last commit's.
    const before = committedCookie(mainDir, 'ds');
    expect(before).not.toBe('');
    await startAgent();
    const again = await cycle(controller, 'ds', DELTA, last);
    expect(again.complete.changeTracking).toBe(DIRSYNC);
    expect(again.changes).toEqual(read.changes);
    const quiet = await cycle(controller, 'ds', DELTA, again.cycleId);
    expect(quiet.changes).toEqual(NONE);
    await stopAgent();
    // Committed with the cache: the cookie moved on with the commit.
    expect(committedCookie(mainDir, 'ds')).not.toBe(before);
    await startAgent();
    last = quiet.cycleId;
  });

  it('a cookie the server refuses falls back to a scan (said in the cycle and the log), and the next cycle tracks again', async () => {
    await stopAgent();
    // A cookie Samba cannot unmarshal (it answers unavailableCriticalExtension, 12), as Windows
    // answers a cookie it no longer honours. (Samba takes some damaged cookies of 20 bytes and more.)
    const db = new Database(path.join(mainDir, 'agent.sqlite'));
    const row = db
      .prepare<[string], { watermark: string }>('SELECT watermark FROM configurations WHERE configuration_id = ?')
      .get('ds')!;
    const watermark = { ...(JSON.parse(row.watermark) as object), cookie: Buffer.from('garbage-cookie').toString('base64') };
    db.prepare('UPDATE configurations SET watermark = ? WHERE configuration_id = ?').run(JSON.stringify(watermark), 'ds');
    db.close();
    await startAgent();
    await dc.modify(title(user(8), 'Scanned'));
    await dc.delete([user(9)]);
    const fallback = await cycle(controller, 'ds', DELTA, last);
    expect(fallback.complete.changeTracking).toBe(SCAN);
    expect(fallback.changes).toEqual({ add: [], modify: [user(8)], delete: [user(9)] });
    expect(logged('refused the committed cookie')?.level).toBe(40);
    const tracked = await cycle(controller, 'ds', DELTA, fallback.cycleId);
    expect(tracked.complete.changeTracking).toBe(DIRSYNC);
    expect(tracked.changes).toEqual(NONE);
    last = tracked.cycleId;
  });

  it('a mass delete is read through DirSync as deletes with their cause', async () => {
    const doomed = adUserDns(BASE, 10, { start: 10 });
    await dc.delete(doomed);
    const mass = await cycle(controller, 'ds', DELTA, last, { commit: false });
    expect(mass.complete.changeTracking).toBe(DIRSYNC);
    expect(mass.changes.delete).toEqual([...doomed].sort());
    expect(new Set(Object.values(mass.causes))).toEqual(new Set(['deleted']));
    controller.abort('ds', mass.cycleId);
  });
});

describe('DirSync without the right', () => {
  it('LDAP_CHANGE_TRACKING=dirsync for an ordinary account scans, said at warn; auto scans too (nor may it read tombstones)', async () => {
    const peer = await MiniController.start();
    let reader = await agentFor(peer, 'reader', stateDir(), {
      bindDn: dc.serviceDn,
      bindPassword: dc.servicePassword,
      changeTracking: 'dirsync',
    });
    try {
      const full = await cycle(peer, 'plain', FULL, '');
      await dc.delete([user(20)]);
      const delta = await cycle(peer, 'plain', DELTA, full.cycleId);
      expect(delta.complete.changeTracking).toBe(SCAN);
      expect(delta.changes.delete).toEqual([user(20)]);
      expect(logged('DirSync cannot serve: the directory refused it (result 50')?.level).toBe(40);
      await reader.close();
      await waitFor(() => !peer.connected, { message: 'reader gone' });
      reader = await agentFor(peer, 'reader', stateDir(), { bindDn: dc.serviceDn, bindPassword: dc.servicePassword });
      const auto = await cycle(peer, 'plain-auto', FULL, '');
      const quiet = await cycle(peer, 'plain-auto', DELTA, auto.cycleId);
      expect(quiet.complete.changeTracking).toBe(SCAN);
    } finally {
      await reader.close();
      await peer.close();
    }
  });
});

describe('DirSync with a full consistency read due', () => {
  it('reads DirSync first, then scans the scope: what DirSync showed is no drift', async () => {
    const peer = await MiniController.start();
    const checker = await agentFor(peer, 'checker', stateDir(), { fullScanInterval: '1s' });
    try {
      const full = await cycle(peer, 'consistency', FULL, '');
      await dc.modify(title(user(25), 'Checked'));
      await new Promise((r) => setTimeout(r, 1100));
      const due = await cycle(peer, 'consistency', DELTA, full.cycleId);
      expect(due.complete.consistencyRead).toBe(true);
      expect(due.complete.changeTracking).toBe(SCAN);
      expect(due.changes).toEqual({ add: [], modify: [user(25)], delete: [] });
      expect(Number(due.complete.drift)).toBe(0);
      expect(logged('changes the DirSync read did not show')).toBeDefined();
    } finally {
      await checker.close();
      await peer.close();
    }
  });
});
