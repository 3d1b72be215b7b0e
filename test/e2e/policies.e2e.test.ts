/**
 * The delete policies end to end: the real agent and controller programs, real slapd,
 * Redis and SMTP. Every rule trips a real cycle after a real change at the source
 * (ldapdelete, ldapmodify). One system for the file, one OU and configuration per test;
 * the count threshold is set out of reach, so that only the rule under test can trip.
 */
import { groupLdif, userDns, userLdif, usersLdif } from '@syncguard/testkit';
import { startSystem, type DeletePolicyBody, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';
const OUT_OF_REACH = 10_000;

describe('delete policies', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({ controllerConfig: { mailBackoffMs: 300 } });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  interface Scenario {
    id: string;
    ou: string;
    email: string;
    users: string[];
  }

  /** ou=<name> with `users` users (and `ldif` more entries under it), a configuration over it with `policy`, its first cycle applied. */
  async function scenario(
    name: string,
    users: number,
    policy: DeletePolicyBody,
    options: { objectTypes?: ('user' | 'group')[]; disabledAttribute?: string; ldif?: (ou: string) => string } = {},
  ): Promise<Scenario> {
    const ou = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${ou}\nobjectClass: organizationalUnit\nou: ${name}\n\n` +
        usersLdif(ou, users, { prefix: `${name}-` }) +
        (options.ldif?.(ou) ?? ''),
    );
    const email = `${name}@example.com`;
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: {
        baseDn: ou,
        objectTypes: options.objectTypes ?? ['user'],
        ...(options.disabledAttribute ? { disabledAttribute: options.disabledAttribute } : {}),
      },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: OUT_OF_REACH, ...policy },
      notificationEmail: email,
    });
    await system.firstCycle(id);
    return { id, ou, email, users: userDns(ou, users, { prefix: `${name}-` }) };
  }

  /** The one quarantine email of a scenario. */
  async function mailOf(s: Scenario) {
    const [mail] = await system.smtp.waitForMessages(1, {
      filter: (m) => m.to.includes(s.email) && m.subject.includes('Delete threshold exceeded'),
    });
    return mail!;
  }

  it('percentage: limit - 1 is applied, the limit quarantines, as a share of the objects held before the cycle', async () => {
    // 25% of 20 users is 5: 4 deletes (20%) pass; then 4 of the 16 left are 25%.
    const s = await scenario('share', 20, { percentage: 25, minimumObjects: 10 });
    await system.slapd.delete(s.users.slice(0, 4));
    const applied = await system.syncNow(s.id);
    expect(applied.state).toBe('healthy');
    expect(applied.lastCycle?.counts.delete).toBe(4);
    await system.slapd.delete(s.users.slice(4, 8));
    const q = await system.syncNow(s.id, 'quarantined');
    expect(q.quarantine?.trippedBy).toEqual([{ rule: 'percentage', value: 25, limit: 25, of: 16 }]);
    expect(await system.objects(s.id)).toHaveLength(16);
    expect((await mailOf(s)).text).toContain('percentage: 25% of 16 objects, limit 25%');
  });

  it('percentage: below minimumObjects the share is not applied', async () => {
    const s = await scenario('few', 10, { percentage: 10, minimumObjects: 11 });
    await system.slapd.delete(s.users.slice(0, 6));
    const applied = await system.syncNow(s.id);
    expect(applied.state).toBe('healthy');
    expect(applied.lastCycle?.counts.delete).toBe(6);
    expect(await system.objects(s.id)).toHaveLength(4);
  });

  it('perType: group deletes under a user-sized threshold quarantine with type:group', async () => {
    const groups = (ou: string) =>
      Array.from({ length: 6 }, (_, i) => groupLdif(ou, `team${i}`, userDns(ou, 2, { prefix: 'teams-', start: i }))).join('');
    const s = await scenario(
      'teams',
      10,
      { threshold: 50, perType: { group: { threshold: 3 } } },
      { objectTypes: ['user', 'group'], ldif: groups },
    );
    expect(await system.objects(s.id, 'group')).toHaveLength(6);
    const groupDns = Array.from({ length: 6 }, (_, i) => `cn=team${i},${s.ou}`);
    await system.slapd.delete(groupDns.slice(0, 2));
    expect((await system.syncNow(s.id)).lastCycle?.counts.delete).toBe(2);
    await system.slapd.delete(groupDns.slice(2, 5));
    const q = await system.syncNow(s.id, 'quarantined');
    expect(q.quarantine?.trippedBy).toEqual([{ rule: 'type:group', value: 3, limit: 3 }]);
    expect(await system.objects(s.id, 'group')).toHaveLength(4);
    expect((await mailOf(s)).text).toContain('type:group: 3 group deletes >= threshold 3');
  });

  it('window: two cycles under the count whose deletes add up to the window threshold', async () => {
    const s = await scenario('burn', 30, { threshold: 10, window: { hours: 1, threshold: 8 } });
    await system.slapd.delete(s.users.slice(0, 5));
    expect((await system.syncNow(s.id)).lastCycle?.counts.delete).toBe(5);
    await system.slapd.delete(s.users.slice(5, 8));
    const q = await system.syncNow(s.id, 'quarantined');
    expect(q.quarantine?.trippedBy).toEqual([{ rule: 'window', value: 8, limit: 8 }]);
    expect(await system.objects(s.id)).toHaveLength(25);
    expect((await mailOf(s)).text).toContain("window: 8 deletes in the window (this cycle's included) >= threshold 8");
  });

  it('protected: one delete under a protected DN suffix quarantines, and so does a counted disable', async () => {
    const admins = (ou: string) =>
      `dn: ou=admins,${ou}\nobjectClass: organizationalUnit\nou: admins\n\n` +
      usersLdif(`ou=admins,${ou}`, 3, { prefix: 'admin-' });
    const s = await scenario(
      'prot',
      10,
      // Matched case-insensitively, on RDN boundaries.
      { countDisables: true, protected: { dnSuffixes: [`OU=Admins,ou=prot,${SUFFIX}`] } },
      { disabledAttribute: 'employeeType', ldif: admins },
    );
    const adminDns = userDns(`ou=admins,${s.ou}`, 3, { prefix: 'admin-' });
    expect(await system.objects(s.id)).toHaveLength(13);

    await system.slapd.delete([adminDns[0]!]);
    const q = await system.syncNow(s.id, 'quarantined');
    expect(q.quarantine?.trippedBy).toEqual([{ rule: 'protected', value: 1, limit: 1 }]);
    expect(await system.objects(s.id)).toHaveLength(13);
    expect((await mailOf(s)).text).toContain('protected: 1 protected object deleted');
    await system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`);
    expect(await system.objects(s.id)).toHaveLength(12);

    // Unprotected deletes pass; disabling a protected account does not.
    await system.slapd.delete(s.users.slice(0, 2));
    expect((await system.syncNow(s.id)).lastCycle?.counts.delete).toBe(2);
    await system.slapd.modify(`dn: ${adminDns[1]}\nchangetype: modify\nadd: employeeType\nemployeeType: TRUE\n`);
    const disabled = await system.syncNow(s.id, 'quarantined');
    expect(disabled.quarantine?.trippedBy).toEqual([{ rule: 'protected', value: 1, limit: 1 }]);
    expect((await system.objects(s.id)).find((o) => o.dn === adminDns[1])?.disabled).toBe(false);
    const mails = await system.smtp.waitForMessages(2, {
      filter: (m) => m.to.includes(s.email) && m.subject.includes('Delete threshold exceeded'),
    });
    expect(mails[1]!.text).toContain('protected: 1 protected object deleted');
  });

  it('memberRemovals: memberships removed from groups that stay, limit - 1 applied, the limit quarantines; a group deleted counts none', async () => {
    const members = (ou: string) => userDns(ou, 10, { prefix: 'members-' });
    const groups = (ou: string) => groupLdif(ou, 'staff', members(ou)) + groupLdif(ou, 'ops', members(ou).slice(0, 6));
    const s = await scenario(
      'members',
      10,
      { memberRemovals: { threshold: 4 } },
      { objectTypes: ['user', 'group'], ldif: groups },
    );
    const staff = `cn=staff,${s.ou}`;
    const ops = `cn=ops,${s.ou}`;
    const removeMembers = (group: string, dns: string[]) =>
      system.slapd.modify(`dn: ${group}\nchangetype: modify\ndelete: member\n${dns.map((d) => `member: ${d}`).join('\n')}\n`);
    const membersOf = async (dn: string) => (await system.objects(s.id, 'group')).find((g) => g.dn === dn)?.memberDns.length;
    expect(await membersOf(staff)).toBe(10);

    // 3 removed (limit - 1), and one added, which does not count.
    await removeMembers(staff, s.users.slice(0, 3));
    await system.slapd.modify(`dn: ${ops}\nchangetype: modify\nadd: member\nmember: ${s.users[7]}\n`);
    const applied = await system.syncNow(s.id);
    expect(applied.state).toBe('healthy');
    expect(applied.lastCycle?.counts).toMatchObject({ update: 2, delete: 0 });
    expect(await membersOf(staff)).toBe(7);

    // 2 + 2 over two groups that stay: the limit, and no delete at all.
    await removeMembers(staff, s.users.slice(3, 5));
    await removeMembers(ops, s.users.slice(0, 2));
    const q = await system.syncNow(s.id, 'quarantined');
    expect(q.quarantine?.trippedBy).toEqual([{ rule: 'memberRemovals', value: 4, limit: 4 }]);
    expect(q.quarantine?.deleteCount).toBe(0);
    expect(await membersOf(staff)).toBe(7);
    expect((await mailOf(s)).text).toContain('memberRemovals: 4 memberships removed from groups >= threshold 4');
    await system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`);
    expect(await membersOf(staff)).toBe(5);
    expect(await membersOf(ops)).toBe(5);

    // A group deleted takes its memberships with it: a delete, not member removals.
    await system.slapd.delete([staff]);
    const deleted = await system.syncNow(s.id);
    expect(deleted.state).toBe('healthy');
    expect(deleted.lastCycle?.counts.delete).toBe(1);
  });

  it('hold deletes: creates and updates are applied while deletes wait across three cycles; one back in scope leaves the held set; allow-deletes applies exactly the held set', async () => {
    const s = await scenario('lane', 12, { threshold: 2, hold: 'deletes' });
    const away = `ou=lane-away,${SUFFIX}`;
    await system.slapd.add(`dn: ${away}\nobjectClass: organizationalUnit\nou: lane-away\n\n`);
    const [moved, gone1, gone2, gone3] = s.users as [string, string, string, string];
    const dns = async () => (await system.objects(s.id)).map((o) => o.dn).sort();

    // Cycle 1: 2 deletes (one moved out of scope) trip the count; its create and update are applied.
    await system.slapd.moveEntry(moved, 'uid=lane-0', away);
    await system.slapd.delete([gone1]);
    await system.slapd.add(userLdif(s.ou, 'lane-new1', 100));
    await system.slapd.modify(`dn: ${s.users[5]}\nchangetype: modify\nreplace: sn\nsn: Renamed\n`);
    const first = await system.syncNow(s.id);
    expect(first.state).toBe('quarantined');
    expect(first.quarantine).toMatchObject({
      hold: 'deletes',
      deleteCount: 2,
      seriesCount: 1,
      trippedBy: [{ rule: 'count', value: 2, limit: 2 }],
    });
    expect(first.lastCycle?.counts).toMatchObject({ create: 1, update: 1, delete: 0 });
    const objects = await system.objects(s.id);
    expect(objects).toHaveLength(13);
    expect(objects.find((o) => o.dn === s.users[5])?.attributes.sn).toEqual(['Renamed']);
    expect(objects.map((o) => o.dn)).toEqual(expect.arrayContaining([moved, gone1, `uid=lane-new1,${s.ou}`]));
    // The held deletes keep their causes (the plan entries with a cause go into the held set as they are).
    const held = await system.logs(s.id, { action: 'StagedDelete', cycleId: first.lastCycle!.id });
    expect(Object.fromEntries(held.map((l) => [l.dn, [l.cause, l.newDn]]))).toEqual({
      [moved]: ['movedOutOfScope', `uid=lane-0,${away}`],
      [gone1]: ['deleted', undefined],
    });
    expect((await mailOf(s)).text).toContain('its deletes are held');

    // Cycle 2: one delete, under every rule on its own, joins the held set; its create is applied.
    await system.slapd.delete([gone2]);
    await system.slapd.add(userLdif(s.ou, 'lane-new2', 101));
    const second = await system.syncNow(s.id);
    expect(second.quarantine).toMatchObject({ hold: 'deletes', deleteCount: 3, seriesCount: 2 });
    expect(second.lastCycle?.counts).toMatchObject({ create: 1, delete: 0 });
    expect(await dns()).toEqual(expect.arrayContaining([gone2, `uid=lane-new2,${s.ou}`]));

    // Cycle 3: the moved user is back in scope and leaves the set; one more delete joins it.
    await system.slapd.moveEntry(`uid=lane-0,${away}`, 'uid=lane-0', s.ou);
    await system.slapd.delete([gone3]);
    const third = await system.syncNow(s.id);
    expect(third.state).toBe('quarantined');
    expect(third.quarantine).toMatchObject({ hold: 'deletes', deleteCount: 3, seriesCount: 3 });
    expect(await system.objects(s.id)).toHaveLength(14);
    const staged = await system.api.get<{ items: { dn: string }[] }>(
      `/api/v1/configurations/${s.id}/provisioning-logs?action=StagedDelete&limit=100`,
    );
    expect(staged.items.map((e) => e.dn).sort()).toEqual([moved, gone1, gone2, gone3].sort());

    // allow-deletes applies the held set, exactly: the user back in scope stays.
    const released = await system.api.post<{ cycleId: string; deleted: number }>(`/api/v1/configurations/${s.id}/allow-deletes`);
    expect(released.deleted).toBe(3);
    const after = await dns();
    expect(after).toHaveLength(11);
    expect(after).toContain(moved);
    for (const dn of [gone1, gone2, gone3]) expect(after).not.toContain(dn);
    await system.waitForIdle(s.id);
    const next = await system.syncNow(s.id);
    expect(next.state).toBe('healthy');
    expect(next.quarantine).toBeNull();
    expect(next.lastCycle?.counts).toMatchObject({ create: 0, update: 0, delete: 0 });
  });

  it('bad policy values over HTTP answer 400 naming the field, and nothing is created', async () => {
    const bad: [DeletePolicyBody | Record<string, unknown>, string][] = [
      [{ percentage: 0 }, 'accidentalDeletes.percentage'],
      [{ minimumObjects: 1.5 }, 'accidentalDeletes.minimumObjects'],
      [{ perType: { group: { threshold: 2.5 } } }, 'accidentalDeletes.perType.group.threshold'],
      [{ window: { hours: 721, threshold: 10 } }, 'accidentalDeletes.window.hours'],
      [{ protected: { dnSuffixes: ['not a dn'] } }, 'accidentalDeletes.protected.dnSuffixes.0'],
      [{ percentage: '10' }, 'accidentalDeletes.percentage'],
      [{ memberRemovals: { threshold: 0 } }, 'accidentalDeletes.memberRemovals.threshold'],
      [{ memberRemovals: {} }, 'accidentalDeletes.memberRemovals.threshold'],
      [{ memberRemovals: { threshold: 5, percentage: 1 } }, 'accidentalDeletes.memberRemovals.percentage'],
      [{ memberRemovals: 10 }, 'accidentalDeletes.memberRemovals'],
      [{ hold: 'all' }, 'accidentalDeletes.hold'],
      [{ hold: null } as unknown as DeletePolicyBody, 'accidentalDeletes.hold'],
      [{ hold: 'deletes', memberRemovals: { threshold: 10 } }, 'accidentalDeletes.hold'],
    ];
    const before = await system.api.get<{ items: unknown[] }>('/api/v1/configurations');
    for (const [accidentalDeletes, field] of bad) {
      const res = await system.api.raw('POST', '/api/v1/configurations', {
        name: 'bad.example.com',
        agentIds: [agentId],
        source: { baseDn: SUFFIX, objectTypes: ['user'] },
        accidentalDeletes,
      });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; field: string; message: string } };
      expect(error).toMatchObject({ code: 'SG_ERR_INVALID_INPUT', field });
      expect(error.message).toContain(field);
    }
    const after = await system.api.get<{ items: unknown[] }>('/api/v1/configurations');
    expect(after.items).toHaveLength(before.items.length);
  });
});
