/**
 * Active Directory end to end: the real agent program against a Samba AD DC over LDAPS,
 * bound as an ordinary service account, with the real controller, Redis and SMTP. Ids are
 * objectGUIDs in string form; users are `objectCategory=person`; disabled accounts are
 * userAccountControl bit 2. The guard scenarios of guard.e2e.test.ts run here against AD.
 * One Samba for the file (its seeded domain is cached between runs); each scenario has its
 * own OU and configuration, one agent serves them all. Threshold 20.
 */
import { adGroupLdif, adOusLdif, adUserDns, adUsersLdif } from '@syncguard/testkit';
import { startSystem, type CloudObjectView, type CycleView, type TestSystem } from '../harness';

const BASE = 'DC=corp,DC=example';
const T = 20;
const SYNC = `OU=sync,${BASE}`;
const PEOPLE = `OU=people,${SYNC}`;
const MOVED = `OU=moved,${SYNC}`;
const GROUPS = `OU=groups,${SYNC}`;

/** Scenario OUs, each with `count` users CN=<name><n>. */
const SCENARIOS = { mass: 30, staff: 25, dis: 30, pw: 15, dsync: 30 } as const;

function seed(): string {
  let ldif = adOusLdif(SYNC, PEOPLE, MOVED, GROUPS, `OU=scoped,${BASE}`, `OU=attic,${BASE}`);
  ldif += adUsersLdif(PEOPLE, 15, { prefix: 'u' }) + adUsersLdif(PEOPLE, 5, { prefix: 'u', start: 15, disabled: true });
  // A computer is an objectClass=user too, but no person: never synced as a user.
  ldif += `dn: CN=ws1,${PEOPLE}\nobjectClass: computer\nsAMAccountName: ws1$\nuserAccountControl: 4096\n\n`;
  ldif += adGroupLdif(GROUPS, 'inner', adUserDns(PEOPLE, 3, { prefix: 'u' }));
  ldif += adGroupLdif(GROUPS, 'outer', [`CN=inner,${GROUPS}`, `CN=u3,${PEOPLE}`]);
  for (const [name, count] of Object.entries(SCENARIOS)) {
    const ou = name === 'staff' ? `OU=staff,OU=scoped,${BASE}` : `OU=${name},${BASE}`;
    ldif += adOusLdif(ou) + adUsersLdif(ou, count, { prefix: name });
  }
  return ldif;
}

describe('Active Directory (Samba AD DC) end to end', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({ samba: { seedLdif: seed() }, controllerConfig: { maxBatchChanges: 7 } });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  async function configuration(
    name: string,
    baseDn: string,
    options: { countDisables?: boolean; types?: ('user' | 'group')[] } = {},
  ) {
    const { id } = await system.createConfiguration({
      name: `${name}.corp.example`,
      agentIds: [agentId],
      source: { baseDn, objectTypes: options.types ?? ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: T, countDisables: options.countDisables ?? false },
      notificationEmail: `${name}@corp.example`,
    });
    return id;
  }

  const byDn = (objects: CloudObjectView[], dn: string) => objects.find((o) => o.dn === dn);

  describe('sync', () => {
    let id: string;

    it('the first cycle brings users and nested groups, with objectGUIDs as ids and disabled accounts marked', async () => {
      id = await configuration('sync', SYNC, { types: ['user', 'group'] });
      const first = await system.firstCycle(id);
      expect(first.lastCycle).toMatchObject({ mode: 'full', changeTracking: 'scan' });
      // 20 users and 2 groups; not the computer, not the service account outside the base.
      expect(first.lastCycle?.counts).toEqual({ create: 22, update: 0, delete: 0, failed: 0 });
      const users = await system.objects(id, 'user');
      expect(users.map((u) => u.dn).sort()).toEqual(adUserDns(PEOPLE, 20, { prefix: 'u' }).sort());
      for (const dn of [`CN=u1,${PEOPLE}`, `CN=u17,${PEOPLE}`])
        expect(byDn(users, dn)?.id).toBe(await system.samba.objectGuid(dn));
      expect(
        users
          .filter((u) => u.disabled)
          .map((u) => u.dn)
          .sort(),
      ).toEqual(adUserDns(PEOPLE, 5, { prefix: 'u', start: 15 }).sort());
      expect(byDn(users, `CN=u2,${PEOPLE}`)?.attributes['mail']).toEqual(['u2@corp.example']);
      const groups = await system.objects(id, 'group');
      const inner = byDn(groups, `CN=inner,${GROUPS}`)!;
      const outer = byDn(groups, `CN=outer,${GROUPS}`)!;
      expect(inner.id).toBe(await system.samba.objectGuid(inner.dn));
      // Nested: outer holds the inner group and a user, both resolved to their ids.
      expect(outer.memberIds.sort()).toEqual([inner.id, byDn(users, `CN=u3,${PEOPLE}`)!.id].sort());
      expect(inner.memberIds.sort()).toEqual(
        adUserDns(PEOPLE, 3, { prefix: 'u' })
          .map((dn) => byDn(users, dn)!.id)
          .sort(),
      );
    });

    it('modifies, disables, renames, moves between OUs and deletes reach the cloud directory in the next cycle', async () => {
      const before = await system.objects(id);
      const idOf = (dn: string) => byDn(before, dn)!.id;
      const samba = system.samba;
      await samba.modify(`dn: CN=u4,${PEOPLE}\nchangetype: modify\nreplace: title\ntitle: Director\n`);
      await samba.setDisabled([`CN=u5,${PEOPLE}`], true);
      await samba.setDisabled([`CN=u15,${PEOPLE}`], false);
      await samba.moveEntry(`CN=u6,${PEOPLE}`, 'CN=u6-renamed');
      // u0 is a member of inner: the group's member value follows the rename.
      await samba.moveEntry(`CN=u0,${PEOPLE}`, 'CN=u0-renamed');
      await samba.moveEntry(`CN=u7,${PEOPLE}`, 'CN=u7', MOVED);
      // u9 joins inner: the group's uSNChanged changes, u9's does not (but its memberOf does).
      await samba.modify(`dn: CN=inner,${GROUPS}\nchangetype: modify\nadd: member\nmember: CN=u9,${PEOPLE}\n`);
      // u3 is a member of outer: deleted, it leaves the group's members.
      await samba.delete([`CN=u8,${PEOPLE}`, `CN=u3,${PEOPLE}`]);

      const status = await system.syncNow(id);
      expect(status.lastCycle?.mode).toBe('delta');
      // u4, u5, u15, u6, u0, u7, inner (its member u0 has a new DN) and outer (its member u3 is gone);
      // u8 and u3 deleted. AD changes neither group's uSNChanged: the agent re-reads the groups.
      expect(status.lastCycle?.counts).toEqual({ create: 0, update: 8, delete: 2, failed: 0 });
      const after = await system.objects(id);
      expect(after).toHaveLength(before.length - 2);
      expect(byDn(after, `CN=u4,${PEOPLE}`)?.attributes['title']).toEqual(['Director']);
      expect(byDn(after, `CN=u5,${PEOPLE}`)?.disabled).toBe(true);
      expect(byDn(after, `CN=u15,${PEOPLE}`)?.disabled).toBe(false);
      expect(byDn(after, `CN=u6-renamed,${PEOPLE}`)?.id).toBe(idOf(`CN=u6,${PEOPLE}`));
      expect(byDn(after, `CN=u7,${MOVED}`)?.id).toBe(idOf(`CN=u7,${PEOPLE}`));
      expect(after.some((o) => o.id === idOf(`CN=u8,${PEOPLE}`))).toBe(false);
      const inner = byDn(after, `CN=inner,${GROUPS}`)!;
      expect(inner.memberDns).toContain(`CN=u0-renamed,${PEOPLE}`);
      expect(inner.memberIds).toContain(idOf(`CN=u0,${PEOPLE}`));
      expect(inner.memberIds).toContain(idOf(`CN=u9,${PEOPLE}`));
      const outer = byDn(after, `CN=outer,${GROUPS}`)!;
      expect(outer.memberDns).toEqual([`CN=inner,${GROUPS}`]);
      expect(outer.memberIds).toEqual([inner.id]);

      const quiet = await system.syncNow(id);
      expect(quiet.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    });

    it('a FULL read after those DELTA cycles (the agent lost its cache) finds the cloud directory in step', async () => {
      const last = (await system.status(id)).lastCycle!.id;
      await system.stopAgent(agentId);
      await system.wipeAgentState(agentId);
      await system.startAgent(agentId);
      // The controller starts the FULL cycle itself when the agent connects (its base is unknown to it).
      await system.waitForCycle(id, 'applied', { after: last });
      const { items } = await system.api.get<{ items: CycleView[] }>(`/api/v1/configurations/${id}/cycles?limit=5`);
      const full = items[0]!;
      expect(full.mode).toBe('full');
      // Anything a DELTA missed (a stale member DN, a back link in a user's hash) shows here as updates.
      expect(full.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    });
  });

  it('a mass delete quarantines with nothing applied; allow-deletes applies it once', async () => {
    const ou = `OU=mass,${BASE}`;
    const id = await configuration('mass', ou);
    expect((await system.firstCycle(id)).lastCycle?.counts.create).toBe(SCENARIOS.mass);
    const dns = adUserDns(ou, T, { prefix: 'mass' });
    await system.samba.delete(dns);
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine).toMatchObject({ reason: 'TooManyDeletes', deleteCount: T, threshold: T });
    expect(await system.objects(id)).toHaveLength(SCENARIOS.mass);
    const staged = await system.logs(id, { action: 'StagedDelete' });
    expect(new Set(staged.map((l) => l.dn))).toEqual(new Set(dns));
    // The scan looked them up by objectGUID: gone from the directory (tombstones are hidden).
    expect(new Set(staged.map((l) => l.cause))).toEqual(new Set(['deleted']));
    await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes('mass@corp.example') });
    const allowed = await system.api.post<{ deleted: number }>(`/api/v1/configurations/${id}/allow-deletes`);
    expect(allowed.deleted).toBe(T);
    expect(await system.objects(id)).toHaveLength(SCENARIOS.mass - T);
    expect((await system.syncNow(id)).lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
  });

  it('an OU moved out of scope quarantines; moved back and restarted, nothing is deleted', async () => {
    const base = `OU=scoped,${BASE}`;
    const id = await configuration('scoped', base);
    await system.firstCycle(id);
    const before = await system.objects(id);
    expect(before).toHaveLength(SCENARIOS.staff);
    await system.samba.moveEntry(`OU=staff,${base}`, 'OU=staff', `OU=attic,${BASE}`);
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(SCENARIOS.staff);
    // Found by objectGUID under the OU's new place.
    const staged = await system.logs(id, { action: 'StagedDelete' });
    expect(staged).toHaveLength(SCENARIOS.staff);
    for (const l of staged) {
      expect(l.cause).toBe('movedOutOfScope');
      expect(l.newDn?.toLowerCase()).toBe(
        l.dn.toLowerCase().replace(`ou=staff,${base}`.toLowerCase(), `ou=staff,ou=attic,${BASE}`.toLowerCase()),
      );
    }

    await system.samba.moveEntry(`OU=staff,OU=attic,${BASE}`, 'OU=staff', base);
    await system.api.post(`/api/v1/configurations/${id}/restart`);
    const healthy = await system.waitForCycle(id, 'applied', { after: q.lastCycle!.id });
    expect(healthy.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    const after = await system.objects(id);
    expect(after.map((o) => o.id).sort()).toEqual(before.map((o) => o.id).sort());
  });

  it('with countDisables, mass disables quarantine; re-enabled and restarted, nothing is deleted', async () => {
    const ou = `OU=dis,${BASE}`;
    const id = await configuration('dis', ou, { countDisables: true });
    await system.firstCycle(id);
    const dns = adUserDns(ou, T, { prefix: 'dis' });
    await system.samba.setDisabled(dns, true);
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine).toMatchObject({ reason: 'TooManyDeletes', deleteCount: T });
    expect((await system.objects(id)).filter((o) => o.disabled)).toHaveLength(0);
    expect(new Set((await system.logs(id, { action: 'StagedDelete' })).map((l) => l.cause))).toEqual(new Set(['disabled']));

    await system.samba.setDisabled(dns, false);
    await system.api.post(`/api/v1/configurations/${id}/restart`);
    const healthy = await system.waitForCycle(id, 'applied', { after: q.lastCycle!.id });
    expect(healthy.lastCycle?.counts.delete).toBe(0);
    expect(await system.objects(id)).toHaveLength(SCENARIOS.dis);
  });

  it('a wrong password fails the cycle and deletes nothing; the right one (over StartTLS) syncs with nothing deleted', async () => {
    const ou = `OU=pw,${BASE}`;
    const id = await configuration('pw', ou);
    await system.firstCycle(id);
    await system.stopAgent(agentId);
    try {
      await system.startAgent(agentId, { LDAP_BIND_PASSWORD: 'not-the-password' });
      const failed = await system.syncNow(id, 'failed');
      expect(failed.lastCycle?.error?.code).toMatch(/BIND/);
      expect(failed.lastCycle?.counts.delete).toBe(0);
      expect(await system.objects(id)).toHaveLength(SCENARIOS.pw);
      expect((await system.logs(id)).filter((l) => l.action === 'Delete' || l.action === 'StagedDelete')).toHaveLength(0);
    } finally {
      await system.stopAgent(agentId);
    }
    await system.startAgent(agentId, { LDAP_URL: system.samba.startTlsUrl, LDAP_STARTTLS: 'true' });
    const healthy = await system.syncNow(id);
    expect(healthy.state).toBe('healthy');
    expect(healthy.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect(await system.objects(id)).toHaveLength(SCENARIOS.pw);
  });
  it('with USN change tracking (bound as the Administrator, who may read tombstones) a DELTA reads what changed, and a mass delete quarantines with its cause', async () => {
    await system.stopAgent(agentId);
    await system.startAgent(agentId, {
      LDAP_BIND_DN: system.samba.adminDn,
      LDAP_BIND_PASSWORD: system.samba.adminPassword,
      LDAP_CHANGE_TRACKING: 'usn',
    });
    const ou = `OU=dis,${BASE}`;
    const id = await configuration('usn', ou);
    expect((await system.firstCycle(id)).lastCycle).toMatchObject({ mode: 'full', changeTracking: 'scan' });
    const dns = adUserDns(ou, SCENARIOS.dis, { prefix: 'dis' });
    await system.samba.modify(`dn: ${dns[0]}\nchangetype: modify\nreplace: title\ntitle: Tracked\n`);
    const delta = await system.syncNow(id);
    expect(delta.lastCycle).toMatchObject({ mode: 'delta', changeTracking: 'usn' });
    expect(delta.lastCycle?.counts).toEqual({ create: 0, update: 1, delete: 0, failed: 0 });
    await system.samba.delete(dns.slice(0, T));
    const q = await system.syncNow(id, 'quarantined');
    expect(q.lastCycle?.changeTracking).toBe('usn');
    expect(q.quarantine?.deleteCount).toBe(T);
    const staged = await system.logs(id, { action: 'StagedDelete' });
    expect(new Set(staged.map((l) => l.dn))).toEqual(new Set(dns.slice(0, T)));
    expect(new Set(staged.map((l) => l.cause))).toEqual(new Set(['deleted']));
    expect(await system.objects(id)).toHaveLength(SCENARIOS.dis);
  });

  it('with DirSync change tracking (the Administrator has the Replicating Directory Changes right) a DELTA reads what changed, and a mass delete quarantines with its cause', async () => {
    await system.stopAgent(agentId);
    await system.startAgent(agentId, {
      LDAP_BIND_DN: system.samba.adminDn,
      LDAP_BIND_PASSWORD: system.samba.adminPassword,
      LDAP_CHANGE_TRACKING: 'dirsync',
    });
    const ou = `OU=dsync,${BASE}`;
    const id = await configuration('dsync', ou, { countDisables: true });
    expect((await system.firstCycle(id)).lastCycle).toMatchObject({ mode: 'full', changeTracking: 'scan' });
    const dns = adUserDns(ou, SCENARIOS.dsync, { prefix: 'dsync' });
    await system.samba.modify(`dn: ${dns[0]}\nchangetype: modify\nreplace: title\ntitle: Tracked\n`);
    const delta = await system.syncNow(id);
    expect(delta.lastCycle).toMatchObject({ mode: 'delta', changeTracking: 'dirsync' });
    expect(delta.lastCycle?.counts).toEqual({ create: 0, update: 1, delete: 0, failed: 0 });
    // With countDisables, disables count with the deletes: 5 disabled and 15 deleted reach 20.
    await system.samba.setDisabled(dns.slice(0, 5), true);
    await system.samba.delete(dns.slice(5, T));
    const q = await system.syncNow(id, 'quarantined');
    expect(q.lastCycle?.changeTracking).toBe('dirsync');
    expect(q.quarantine?.deleteCount).toBe(T);
    const staged = await system.logs(id, { action: 'StagedDelete' });
    expect(new Map(staged.map((l) => [l.dn, l.cause]))).toEqual(
      new Map(dns.slice(0, T).map((dn, i) => [dn, i < 5 ? 'disabled' : 'deleted'])),
    );
    expect(await system.objects(id)).toHaveLength(SCENARIOS.dsync);
  });
});
