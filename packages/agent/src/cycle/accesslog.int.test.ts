import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ChangeTracking, CycleErrorCode, CycleMode, DeleteCause, ObjectType, type Change } from '@syncguard/protocol';
import { startSlapd, userDns, usersLdif, waitFor, type SlapdServer } from '@syncguard/testkit';
import { Agent } from '../agent';
import type { AgentOptions } from '../agent-options';
import { MiniController } from '../testing/mini-controller';

/* OpenLDAP change tracking through the accesslog overlay: the real agent, a real slapd, a protocol peer. */

jest.setTimeout(60_000);

const FULL = CycleMode.CYCLE_MODE_FULL;
const DELTA = CycleMode.CYCLE_MODE_DELTA;
const ACCESSLOG = ChangeTracking.CHANGE_TRACKING_ACCESSLOG;
const SCAN = ChangeTracking.CHANGE_TRACKING_SCAN;
const SUFFIX = 'dc=example,dc=com';
const PEOPLE = `ou=people,${SUFFIX}`;
const SCOPED = `ou=scoped,${SUFFIX}`;

let slapd: SlapdServer;
let controller: MiniController;
let agent: Agent | undefined;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-accesslog-'));

/** An agent for `peer` with its own state folder, connected, reading with these LDAP settings. */
async function agentFor(
  peer: MiniController,
  agentId: string,
  dir: string,
  ldap: AgentOptions['ldap'],
  logger = pino({ level: 'silent' }),
): Promise<Agent> {
  const started = await Agent.create(
    { controllerUrl: peer.url, agentToken: peer.token, agentId, stateDir: dir, reconnectInitialDelay: '50ms', ldap },
    { logger },
  );
  await waitFor(() => peer.connected, { message: `${agentId} connected` });
  return started;
}

async function startAgent(): Promise<void> {
  agent = await agentFor(controller, 'agent-1', stateDir, {
    url: slapd.url,
    bindDn: slapd.rootDn,
    bindPassword: slapd.rootPassword,
    pageSize: 50,
    // No look-back margin: the scan must still find a log entry to anchor on.
    deltaSkew: '0s',
    changeTracking: 'accesslog',
  });
}

/** Runs one cycle to its end and commits it unless told not to. */
async function cycle(configurationId: string, baseDn: string, mode: CycleMode, base: string, commit = true, filter = '') {
  const cycleId = controller.startCycle(
    configurationId,
    { baseDn, filter, objectTypes: [ObjectType.OBJECT_TYPE_USER] },
    mode,
    base,
  );
  await waitFor(() => controller.complete(cycleId) ?? controller.failed(cycleId), { message: `end of ${cycleId}` });
  expect(controller.failed(cycleId)).toBeUndefined();
  if (commit) controller.commit(configurationId, cycleId);
  const all = controller.changes(cycleId);
  return { cycleId, complete: controller.complete(cycleId)!, changes: kinds(all), causes: causes(all) };
}

const CAUSE = { 0: 'unknown', 1: 'deleted', 2: 'movedOutOfScope', 3: 'filteredOut' } as const;

/** The deletes' causes by DN: `cause` or `cause newDn`. */
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

const modifyTitle = (dn: string, title: string) => `dn: ${dn}\nchangetype: modify\nreplace: title\ntitle: ${title}\n`;

beforeAll(async () => {
  slapd = await startSlapd({
    accesslog: true,
    seedLdif:
      usersLdif(PEOPLE, 30) +
      `dn: ${SCOPED}\nobjectClass: organizationalUnit\nou: scoped\n\n` +
      `dn: ou=staff,${SCOPED}\nobjectClass: organizationalUnit\nou: staff\n\n` +
      usersLdif(`ou=staff,${SCOPED}`, 5, { prefix: 'staff' }) +
      `dn: ou=attic,${SUFFIX}\nobjectClass: organizationalUnit\nou: attic\n\n`,
  });
  // slapadd writes no log: one write so that the first FULL finds an entry to start from.
  await slapd.modify(modifyTitle(`uid=user29,${PEOPLE}`, 'Seed'));
  // ... more than a second (reqStart's filter resolution) before the FULL read.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  controller = await MiniController.start();
  await startAgent();
});

afterAll(async () => {
  await agent?.close();
  await controller?.close();
  await slapd?.dispose();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

describe('accesslog change tracking', () => {
  let last = '';

  it('a FULL read scans; a quiet DELTA reads only the log', async () => {
    const full = await cycle('people', PEOPLE, FULL, '');
    expect(full.complete.changeTracking).toBe(SCAN);
    expect(full.complete.totals.adds).toBe(30);
    const quiet = await cycle('people', PEOPLE, DELTA, full.cycleId);
    expect(quiet.complete.changeTracking).toBe(ACCESSLOG);
    expect(quiet.complete.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, presents: 0 });
    // Nothing of the scope was read: the quiet cycle costs the log, not the directory.
    expect(quiet.complete.source.entriesRead).toBe(0);
    last = quiet.cycleId;
  });

  it('modifies, adds, deletes and renames come from the log', async () => {
    await slapd.modify(modifyTitle(`uid=user1,${PEOPLE}`, 'Director'));
    await slapd.add(usersLdif(PEOPLE, 1, { start: 30 }));
    await slapd.delete([`uid=user2,${PEOPLE}`]);
    await slapd.moveEntry(`uid=user3,${PEOPLE}`, 'uid=user3x');
    // Added and deleted again between two cycles: nothing to tell.
    await slapd.add(usersLdif(PEOPLE, 1, { prefix: 'brief' }));
    await slapd.delete([`uid=brief0,${PEOPLE}`]);
    const delta = await cycle('people', PEOPLE, DELTA, last);
    expect(delta.complete.changeTracking).toBe(ACCESSLOG);
    expect(delta.changes).toEqual({
      add: [`uid=user30,${PEOPLE}`],
      modify: [`uid=user1,${PEOPLE}`, `uid=user3x,${PEOPLE}`].sort(),
      delete: [`uid=user2,${PEOPLE}`],
    });
    expect(delta.causes).toEqual({ [`uid=user2,${PEOPLE}`]: 'deleted' });
    last = delta.cycleId;
    const quiet = await cycle('people', PEOPLE, DELTA, last);
    expect(quiet.changes).toEqual({ add: [], modify: [], delete: [] });
    last = quiet.cycleId;
  });

  it('an OU moved out of scope is deleted from the log; moved back, the cycle from the committed state deletes nothing', async () => {
    const full = await cycle('scoped', SCOPED, FULL, '');
    expect(full.complete.totals.adds).toBe(5);
    await slapd.moveEntry(`ou=staff,${SCOPED}`, 'ou=staff', `ou=attic,${SUFFIX}`);
    const out = await cycle('scoped', SCOPED, DELTA, full.cycleId, false);
    expect(out.complete.changeTracking).toBe(ACCESSLOG);
    expect(out.changes.delete).toEqual(userDns(`ou=staff,${SCOPED}`, 5, { prefix: 'staff' }).sort());
    // The log says where they went: the OU's move, applied to the DNs below it.
    expect(out.causes).toEqual(
      Object.fromEntries(
        userDns(`ou=staff,${SCOPED}`, 5, { prefix: 'staff' }).map((dn) => [
          dn,
          `movedOutOfScope ${dn.replace(SCOPED, `ou=attic,${SUFFIX}`)}`,
        ]),
      ),
    );
    controller.abort('scoped', out.cycleId);

    await slapd.moveEntry(`ou=staff,ou=attic,${SUFFIX}`, 'ou=staff', SCOPED);
    const back = await cycle('scoped', SCOPED, DELTA, full.cycleId);
    expect(back.complete.changeTracking).toBe(ACCESSLOG);
    expect(back.changes).toEqual({ add: [], modify: [], delete: [] });

    // An OU moved into the scope brings its entries as adds.
    await slapd.moveEntry(`uid=user5,${PEOPLE}`, 'uid=user5', `ou=staff,${SCOPED}`);
    const moved = await cycle('scoped', SCOPED, DELTA, back.cycleId);
    expect(moved.changes.add).toEqual([`uid=user5,ou=staff,${SCOPED}`]);
    const people = await cycle('people', PEOPLE, DELTA, last);
    expect(people.changes.delete).toEqual([`uid=user5,${PEOPLE}`]);
    expect(people.causes).toEqual({ [`uid=user5,${PEOPLE}`]: `movedOutOfScope uid=user5,ou=staff,${SCOPED}` });
    last = people.cycleId;
  });

  it('an entry that no longer matches the filter is filtered out', async () => {
    const filter = '(!(title=Hidden))';
    const full = await cycle('filtered', PEOPLE, FULL, '', true, filter);
    await slapd.modify(modifyTitle(`uid=user15,${PEOPLE}`, 'Hidden'));
    const delta = await cycle('filtered', PEOPLE, DELTA, full.cycleId, true, filter);
    expect(delta.complete.changeTracking).toBe(ACCESSLOG);
    expect(delta.causes).toEqual({ [`uid=user15,${PEOPLE}`]: 'filteredOut' });
    // The unfiltered configuration sees a modify.
    const people = await cycle('people', PEOPLE, DELTA, last);
    expect(people.changes.modify).toEqual([`uid=user15,${PEOPLE}`]);
    last = people.cycleId;
  });

  it('an agent stopped between reading the log and the commit loses nothing and sends nothing twice', async () => {
    await slapd.modify(modifyTitle(`uid=user6,${PEOPLE}`, 'Crash'));
    await slapd.delete([`uid=user7,${PEOPLE}`]);
    const read = await cycle('people', PEOPLE, DELTA, last, false);
    expect(read.changes).toEqual({ add: [], modify: [`uid=user6,${PEOPLE}`], delete: [`uid=user7,${PEOPLE}`] });
    await agent!.close();
    await waitFor(() => !controller.connected, { message: 'agent gone' });
    await startAgent();
    // The controller never committed that cycle: the next one starts from the committed state.
    const again = await cycle('people', PEOPLE, DELTA, last);
    expect(again.complete.changeTracking).toBe(ACCESSLOG);
    expect(again.changes).toEqual(read.changes);
    const quiet = await cycle('people', PEOPLE, DELTA, again.cycleId);
    expect(quiet.changes).toEqual({ add: [], modify: [], delete: [] });
    last = quiet.cycleId;
  });

  it('a purged log falls back to a scan, which finds what the log lost', async () => {
    await slapd.modify(modifyTitle(`uid=user8,${PEOPLE}`, 'Purged'));
    await slapd.delete([`uid=user9,${PEOPLE}`]);
    await slapd.moveEntry(`uid=user13,${PEOPLE}`, 'uid=user13', `ou=attic,${SUFFIX}`);
    const logged = (await slapd.search(slapd.accesslogBase, '(objectClass=auditObject)', ['1.1'])).match(/^dn: .+$/gm)!;
    await slapd.delete(logged.map((line) => line.slice(4)));
    // A write after the purge: the scan leaves it as the anchor for the next cycle.
    await slapd.modify(modifyTitle(`uid=user10,${PEOPLE}`, 'After'));
    const scan = await cycle('people', PEOPLE, DELTA, last);
    expect(scan.complete.changeTracking).toBe(SCAN);
    expect(scan.changes).toEqual({
      add: [],
      modify: [`uid=user10,${PEOPLE}`, `uid=user8,${PEOPLE}`],
      delete: [`uid=user13,${PEOPLE}`, `uid=user9,${PEOPLE}`],
    });
    // Without the log, the scan looks the missing objects up by entryUUID from the naming context.
    expect(scan.causes).toEqual({
      [`uid=user9,${PEOPLE}`]: 'deleted',
      [`uid=user13,${PEOPLE}`]: `movedOutOfScope uid=user13,ou=attic,${SUFFIX}`,
    });
    const next = await cycle('people', PEOPLE, DELTA, scan.cycleId);
    expect(next.complete.changeTracking).toBe(ACCESSLOG);
    expect(next.complete).toMatchObject({ consistencyRead: false, drift: 0 });
    expect(next.changes).toEqual({ add: [], modify: [], delete: [] });
  });
});

describe('accesslog read health', () => {
  const READER = `cn=reader,${SUFFIX}`;
  let limited: SlapdServer;
  let peer: MiniController;
  let reader: Agent | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-accesslog-limited-'));

  beforeAll(async () => {
    // The reader may take at most 2 log entries per search: a longer log read is cut short.
    limited = await startSlapd({
      accesslog: { databaseConfig: `limits dn.exact="${READER}" size=2` },
      seedLdif:
        usersLdif(PEOPLE, 10) +
        `dn: ${READER}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: reader-secret\n\n`,
    });
    await limited.modify(modifyTitle(`uid=user9,${PEOPLE}`, 'Seed'));
    peer = await MiniController.start();
    reader = await agentFor(peer, 'reader', dir, {
      url: limited.url,
      bindDn: READER,
      bindPassword: 'reader-secret',
      changeTracking: 'accesslog',
    });
  });
  afterAll(async () => {
    await reader?.close();
    await peer?.close();
    await limited?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a log read cut short by a size limit fails the cycle and sends no delete', async () => {
    const start = (mode: CycleMode, base: string) =>
      peer.startCycle('people', { baseDn: PEOPLE, objectTypes: [ObjectType.OBJECT_TYPE_USER] }, mode, base);
    const full = start(FULL, '');
    await waitFor(() => peer.complete(full) ?? peer.failed(full), { message: 'FULL' });
    expect(peer.complete(full)?.totals.adds).toBe(10);
    peer.commit('people', full);
    await limited.delete(userDns(PEOPLE, 3));
    const delta = start(DELTA, full);
    const failed = await waitFor(() => peer.failed(delta) ?? peer.complete(delta), { message: 'DELTA' });
    expect(peer.complete(delta)).toBeUndefined();
    expect(failed).toMatchObject({ code: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT });
    expect(peer.changes(delta)).toEqual([]);
  });
});

describe('full consistency read', () => {
  let peer: MiniController;
  let checker: Agent | undefined;
  const lines: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-accesslog-drift-'));
  const INTERVAL_MS = 3000;

  beforeAll(async () => {
    peer = await MiniController.start();
    checker = await agentFor(
      peer,
      'checker',
      dir,
      {
        url: slapd.url,
        bindDn: slapd.rootDn,
        bindPassword: slapd.rootPassword,
        changeTracking: 'accesslog',
        fullScanInterval: INTERVAL_MS,
      },
      pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    );
  });
  afterAll(async () => {
    await checker?.close();
    await peer?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('after LDAP_FULL_SCAN_INTERVAL a DELTA scans too, and reports what the log missed as drift', async () => {
    const run = async (mode: CycleMode, base: string) => {
      const id = peer.startCycle('drift', { baseDn: PEOPLE, objectTypes: [ObjectType.OBJECT_TYPE_USER] }, mode, base);
      await waitFor(() => peer.complete(id) ?? peer.failed(id), { message: `end of ${id}` });
      expect(peer.failed(id)).toBeUndefined();
      peer.commit('drift', id);
      return { id, complete: peer.complete(id)!, changes: kinds(peer.changes(id)) };
    };
    await slapd.modify(modifyTitle(`uid=user11,${PEOPLE}`, 'Anchor'));
    const full = await run(FULL, '');
    const scannedAt = Date.now();
    // Written offline (slapadd): the accesslog never sees it.
    await slapd.slapadd(usersLdif(PEOPLE, 1, { prefix: 'offline' }));
    const logged = await run(DELTA, full.id);
    if (Date.now() - scannedAt < INTERVAL_MS) {
      expect(logged.complete.changeTracking).toBe(ACCESSLOG);
      expect(logged.changes.add).toEqual([]);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, scannedAt + INTERVAL_MS - Date.now()) + 100));
    await slapd.modify(modifyTitle(`uid=user12,${PEOPLE}`, 'Logged'));
    const consistency = await run(DELTA, logged.id);
    expect(consistency.complete.changeTracking).toBe(SCAN);
    // The cycle record gets it too.
    expect(consistency.complete).toMatchObject({ consistencyRead: true, drift: 1 });
    expect(consistency.changes).toEqual({ add: [`uid=offline0,${PEOPLE}`], modify: [`uid=user12,${PEOPLE}`], delete: [] });
    const report = lines.map((l) => JSON.parse(l) as { msg: string; drift?: number }).find((l) => l.msg.includes('(drift)'));
    expect(report?.drift).toBe(1);
    // The scan was committed: the next cycles read the log again.
    const next = await run(DELTA, consistency.id);
    expect(next.complete.changeTracking).toBe(ACCESSLOG);
    expect(next.complete).toMatchObject({ consistencyRead: false, drift: 0 });
    expect(next.changes).toEqual({ add: [], modify: [], delete: [] });
  });
});
