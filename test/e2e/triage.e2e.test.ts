/**
 * Issue 18, triage, end to end with the real agent and controller programs, slapd, Redis
 * and SMTP: a mixed quarantine (deletes in one OU, moves out of scope from another) read
 * a page at a time and grouped, from the API, the CLI and the quarantine email.
 */
import { userDns, usersLdif, waitFor } from '@syncguard/testkit';
import { addMixedTree, startSystem, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';
const CAUSES = ['deleted', 'movedOutOfScope', 'filteredOut', 'disabled', 'scopeChanged', 'unknown'];

interface StagedView {
  objectId: string;
  objectType: string;
  dn: string;
  parentDn: string;
  cause: string;
  newDn?: string;
}
interface GroupsView {
  groups: { key: string; count: number; sample: StagedView[] }[];
  total: number;
  cycleId: string | null;
}

describe('triage', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({ controllerConfig: { mailBackoffMs: 200 } });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  /** ou=<name> holding ou=eng (15 users) and ou=sales (10), ou=<name>-archive beside it; a configuration over ou=<name>. */
  async function mixed(name: string) {
    const { corp, archive, eng, sales, engDns, salesDns } = await addMixedTree(system, name, SUFFIX);
    const email = `${name}@example.com`;
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: corp, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: 10 },
      notificationEmail: email,
    });
    await system.firstCycle(id);
    // 5 deleted in sales, 8 moved from eng to the archive (out of scope): 13 >= 10.
    await system.slapd.delete(salesDns.slice(0, 5));
    for (const dn of engDns.slice(0, 8)) {
      const rdn = dn.slice(0, dn.indexOf(','));
      await system.slapd.modify(`dn: ${dn}\nchangetype: modrdn\nnewrdn: ${rdn}\ndeleteoldrdn: 1\nnewsuperior: ${archive}\n`);
    }
    const q = await system.syncNow(id, 'quarantined');
    return { id, email, eng, sales, archive, engDns, salesDns, cycleId: q.lastCycle!.id };
  }

  it('a mixed quarantine reads as pages and as groups by parent, type and cause, in the API, the CLI and the email', async () => {
    const m = await mixed('mixq');
    const base = `/api/v1/configurations/${m.id}/staged-deletes`;

    const seen: StagedView[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: StagedView[]; nextCursor: string | null; total: number } = await system.api.get(
        `${base}?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(page.total).toBe(13);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((d) => d.dn).sort()).toEqual([...m.salesDns.slice(0, 5), ...m.engDns.slice(0, 8)].sort());
    for (const d of seen) {
      expect(d.objectType).toBe('user');
      expect(CAUSES).toContain(d.cause);
      // dn and parentDn as the target holds the object (before the move).
      expect([m.eng, m.sales]).toContain(d.parentDn);
    }

    const byParent = await system.api.get<GroupsView>(`${base}?groupBy=parent`);
    expect(byParent.total).toBe(13);
    expect(byParent.cycleId).toBe(m.cycleId);
    expect(byParent.groups.map((g) => [g.key, g.count])).toEqual([
      [m.eng, 8],
      [m.sales, 5],
    ]);
    expect(byParent.groups[0]!.sample).toHaveLength(3);
    const byType = await system.api.get<GroupsView>(`${base}?groupBy=type`);
    expect(byType.groups).toEqual([expect.objectContaining({ key: 'user', count: 13 })]);
    const byCause = await system.api.get<GroupsView>(`${base}?groupBy=cause`);
    expect(byCause.groups.reduce((n, g) => n + g.count, 0)).toBe(13);

    const cli = await system.ctl('staged', 'mixq.example.com', '--group-by', 'parent');
    expect(cli.code).toBe(0);
    expect(cli.log).toContain('13 deletes held');
    expect(cli.log).toMatch(new RegExp(`8\\s+${m.eng.replace(/[=,]/g, '.')}`));
    expect(cli.log).toMatch(new RegExp(`5\\s+${m.sales.replace(/[=,]/g, '.')}`));
    const status = await system.ctl('status', 'mixq.example.com');
    expect(status.log).toMatch(/held:\s+\d+ \w+ \(e\.g\. uid=/);

    // The quarantine email names the groups, largest first.
    const [mail] = await system.smtp.waitForMessages(1, { filter: (x) => x.to.includes(m.email) });
    expect(mail!.text).toContain('The staged deletes by cause and parent:');
    const lines = mail!.text.split('\n');
    const at = lines.findIndex((l) => l.includes('by cause and parent'));
    expect(lines[at + 1]).toMatch(new RegExp(`^\\s+8 .*${m.eng.split(',')[0]}`));
    expect(lines.slice(at + 1, at + 4).join('\n')).toContain(`5 `);
    await waitFor(async () => (await system.status(m.id)).quarantine?.notification?.status === 'sent');
  });

  it('a pre-approval lets the first cycle within its ceiling through, once, recorded on the cycle and audited; one too small does not', async () => {
    const name = 'preapp';
    const ou = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${ou}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(ou, 60, { prefix: `${name}-` }),
    );
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: 10 },
    });
    await system.firstCycle(id);
    const dns = userDns(ou, 60, { prefix: `${name}-` });
    const base = `/api/v1/configurations/${id}/delete-approvals`;

    // Bad input names the field.
    await expect(system.api.post(base, { maxDeletes: 0, expiresInHours: 1, reason: 'x' })).rejects.toMatchObject({ status: 400 });
    await expect(system.api.post(base, { maxDeletes: 5, expiresInHours: 1 })).rejects.toMatchObject({ status: 400 });

    // Too small: 12 deletes against a ceiling of 11 quarantine as ever, and the approval stays unused.
    const small = await system.ctl(
      '--json',
      'approve',
      `${name}.example.com`,
      '--max',
      '11',
      '--hours',
      '2',
      '--reason',
      'too small',
    );
    expect(small.code).toBe(0);
    const smallId = (JSON.parse(small.log) as { id: string }).id;
    await system.slapd.delete(dns.slice(0, 12));
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(12);
    await system.api.post(`/api/v1/configurations/${id}/restart`);
    await system.waitForIdle(id);
    // (the restarted cycle finds the same 12 and is quarantined again; release it)
    await system.api.post(`/api/v1/configurations/${id}/allow-deletes`);
    await system.syncNow(id);

    // Planned: 20 more deletes, approved up to 25: applied without quarantine, the cycle names the approval.
    const { id: approvalId } = await system.api.post<{ id: string; state: string }>(base, {
      maxDeletes: 25,
      expiresInHours: 1,
      reason: 'retiring the old sales OU',
    });
    await system.slapd.delete(dns.slice(12, 32));
    const applied = await system.syncNow(id);
    expect(applied.state).toBe('healthy');
    expect(applied.lastCycle?.counts.delete).toBe(20);
    const cycles = await system.api.get<{ items: { id: string; approvalId: string | null }[] }>(
      `/api/v1/configurations/${id}/cycles`,
    );
    expect(cycles.items.find((c) => c.id === applied.lastCycle!.id)?.approvalId).toBe(approvalId);
    expect(await system.objects(id)).toHaveLength(60 - 32);

    // Used once: the next mass delete within the same ceiling is quarantined.
    await system.slapd.delete(dns.slice(32, 44));
    const again = await system.syncNow(id, 'quarantined');
    expect(again.quarantine?.deleteCount).toBe(12);

    const list = await system.api.get<{
      items: { id: string; state: string; cycleId: string | null; usedDeletes: number | null }[];
    }>(base);
    expect(list.items.find((a) => a.id === approvalId)).toMatchObject({
      state: 'used',
      cycleId: applied.lastCycle!.id,
      usedDeletes: 20,
    });
    expect(list.items.find((a) => a.id === smallId)).toMatchObject({ state: 'active', cycleId: null });
    const audit = await system.api.get<{ items: { action: string; target: { id: string }; details: Record<string, unknown> }[] }>(
      '/api/v1/audit?limit=200',
    );
    const use = audit.items.filter((e) => e.action === 'delete-approval.use' && e.target.id === id);
    expect(use).toHaveLength(1);
    expect(use[0]!.details).toMatchObject({
      approvalId,
      cycleId: applied.lastCycle!.id,
      deleteCount: 20,
      reason: 'retiring the old sales OU',
    });
    expect(audit.items.some((e) => e.action === 'delete-approval.create' && e.details.approvalId === approvalId)).toBe(true);

    // Revoke the unused one; a used one cannot be.
    expect((await system.ctl('approvals', 'revoke', `${name}.example.com`, smallId)).code).toBe(0);
    await expect(system.api.delete(`${base}/${approvalId}`)).rejects.toMatchObject({
      status: 409,
      code: 'SG_ERR_APPROVAL_SPENT',
    });
    const listed = await system.ctl('approvals', 'list', `${name}.example.com`);
    expect(listed.log).toMatch(new RegExp(`${smallId}\\s+revoked`));
    expect(listed.log).toMatch(new RegExp(`${approvalId}\\s+used\\s+25`));
  });
});
