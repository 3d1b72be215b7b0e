/**
 * Issue 5 end to end: real slapd + agent program + controller program + Redis. The cloud
 * directory matches the source after the first cycle, and after changes at the source
 * the next cycle brings it back in step.
 */
import { groupLdif, userDns, usersLdif } from '@syncguard/testkit';
import { startSystem, type TestSystem } from '../harness';

const PEOPLE = 'ou=people,dc=example,dc=com';
const GROUPS = 'ou=groups,dc=example,dc=com';

function seed(): string {
  let ldif = usersLdif(PEOPLE, 1000);
  for (let g = 0; g < 20; g++) ldif += groupLdif(GROUPS, `group${g}`, userDns(PEOPLE, 10, { start: g * 10 }));
  return ldif;
}

describe('sync end to end', () => {
  let system: TestSystem;
  let configId: string;

  beforeAll(async () => {
    system = await startSystem({ slapd: { seedLdif: seed() } });
    const agentId = await system.addAgent('dc1');
    ({ id: configId } = await system.createConfiguration({
      name: 'example.com',
      agentIds: [agentId],
      source: { baseDn: 'dc=example,dc=com', objectTypes: ['user', 'group'] },
      syncIntervalSeconds: 3600,
      notificationEmail: 'ops@example.com',
    }));
  });
  afterAll(() => system?.dispose());

  it('the first cycle brings 1,000 users and 20 groups into the cloud directory', async () => {
    const status = await system.firstCycle(configId);
    expect(status.state).toBe('healthy');
    expect(status.lastCycle?.counts).toEqual({ create: 1020, update: 0, delete: 0, failed: 0 });

    const users = await system.objects(configId, 'user');
    const groups = await system.objects(configId, 'group');
    expect(users).toHaveLength(1000);
    expect(groups).toHaveLength(20);
    const ada = users.find((u) => u.dn === `uid=user7,${PEOPLE}`);
    expect(ada?.attributes['mail']).toEqual(['user7@example.com']);
    const group3 = groups.find((g) => g.dn === `cn=group3,${GROUPS}`)!;
    expect(group3.memberDns.map((d) => d.toLowerCase()).sort()).toEqual(
      userDns(PEOPLE, 10, { start: 30 })
        .map((d) => d.toLowerCase())
        .sort(),
    );
    // Members the cloud directory holds are resolved to their object ids.
    const idsByDn = new Map(users.map((u) => [u.dn.toLowerCase(), u.id]));
    expect(group3.memberIds.sort()).toEqual(
      userDns(PEOPLE, 10, { start: 30 })
        .map((d) => idsByDn.get(d.toLowerCase()))
        .sort(),
    );

    const logs = await system.logs(configId, { cycleId: status.lastCycle!.id });
    expect(logs.filter((l) => l.action === 'Create' && l.status === 'success')).toHaveLength(1020);
  });

  it('a quiet cycle changes nothing', async () => {
    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect(await system.objects(configId)).toHaveLength(1020);
  });

  it('changes, adds and deletes at the source reach the cloud directory with the next cycle', async () => {
    await system.slapd.modify(
      [1, 2, 3]
        .map((n) => `dn: uid=user${n},${PEOPLE}\nchangetype: modify\nreplace: mail\nmail: changed${n}@example.com\n`)
        .join('\n'),
    );
    await system.slapd.add(usersLdif(PEOPLE, 2, { prefix: 'newcomer' }));
    await system.slapd.delete(userDns(PEOPLE, 4, { start: 996 }));
    await system.slapd.moveEntry(`uid=user500,${PEOPLE}`, 'uid=user500-renamed');

    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toEqual({ create: 2, update: 4, delete: 4, failed: 0 });

    const users = await system.objects(configId, 'user');
    expect(users).toHaveLength(998);
    const byDn = new Map(users.map((u) => [u.dn, u]));
    expect(byDn.get(`uid=user2,${PEOPLE}`)?.attributes['mail']).toEqual(['changed2@example.com']);
    expect(byDn.has(`uid=newcomer1,${PEOPLE}`)).toBe(true);
    expect(byDn.has(`uid=user999,${PEOPLE}`)).toBe(false);
    expect(byDn.has(`uid=user500-renamed,${PEOPLE}`)).toBe(true);

    const logs = await system.logs(configId, { cycleId: status.lastCycle!.id });
    const count = (action: string) => logs.filter((l) => l.action === action && l.status === 'success').length;
    expect([count('Create'), count('Update'), count('Delete')]).toEqual([2, 4, 4]);
  });

  it('the agent restarted between cycles keeps its cache: the next cycle has no changes', async () => {
    const [agentId] = [...system.agents.keys()];
    expect(await system.stopAgent(agentId!)).toBe(0);
    await system.startAgent(agentId!);
    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect(await system.objects(configId)).toHaveLength(1018);
  });
});
