import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ChangeTracking, CycleMode, DeleteCause, ObjectType, type Change } from '@syncguard/protocol';
import { adOusLdif, adUserDns, adUsersLdif, startSambaDc, waitFor, type SambaDc } from '@syncguard/testkit';
import { Agent } from '../agent';
import type { AgentOptions } from '../agent-options';
import { MiniController } from '../testing/mini-controller';

/*
 * Active Directory change tracking by update sequence numbers (LDAP_CHANGE_TRACKING=usn):
 * the real agent, a Samba AD DC, a protocol peer. Tombstones are read with the Show Deleted
 * control, which needs rights an ordinary account lacks: these agents bind as the domain's
 * Administrator, apart from the one that shows what happens without them.
 */

jest.setTimeout(120_000);

const FULL = CycleMode.CYCLE_MODE_FULL;
const DELTA = CycleMode.CYCLE_MODE_DELTA;
const USN = ChangeTracking.CHANGE_TRACKING_USN;
const SCAN = ChangeTracking.CHANGE_TRACKING_SCAN;
const DOMAIN = 'DC=corp,DC=example';
const BASE = `OU=usn,${DOMAIN}`;
const STAFF = `OU=staff,${BASE}`;
const ATTIC = `OU=attic,${DOMAIN}`;

let dc: SambaDc;
let controller: MiniController;
let agent: Agent | undefined;
const dirs: string[] = [];
const lines: string[] = [];

function stateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-usn-'));
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
        changeTracking: 'usn',
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

/** Runs one cycle to its end and commits it unless told not to. */
async function cycle(peer: MiniController, configurationId: string, mode: CycleMode, base: string, commit = true) {
  const cycleId = peer.startCycle(configurationId, { baseDn: BASE, objectTypes: [ObjectType.OBJECT_TYPE_USER] }, mode, base);
  await waitFor(() => peer.complete(cycleId) ?? peer.failed(cycleId), { message: `end of ${cycleId}`, timeoutMs: 60_000 });
  expect(peer.failed(cycleId)).toBeUndefined();
  if (commit) peer.commit(configurationId, cycleId);
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

const NONE = { add: [], modify: [], delete: [] };
const title = (dn: string, value: string) => `dn: ${dn}\nchangetype: modify\nreplace: title\ntitle: ${value}\n`;
const user = (i: number) => `CN=user${i},${BASE}`;

beforeAll(async () => {
  dc = await startSambaDc({
    seedLdif: adOusLdif(BASE, STAFF, ATTIC) + adUsersLdif(BASE, 12) + adUsersLdif(STAFF, 4, { prefix: 'staff' }),
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

describe('USN change tracking against Samba', () => {
  let last = '';

  it('a FULL read scans; a quiet DELTA reads only what changed in the domain', async () => {
    const full = await cycle(controller, 'usn', FULL, '');
    expect(full.complete.changeTracking).toBe(SCAN);
    expect(full.complete.totals.adds).toBe(16);
    const quiet = await cycle(controller, 'usn', DELTA, full.cycleId);
    expect(quiet.complete.changeTracking).toBe(USN);
    expect(quiet.complete.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, presents: 0 });
    // Nothing of the scope was read in full.
    expect(quiet.complete.source.entriesRead).toBe(0);
    last = quiet.cycleId;
  });

  it('modifies, adds, renames, disables and deletes (tombstones) come from the USNs', async () => {
    await dc.modify(title(user(1), 'Director'));
    await dc.add(adUsersLdif(BASE, 1, { start: 12 }));
    await dc.moveEntry(user(3), 'CN=user3x');
    await dc.setDisabled([user(4)], true);
    await dc.delete([user(2)]);
    const delta = await cycle(controller, 'usn', DELTA, last);
    expect(delta.complete.changeTracking).toBe(USN);
    expect(delta.changes).toEqual({
      add: [user(12)],
      modify: [user(1), `CN=user3x,${BASE}`, user(4)].sort(),
      delete: [user(2)],
    });
    expect(delta.causes).toEqual({ [user(2)]: 'deleted' });
    expect(delta.all.find((c) => c.dn === user(4))?.disabled).toBe(true);
    const quiet = await cycle(controller, 'usn', DELTA, delta.cycleId);
    expect(quiet.complete.changeTracking).toBe(USN);
    expect(quiet.changes).toEqual(NONE);
    last = quiet.cycleId;
  });

  it('a user moved out of scope is a delete with its new DN; moved back, the cycle from the committed state deletes nothing', async () => {
    await dc.moveEntry(user(5), 'CN=user5', ATTIC);
    const out = await cycle(controller, 'usn', DELTA, last, false);
    expect(out.complete.changeTracking).toBe(USN);
    expect(out.causes).toEqual({ [user(5)]: `movedOutOfScope CN=user5,${ATTIC}` });
    controller.abort('usn', out.cycleId);
    await dc.moveEntry(`CN=user5,${ATTIC}`, 'CN=user5', BASE);
    const back = await cycle(controller, 'usn', DELTA, last);
    expect(back.complete.changeTracking).toBe(USN);
    expect(back.changes).toEqual(NONE);
    last = back.cycleId;
  });

  it('an OU moved out of scope: its users keep their USNs, so the cycle scans (and finds them by objectGUID)', async () => {
    await dc.moveEntry(STAFF, 'OU=staff', ATTIC);
    const out = await cycle(controller, 'usn', DELTA, last, false);
    expect(out.complete.changeTracking).toBe(SCAN);
    expect(out.causes).toEqual(
      Object.fromEntries(
        adUserDns(STAFF, 4, { prefix: 'staff' }).map((dn) => [
          dn,
          `movedOutOfScope ${dn.replace(BASE, DOMAIN).replace('OU=staff,', 'OU=staff,OU=attic,')}`,
        ]),
      ),
    );
    expect(lines.some((l) => l.includes('an OU or container changed'))).toBe(true);
    controller.abort('usn', out.cycleId);
    await dc.moveEntry(`OU=staff,${ATTIC}`, 'OU=staff', BASE);
    const back = await cycle(controller, 'usn', DELTA, last);
    expect(back.changes).toEqual(NONE);
    const next = await cycle(controller, 'usn', DELTA, back.cycleId);
    expect(next.complete.changeTracking).toBe(USN);
    expect(next.changes).toEqual(NONE);
    last = next.cycleId;
  });

  it('an agent stopped between reading and the commit loses nothing and sends nothing twice', async () => {
    await dc.modify(title(user(6), 'Crash'));
    await dc.delete([user(7)]);
    const read = await cycle(controller, 'usn', DELTA, last, false);
    expect(read.changes).toEqual({ add: [], modify: [user(6)], delete: [user(7)] });
    await agent!.close();
    await waitFor(() => !controller.connected, { message: 'agent gone' });
    await startAgent();
    const again = await cycle(controller, 'usn', DELTA, last);
    expect(again.complete.changeTracking).toBe(USN);
    expect(again.changes).toEqual(read.changes);
    const quiet = await cycle(controller, 'usn', DELTA, again.cycleId);
    expect(quiet.changes).toEqual(NONE);
    last = quiet.cycleId;
  });
});

describe('USN change tracking falls back to a scan', () => {
  it("for a watermark it cannot use (not of this DC: here, a scanning agent's), then tracks again", async () => {
    const peer = await MiniController.start();
    const dir = stateDir();
    let scanner = await agentFor(peer, 'scanner', dir, { changeTracking: 'scan' });
    try {
      const full = await cycle(peer, 'fallback', FULL, '');
      await dc.modify(title(user(8), 'Scanned'));
      const scanned = await cycle(peer, 'fallback', DELTA, full.cycleId);
      expect(scanned.complete.changeTracking).toBe(SCAN);
      await scanner.close();
      await waitFor(() => !peer.connected, { message: 'scanner gone' });
      scanner = await agentFor(peer, 'scanner', dir, { changeTracking: 'usn' });
      await dc.modify(title(user(8), 'Tracked'));
      await dc.delete([user(9)]);
      const fallback = await cycle(peer, 'fallback', DELTA, scanned.cycleId);
      expect(fallback.complete.changeTracking).toBe(SCAN);
      expect(fallback.changes).toEqual({ add: [], modify: [user(8)], delete: [user(9)] });
      expect(lines.some((l) => l.includes('another domain controller'))).toBe(true);
      const tracked = await cycle(peer, 'fallback', DELTA, fallback.cycleId);
      expect(tracked.complete.changeTracking).toBe(USN);
      expect(tracked.changes).toEqual(NONE);
    } finally {
      await scanner.close();
      await peer.close();
    }
  });

  it('for a bind DN that cannot read tombstones (an ordinary account), said at warn', async () => {
    const peer = await MiniController.start();
    const reader = await agentFor(peer, 'reader', stateDir(), { bindDn: dc.serviceDn, bindPassword: dc.servicePassword });
    try {
      const full = await cycle(peer, 'plain', FULL, '');
      await dc.delete([user(10)]);
      const delta = await cycle(peer, 'plain', DELTA, full.cycleId);
      expect(delta.complete.changeTracking).toBe(SCAN);
      expect(delta.changes.delete).toEqual([user(10)]);
      const warned = lines
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .find((l) => l.msg.includes('cannot read CN=Deleted Objects'));
      expect(warned?.level).toBe(40);
    } finally {
      await reader.close();
      await peer.close();
    }
  });
});
