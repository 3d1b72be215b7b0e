/**
 * OpenLDAP change tracking end to end: slapd with the accesslog overlay, the real agent and
 * controller programs. DELTA cycles read the log (the cycle record says `accesslog`), and
 * the guard's scope-out scenario holds: an OU moved out of scope quarantines, moved back and
 * restarted nothing is deleted.
 */
import { userDns, usersLdif } from '@syncguard/testkit';
import { startSystem, type CycleView, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';
const BASE = `ou=scoped,${SUFFIX}`;
const STAFF = `ou=staff,${BASE}`;

describe('accesslog change tracking end to end', () => {
  let system: TestSystem;
  let id: string;

  beforeAll(async () => {
    system = await startSystem({
      slapd: {
        accesslog: true,
        seedLdif:
          `dn: ${BASE}\nobjectClass: organizationalUnit\nou: scoped\n\ndn: ou=attic,${SUFFIX}\nobjectClass: organizationalUnit\nou: attic\n\n` +
          `dn: ${STAFF}\nobjectClass: organizationalUnit\nou: staff\n\n` +
          usersLdif(STAFF, 25, { prefix: 'staff-' }),
      },
      agentEnv: { LDAP_CHANGE_TRACKING: 'accesslog' },
    });
    // slapadd writes no log: one write, so that the first FULL read has a log entry to start from.
    await system.slapd.modify(`dn: ${BASE}\nchangetype: modify\nreplace: description\ndescription: seeded\n`);
    const agentId = await system.addAgent('dc1');
    ({ id } = await system.createConfiguration({
      name: 'scoped.example.com',
      agentIds: [agentId],
      source: { baseDn: BASE, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: 20 },
      notificationEmail: 'scoped@example.com',
    }));
  });
  afterAll(() => system?.dispose());

  const cycle = async (cycleId: string) =>
    (await system.api.get<{ items: CycleView[] }>(`/api/v1/configurations/${id}/cycles?limit=50`)).items.find(
      (c) => c.id === cycleId,
    )!;

  it('the first cycle scans; the next ones read the log, and the cycle record says so', async () => {
    const first = await system.firstCycle(id);
    expect(first.lastCycle).toMatchObject({ mode: 'full', changeTracking: 'scan' });
    await system.slapd.modify(`dn: uid=staff-1,${STAFF}\nchangetype: modify\nreplace: title\ntitle: Director\n`);
    const delta = await system.syncNow(id);
    expect(delta.lastCycle).toMatchObject({ mode: 'delta', changeTracking: 'accesslog' });
    expect(delta.lastCycle?.counts).toEqual({ create: 0, update: 1, delete: 0, failed: 0 });
    expect((await cycle(delta.lastCycle!.id)).changeTracking).toBe('accesslog');
  });

  it('an OU moved out of scope quarantines; moved back and restarted, nothing is deleted', async () => {
    await system.slapd.moveEntry(STAFF, 'ou=staff', `ou=attic,${SUFFIX}`);
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(25);
    expect(q.lastCycle?.changeTracking).toBe('accesslog');
    const staged = await system.logs(id, { action: 'StagedDelete' });
    expect(new Set(staged.map((l) => l.dn))).toEqual(new Set(userDns(STAFF, 25, { prefix: 'staff-' })));
    // The log said where they went.
    for (const l of staged) {
      expect(l.cause).toBe('movedOutOfScope');
      expect(l.newDn).toBe(l.dn.replace(STAFF, `ou=staff,ou=attic,${SUFFIX}`));
    }

    await system.slapd.moveEntry(`ou=staff,ou=attic,${SUFFIX}`, 'ou=staff', BASE);
    await system.api.post(`/api/v1/configurations/${id}/restart`);
    const healthy = await system.waitForCycle(id, 'applied', { after: q.lastCycle!.id });
    expect(healthy.lastCycle?.changeTracking).toBe('accesslog');
    expect(healthy.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect(await system.objects(id)).toHaveLength(25);
  });
});

describe('a full consistency read end to end', () => {
  let system: TestSystem;
  let id: string;
  const PEOPLE = `ou=people,${SUFFIX}`;

  beforeAll(async () => {
    system = await startSystem({
      slapd: { accesslog: true, seedLdif: usersLdif(PEOPLE, 10) },
      agentEnv: { LDAP_CHANGE_TRACKING: 'accesslog', LDAP_FULL_SCAN_INTERVAL: '3s', LDAP_DELTA_SKEW: '0s' },
    });
    await system.slapd.modify(`dn: uid=user1,${PEOPLE}\nchangetype: modify\nreplace: title\ntitle: seeded\n`);
    const agentId = await system.addAgent('dc1');
    ({ id } = await system.createConfiguration({
      name: 'drift.example.com',
      agentIds: [agentId],
      source: { baseDn: PEOPLE, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
    }));
  });
  afterAll(() => system?.dispose());

  it("what the scan finds beyond the log is the cycle record's drift", async () => {
    const first = await system.firstCycle(id);
    expect(first.lastCycle).toMatchObject({ changeTracking: 'scan', drift: null });
    // Loaded offline (slapadd): the accesslog never sees it.
    await system.slapd.slapadd(usersLdif(PEOPLE, 1, { prefix: 'offline' }));
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const consistency = await system.syncNow(id);
    expect(consistency.lastCycle).toMatchObject({ mode: 'delta', changeTracking: 'scan', drift: 1 });
    expect(consistency.lastCycle?.counts.create).toBe(1);
    const next = await system.syncNow(id);
    expect(next.lastCycle).toMatchObject({ changeTracking: 'accesslog', drift: null });
  });
});
