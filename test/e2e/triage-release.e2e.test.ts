/**
 * Issue 18, partial release, reject-deletes and kept objects, end to end with the real agent,
 * controller and CLI programs, slapd, Redis and SMTP: a mixed quarantine (deletes in one OU,
 * moves out of scope from another) released by OU; the moved objects kept, not re-alerting
 * across a DELTA and a FULL cycle; one coming back in scope and leaving the list; an explicit,
 * audited delete of a kept object; reject-deletes (some, then the rest) with its email.
 */
import { userDns, usersLdif, waitFor } from '@syncguard/testkit';
import { addMixedTree, startSystem, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';

interface KeptView {
  objectId: string;
  dn: string;
  parentDn: string;
  cause: string;
  keptAt: string;
  cycleId: string;
}
interface AuditView {
  action: string;
  actor: { name: string };
  target: { id: string };
  details: Record<string, unknown>;
}

describe('triage: partial release, reject and kept objects', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({ controllerConfig: { mailBackoffMs: 200 } });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  async function kept(id: string): Promise<KeptView[]> {
    return (await system.api.get<{ items: KeptView[] }>(`/api/v1/configurations/${id}/kept-objects?limit=500`)).items;
  }

  async function audit(id: string, action: string): Promise<AuditView[]> {
    const page = await system.api.get<{ items: AuditView[] }>('/api/v1/audit?limit=200');
    return page.items.filter((a) => a.action === action && a.target.id === id);
  }

  it('released by OU, the moved objects kept across DELTA and FULL cycles, one back in scope, one deleted explicitly, then reject', async () => {
    const name = 'rel';
    const { corp, archive, eng, sales, engDns, salesDns } = await addMixedTree(system, name, SUFFIX);
    const email = `${name}@example.com`;
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: corp, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: 6 },
      notificationEmail: email,
    });
    await system.firstCycle(id);
    const byDn = new Map((await system.objects(id)).map((o) => [o.dn.toLowerCase(), o.id]));
    const idOf = (dn: string) => byDn.get(dn.toLowerCase())!;

    // 5 deleted in sales (retired on purpose), 8 moved from eng to the archive (a mistake): 13 >= 6.
    await system.slapd.delete(salesDns.slice(0, 5));
    const moved = engDns.slice(0, 8);
    for (const dn of moved) {
      const rdn = dn.slice(0, dn.indexOf(','));
      await system.slapd.modify(`dn: ${dn}\nchangetype: modrdn\nnewrdn: ${rdn}\ndeleteoldrdn: 1\nnewsuperior: ${archive}\n`);
    }
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(13);

    // A parent DN that matches nothing is a 400 naming it; nothing changes.
    await expect(
      system.api.post(`/api/v1/configurations/${id}/allow-deletes`, { parentDns: [`ou=hr,${corp}`] }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining(`ou=hr,${corp}`) });
    await expect(system.api.post(`/api/v1/configurations/${id}/allow-deletes`, { objectIds: 'x' })).rejects.toMatchObject({
      status: 400,
    });

    // Released by OU from the CLI: the 5 sales deletes applied, the 8 moves kept.
    const released = await system.ctl(
      '--json',
      'allow-deletes',
      `${name}.example.com`,
      '--parent',
      sales,
      '--reason',
      'sales retired',
      '--yes',
    );
    expect(released.code).toBe(0);
    expect(JSON.parse(released.log.slice(released.log.indexOf('{')))).toMatchObject({ state: 'applied', deleted: 5, kept: 8 });
    await system.waitForIdle(id);
    expect((await system.status(id)).state).toBe('healthy');
    let held = new Set((await system.objects(id)).map((o) => o.dn.toLowerCase()));
    for (const dn of salesDns.slice(0, 5)) expect(held.has(dn.toLowerCase())).toBe(false);
    for (const dn of moved) expect(held.has(dn.toLowerCase())).toBe(true);
    const keptNow = await kept(id);
    expect(keptNow.map((k) => k.dn.toLowerCase()).sort()).toEqual(moved.map((d) => d.toLowerCase()).sort());
    for (const k of keptNow) expect(k).toMatchObject({ parentDn: eng, cycleId: q.lastCycle!.id });
    const [allowed] = await audit(id, 'allow-deletes');
    expect(allowed!.details).toMatchObject({
      parentDns: [sales],
      objectIds: salesDns.slice(0, 5).map(idOf).sort(),
      reason: 'sales retired',
      kept: 8,
    });

    // A DELTA cycle and a FULL one (the agent's state lost): the kept objects trip nothing and stay.
    const delta = await system.syncNow(id);
    expect(delta.lastCycle?.counts.delete).toBe(0);
    await system.stopAgent(agentId);
    await system.wipeAgentState(agentId);
    await system.startAgent(agentId);
    const full = await system.syncNow(id);
    expect(full.state).toBe('healthy');
    expect(full.lastCycle?.counts.delete).toBe(0);
    expect(await kept(id)).toHaveLength(8);
    held = new Set((await system.objects(id)).map((o) => o.dn.toLowerCase()));
    for (const dn of moved) expect(held.has(dn.toLowerCase())).toBe(true);
    // Only the one quarantine email was sent (no re-alert).
    const quarantineMails = system.smtp.messages.filter(
      (m) => m.to.includes(email) && m.subject.includes('Delete threshold exceeded'),
    );
    expect(quarantineMails).toHaveLength(1);

    // One comes back in scope: it leaves the list.
    const back = moved[0]!;
    const backRdn = back.slice(0, back.indexOf(','));
    await system.slapd.modify(
      `dn: ${backRdn},${archive}\nchangetype: modrdn\nnewrdn: ${backRdn}\ndeleteoldrdn: 1\nnewsuperior: ${eng}\n`,
    );
    await system.syncNow(id);
    const after = await kept(id);
    expect(after).toHaveLength(7);
    expect(after.map((k) => k.objectId)).not.toContain(idOf(back));

    // The CLI lists them; an explicit delete of one is applied and audited.
    const list = await system.ctl('kept', `${name}.example.com`);
    expect(list.code).toBe(0);
    expect(list.log).toContain(moved[1]!);
    const victim = idOf(moved[1]!);
    const del = await system.ctl('kept', `${name}.example.com`, '--delete', victim, '--reason', 'left the company', '--yes');
    expect(del.code).toBe(0);
    expect(del.log).toContain('deleted: 1 kept objects');
    await system.waitForIdle(id);
    expect((await system.objects(id)).map((o) => o.id)).not.toContain(victim);
    expect(await kept(id)).toHaveLength(6);
    const [deletedAudit] = await audit(id, 'kept-objects.delete');
    expect(deletedAudit!.details).toMatchObject({ objectIds: [victim], reason: 'left the company', deleteCount: 1 });
    const bad = await system.ctl('kept', `${name}.example.com`, '--delete', 'no-such-id', '--yes');
    expect(bad.code).toBe(1);
    expect(bad.log).toContain('no-such-id');

    // Reject: 7 more deletes; one kept from the CLI, then the rest; the cycle's other changes are applied.
    const more = engDns.slice(8, 15);
    await system.slapd.delete(more);
    await system.slapd.add(usersLdif(eng, 1, { prefix: `${name}-new` }));
    const q2 = await system.syncNow(id, 'quarantined');
    expect(q2.quarantine?.deleteCount).toBe(7);
    const one = await system.ctl(
      '--json',
      'reject-deletes',
      `${name}.example.com`,
      '--object',
      idOf(more[0]!),
      '--reason',
      'check first',
    );
    expect(one.code).toBe(0);
    expect(JSON.parse(one.log.slice(one.log.indexOf('{')))).toMatchObject({ kept: 1, left: 6, state: 'quarantined' });
    expect((await system.status(id)).quarantine?.deleteCount).toBe(6);
    const rest = await system.api.post<{ kept: number; left: number; state: string }>(
      `/api/v1/configurations/${id}/reject-deletes`,
      { reason: 'restore from backup' },
    );
    expect(rest).toMatchObject({ kept: 6, left: 0, state: 'applied' });
    await system.waitForIdle(id);
    expect((await system.status(id)).state).toBe('healthy');
    const objects = await system.objects(id);
    expect(objects.map((o) => o.dn.toLowerCase())).toContain(`uid=${name}-new0,${eng}`.toLowerCase());
    expect(await kept(id)).toHaveLength(13);
    const rejects = await audit(id, 'reject-deletes');
    expect(rejects.map((r) => r.details)).toEqual([
      expect.objectContaining({ all: true, kept: 6, reason: 'restore from backup' }),
      expect.objectContaining({ objectIds: [idOf(more[0]!)], kept: 1, left: 6, reason: 'check first' }),
    ]);
    const [rejectedMail] = await system.smtp.waitForMessages(1, {
      filter: (m) => m.to.includes(email) && m.subject.includes('deletes rejected'),
    });
    expect(rejectedMail!.text).toContain('kept objects');
    // And a later cycle stays quiet.
    const quiet = await system.syncNow(id);
    expect(quiet.lastCycle?.counts.delete).toBe(0);
    await waitFor(async () => (await system.status(id)).state === 'healthy');
  });

  it('hold deletes: the delete lane released by OU (the rest kept), then a new lane rejected; kept objects stay quiet in a FULL cycle', async () => {
    const name = 'lane';
    const corp = `ou=${name},${SUFFIX}`;
    const a = `ou=a,${corp}`;
    const b = `ou=b,${corp}`;
    await system.slapd.add(
      [
        `dn: ${corp}\nobjectClass: organizationalUnit\nou: ${name}\n`,
        `dn: ${a}\nobjectClass: organizationalUnit\nou: a\n`,
        `dn: ${b}\nobjectClass: organizationalUnit\nou: b\n`,
        usersLdif(a, 8, { prefix: `${name}-a` }),
        usersLdif(b, 8, { prefix: `${name}-b` }),
      ].join('\n'),
    );
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: corp, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: 5, hold: 'deletes' },
    });
    await system.firstCycle(id);
    const aDns = userDns(a, 8, { prefix: `${name}-a` });
    const bDns = userDns(b, 8, { prefix: `${name}-b` });
    await system.slapd.delete([...aDns.slice(0, 3), ...bDns.slice(0, 3)]);
    await system.slapd.add(usersLdif(a, 1, { prefix: `${name}-hire` }));
    const opened = await system.syncNow(id);
    expect(opened.state).toBe('quarantined');
    expect(opened.quarantine).toMatchObject({ hold: 'deletes', deleteCount: 6 });

    const released = await system.api.post<{ state: string; deleted: number; kept: number }>(
      `/api/v1/configurations/${id}/allow-deletes`,
      { parentDns: [a] },
    );
    expect(released).toMatchObject({ state: 'applied', deleted: 3, kept: 3 });
    await system.waitForIdle(id);
    expect((await system.status(id)).state).toBe('healthy');
    expect((await kept(id)).map((k) => k.dn.toLowerCase()).sort()).toEqual(
      bDns
        .slice(0, 3)
        .map((d) => d.toLowerCase())
        .sort(),
    );
    const dns = (await system.objects(id)).map((o) => o.dn.toLowerCase());
    expect(dns).toContain(`uid=${name}-hire0,${a}`.toLowerCase());
    for (const dn of aDns.slice(0, 3)) expect(dns).not.toContain(dn.toLowerCase());

    await system.stopAgent(agentId);
    await system.wipeAgentState(agentId);
    await system.startAgent(agentId);
    const full = await system.syncNow(id);
    expect(full.state).toBe('healthy');
    expect(full.lastCycle?.counts.delete).toBe(0);

    await system.slapd.delete(bDns.slice(3, 8));
    const again = await system.syncNow(id);
    expect(again.quarantine).toMatchObject({ hold: 'deletes', deleteCount: 5 });
    const rejected = await system.api.post<{ kept: number; left: number; state: string }>(
      `/api/v1/configurations/${id}/reject-deletes`,
      {},
    );
    expect(rejected).toMatchObject({ kept: 5, left: 0, state: 'healthy' });
    expect((await system.status(id)).state).toBe('healthy');
    expect(await kept(id)).toHaveLength(8);
    expect((await system.syncNow(id)).lastCycle?.counts.delete).toBe(0);
  });
});
