/**
 * Issue 18, preview, end to end with the real agent and controller programs, slapd and
 * Redis: a preview of a filter change whose counts, verdict and rules are those of the real
 * cycle after the PATCH; the CLI's exit status 3; the agent offline; a read that fails.
 */
import { userLdif, usersLdif, waitFor } from '@syncguard/testkit';
import { ApiError } from '../harness/api-client';
import { startSystem, type TestSystem, type TrippedRuleView } from '../harness';

const SUFFIX = 'dc=example,dc=com';

interface PreviewView {
  previewId: string;
  state: 'running' | 'complete' | 'failed';
  objects: number;
  counts: { create: number; update: number; delete: number } | null;
  wouldQuarantine: boolean | null;
  trippedBy: TrippedRuleView[];
  approvalId: string | null;
  deletes: { total: number; sample: { objectId: string; objectType: string; dn: string; cause: string }[] } | null;
  error: { code: string; message: string } | null;
}

describe('preview', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem();
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  /** ou=<name> with 30 users <name>0..<name>29, synced once by a configuration with threshold 10. */
  async function synced(name: string): Promise<{ id: string; ou: string }> {
    const ou = `ou=${name},${SUFFIX}`;
    await system.slapd.add(`dn: ${ou}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(ou, 30, { prefix: name }));
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: 10 },
    });
    await system.firstCycle(id);
    return { id, ou };
  }

  async function preview(id: string, patch: unknown): Promise<PreviewView> {
    const { previewId } = await system.api.post<{ previewId: string }>(`/api/v1/configurations/${id}/preview`, patch);
    return waitFor(
      async () => {
        const p = await system.api.get<PreviewView>(`/api/v1/configurations/${id}/previews/${previewId}`);
        return p.state === 'running' ? undefined : p;
      },
      { message: `preview ${previewId}` },
    );
  }

  it('a preview of a filter change counts and judges exactly what the real cycle after the PATCH does', async () => {
    const { id, ou } = await synced('prv');
    // At the source, before the change: one user it keeps is modified, one it would keep is new.
    await system.slapd.modify(`dn: uid=prv12,${ou}\nchangetype: modify\nreplace: title\ntitle: Director\n`);
    await system.slapd.add(userLdif(ou, 'prv1new', 99));
    const cyclesBefore = (await system.api.get<{ items: unknown[] }>(`/api/v1/configurations/${id}/cycles`)).items.length;
    // Keeps prv1, prv10..prv19 and prv1new (12): 19 of the 30 synced users leave the scope.
    const patch = { source: { filter: '(mail=prv1*)' } };

    const p = await preview(id, patch);
    expect(p).toMatchObject({
      state: 'complete',
      objects: 12,
      counts: { create: 1, update: 1, delete: 19 },
      wouldQuarantine: true,
      trippedBy: [{ rule: 'count', value: 19, limit: 10 }],
      error: null,
    });
    expect(p.deletes!.total).toBe(19);
    for (const d of p.deletes!.sample) {
      expect(d.cause).toBe('scopeChanged');
      expect(d.dn).not.toMatch(/^uid=prv1(\d)?,/);
    }
    // Nothing applied, no cycle started, the configuration unchanged.
    expect((await system.api.get<{ items: unknown[] }>(`/api/v1/configurations/${id}/cycles`)).items.length).toBe(cyclesBefore);
    expect((await system.status(id)).state).toBe('healthy');
    expect((await system.objects(id)).length).toBe(30);

    // The change itself, and the cycle that follows it.
    await system.api.patch(`/api/v1/configurations/${id}`, patch);
    const real = await system.syncNow(id, 'quarantined');
    expect(real.lastCycle!.counts).toMatchObject(p.counts!);
    expect(real.quarantine!.deleteCount).toBe(p.deletes!.total);
    expect(real.quarantine!.trippedBy).toEqual(p.trippedBy);
  });

  it('syncguardctl preview exits 3 when the change would quarantine, 0 when not, 1 when the read fails', async () => {
    await synced('cli');
    const name = 'cli.example.com';
    const many = await system.ctl('preview', name, '--filter', '(mail=cli1*)');
    expect(many.code).toBe(3);
    expect(many.log).toContain('create 0, update 0, delete 19');
    expect(many.log).toContain('would quarantine: 19 deletes >= threshold 10');

    const few = await system.ctl('preview', name, '--filter', '(!(uid=cli7))');
    expect(few.log).toContain('create 0, update 0, delete 1');
    expect(few.log).toContain('would not quarantine');
    expect(few.code).toBe(0);

    const json = await system.ctl('--json', 'preview', name, '--filter', '(mail=cli1*)', '--threshold', '20');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.log)).toMatchObject({ state: 'complete', wouldQuarantine: false, counts: { delete: 19 } });

    const missing = await system.ctl('preview', name, '--base-dn', `ou=nowhere,${SUFFIX}`);
    expect(missing.code).toBe(1);
    expect(missing.log).toContain('CYCLE_ERROR_LDAP_NO_SUCH_OBJECT');

    const bad = await system.ctl('preview', name, '--threshold', '0');
    expect(bad.code).toBe(1);
    expect(bad.log).toContain('accidentalDeletes.threshold');
  });

  it('with the agent offline a preview is refused clearly (409 SG_ERR_NO_AGENT), and works again once it is back', async () => {
    const { id } = await synced('off');
    await system.stopAgent(agentId);
    await waitFor(async () => (await system.api.get<{ status: string }>(`/api/v1/agents/${agentId}`)).status === 'disconnected', {
      message: 'agent disconnected',
    });
    const refused = await system.api.post(`/api/v1/configurations/${id}/preview`, {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 409, code: 'SG_ERR_NO_AGENT' });
    const cli = await system.ctl('preview', 'off.example.com');
    expect(cli.code).toBe(1);
    expect(cli.log).toContain('SG_ERR_NO_AGENT');

    await system.startAgent(agentId);
    await system.waitForIdle(id);
    const p = await preview(id, {});
    expect(p).toMatchObject({ state: 'complete', counts: { create: 0, update: 0, delete: 0 }, wouldQuarantine: false });
  });
});
