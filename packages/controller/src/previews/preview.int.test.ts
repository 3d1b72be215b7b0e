import { CycleErrorCode } from '@syncguard/protocol';
import { startRedis, waitFor, type RedisServer } from '@syncguard/testkit';
import type { ConfigurationInput, Preview } from '../model';
import type { ControllerServer } from '../server';
import { Keys } from '../store/keys';
import { FakeAgent, fakeUsers, type FakeObject } from '../testing/fake-agent';
import { setupConfiguration, startTestController, TEST_ADMIN } from '../testing/harness';

jest.setTimeout(90_000);

const PEOPLE = 'ou=people,dc=example,dc=com';
let redis: RedisServer;
let server: ControllerServer;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestController(redis.url);
});

afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

let counter = 0;

/** A configuration with 30 users (15 in department 1, 15 in department 2) synced once. */
async function synced(input: Partial<ConfigurationInput> = {}, features?: string[]) {
  counter += 1;
  const { agent, configurationId } = await setupConfiguration(
    server,
    { name: `corp${counter}`, accidentalDeletes: { enabled: true, threshold: 10 }, ...input },
    { batchSize: 7, ...(features ? { features } : {}) },
  );
  fakeUsers(PEOPLE, 30, `p${counter}x`).forEach((u, n) => {
    u.attributes.departmentNumber = [n < 15 ? '1' : '2'];
    agent.directory.set(u.id, u);
  });
  await agent.hello();
  const first = await agent.waitFor('startCycle');
  await waitFor(async () => (await server.service.getStatus(configurationId)).lastCycle?.state === 'applied', {
    message: 'initial sync',
  });
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
  return { agent, cfg: configurationId };
}

async function previewed(cfg: string, patch: unknown): Promise<Preview> {
  const { previewId } = await server.service.startPreview(cfg, patch, TEST_ADMIN);
  return waitFor(
    async () => {
      const p = await server.service.getPreview(cfg, previewId);
      return p.state === 'running' ? undefined : p;
    },
    { message: `preview ${previewId}` },
  );
}

function change(agent: FakeAgent, id: string, edit: (o: FakeObject) => void): void {
  const o = agent.directory.get(id)!;
  edit(o);
}

describe('previews', () => {
  it("counts a filter change's creates, updates and deletes and the guard's verdict exactly as the real cycle after the PATCH", async () => {
    const { agent, cfg } = await synced();
    const prefix = `p${counter}x`;
    // At the source: one user of department 1 changed, one new user in department 1.
    change(agent, `${prefix}-3`, (o) => (o.attributes.title = ['Director']));
    agent.directory.set('newcomer', {
      id: 'newcomer',
      type: 'user',
      dn: `uid=newcomer,${PEOPLE}`,
      attributes: { uid: ['newcomer'], departmentNumber: ['1'] },
    });
    const cyclesBefore = (await server.service.listCycles(cfg, {})).items.length;
    const patch = { source: { filter: '(departmentNumber=1)' } };

    const p = await previewed(cfg, patch);
    expect(p).toMatchObject({
      state: 'complete',
      objects: 16,
      counts: { create: 1, update: 1, delete: 15 },
      wouldQuarantine: true,
      trippedBy: [{ rule: 'count', value: 15, limit: 10 }],
      approvalId: null,
      error: null,
    });
    expect(p.deletes!.total).toBe(15);
    expect(p.deletes!.sample).toHaveLength(15);
    for (const d of p.deletes!.sample) {
      expect(d).toMatchObject({ objectType: 'user', cause: 'scopeChanged' });
      expect(Number(/-(\d+)$/.exec(d.objectId)![1])).toBeGreaterThanOrEqual(15);
    }
    // Nothing was started or applied, and the configuration is as it was.
    expect((await server.service.listCycles(cfg, {})).items.length).toBe(cyclesBefore);
    expect((await server.service.getConfiguration(cfg)).source.filter).toBe('');
    expect((await server.service.getStatus(cfg)).state).toBe('healthy');

    // The real change, and the cycle after it: the same counts and the same verdict.
    await server.service.updateConfiguration(cfg, patch, TEST_ADMIN);
    await server.service.startCycle(cfg, TEST_ADMIN);
    const status = await waitFor(
      async () => {
        const s = await server.service.getStatus(cfg);
        return s.state === 'quarantined' ? s : undefined;
      },
      { message: 'the real cycle quarantined' },
    );
    expect(status.lastCycle!.counts).toMatchObject(p.counts!);
    expect(status.quarantine!.trippedBy).toEqual(p.trippedBy);
    expect(status.quarantine!.deleteCount).toBe(p.deletes!.total);
    await agent.close();
  });

  it('counts no delete of a kept object (triage), as the real cycles do', async () => {
    const { agent, cfg } = await synced();
    await server.service.updateConfiguration(cfg, { source: { filter: '(departmentNumber=1)' } }, TEST_ADMIN);
    await server.service.startCycle(cfg, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(cfg)).state === 'quarantined', { message: 'quarantined' });
    // The 15 out-of-scope users are rejected: kept in the target, tripping nothing.
    expect(await server.service.rejectDeletes(cfg, {}, TEST_ADMIN)).toMatchObject({ kept: 15 });
    await waitFor(async () => (await server.service.getStatus(cfg)).state === 'healthy', { message: 'healthy' });
    // A preview reads the whole scope, like a FULL cycle, and misses the kept users every time.
    const p = await previewed(cfg, {});
    expect(p).toMatchObject({ state: 'complete', counts: { create: 0, update: 0, delete: 0 }, wouldQuarantine: false });
    // And a preview of a patch whose scope holds them again counts them as in the target.
    const back = await previewed(cfg, { source: { filter: '' } });
    expect(back).toMatchObject({ state: 'complete', counts: { create: 0, update: 0, delete: 0 }, wouldQuarantine: false });
    await agent.close();
  });

  it('previews a policy change alone ({} scope) and disabled accounts counted as deletes; a covering pre-approval is named, not taken', async () => {
    const { agent, cfg } = await synced();
    const prefix = `p${counter}x`;
    for (const n of [1, 2, 3]) change(agent, `${prefix}-${n}`, (o) => (o.disabled = true));
    const quiet = await previewed(cfg, {});
    expect(quiet).toMatchObject({ counts: { create: 0, update: 3, delete: 0 }, wouldQuarantine: false, trippedBy: [] });

    const disables = await previewed(cfg, { accidentalDeletes: { countDisables: true, threshold: 3 } });
    expect(disables).toMatchObject({ counts: { create: 0, update: 0, delete: 3 }, wouldQuarantine: true });
    expect(disables.deletes!.sample.map((d) => d.cause)).toEqual(['disabled', 'disabled', 'disabled']);

    const approval = await server.service.createDeleteApproval(
      cfg,
      { maxDeletes: 5, expiresInHours: 1, reason: 'planned' },
      TEST_ADMIN,
    );
    const covered = await previewed(cfg, { accidentalDeletes: { countDisables: true, threshold: 3 } });
    expect(covered).toMatchObject({
      wouldQuarantine: false,
      approvalId: approval.id,
      trippedBy: [{ rule: 'count', value: 3, limit: 3 }],
    });
    expect((await server.service.listDeleteApprovals(cfg)).items[0]).toMatchObject({ id: approval.id, state: 'active' });

    const members = await previewed(cfg, { accidentalDeletes: { memberRemovals: { threshold: 5 } } });
    expect(members.notPreviewed).toEqual(['memberRemovals']);
    await agent.close();
  });

  it('kept objects (reject-deletes) trip nothing in a preview, as in the real cycle after it', async () => {
    const { agent, cfg } = await synced();
    const prefix = `p${counter}x`;
    for (let n = 0; n < 12; n++) agent.directory.delete(`${prefix}-${n}`);
    await server.service.startCycle(cfg, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(cfg)).state === 'quarantined', { message: 'quarantined' });
    await server.service.rejectDeletes(cfg, {}, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(cfg)).state === 'healthy', { message: 'rejected and applied' });

    // 12 kept; 15 of department 2 out by the filter: only those 15 are deletes.
    const patch = { source: { filter: '(departmentNumber=1)' } };
    const p = await previewed(cfg, patch);
    expect(p).toMatchObject({ counts: { create: 0, update: 0, delete: 15 }, wouldQuarantine: true });
    expect(p.deletes!.sample.every((d) => Number(/-(\d+)$/.exec(d.objectId)![1]) >= 15)).toBe(true);
    await server.service.updateConfiguration(cfg, patch, TEST_ADMIN);
    const { cycleId } = await server.service.startCycle(cfg, TEST_ADMIN);
    const status = await waitFor(
      async () => {
        const s = await server.service.getStatus(cfg);
        return s.lastCycle?.id === cycleId && s.state === 'quarantined' ? s : undefined;
      },
      { message: 'the real cycle' },
    );
    expect(status.lastCycle!.counts).toMatchObject(p.counts!);
    expect(status.quarantine!.trippedBy).toEqual(p.trippedBy);
    await agent.close();
  });

  it('refuses a bad patch naming the field, an unknown configuration, and an agent too old to read previews', async () => {
    const { agent, cfg } = await synced();
    await expect(server.service.startPreview(cfg, { source: { baseDn: 'not a dn' } }, TEST_ADMIN)).rejects.toMatchObject({
      code: 'SG_ERR_INVALID_INPUT',
      field: 'source.baseDn',
    });
    await expect(server.service.startPreview(cfg, { accidentalDeletes: { enabled: null } }, TEST_ADMIN)).rejects.toMatchObject({
      field: 'accidentalDeletes.enabled',
    });
    await expect(server.service.startPreview(cfg, { nope: 1 }, TEST_ADMIN)).rejects.toMatchObject({ field: 'nope' });
    await expect(server.service.getPreview(cfg, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'SG_ERR_NOT_FOUND',
    });
    await agent.close();
    await waitFor(
      async () => !(await server.services.agents.isConnected((await server.service.getConfiguration(cfg)).agentIds[0]!)),
      {
        message: 'agent gone',
      },
    );
    await expect(server.service.startPreview(cfg, {}, TEST_ADMIN)).rejects.toMatchObject({ code: 'SG_ERR_NO_AGENT' });

    const old = await synced({}, []);
    await expect(server.service.startPreview(old.cfg, {}, TEST_ADMIN)).rejects.toMatchObject({
      code: 'SG_ERR_AGENT_UNSUPPORTED',
    });
    expect(old.agent.count('startPreview')).toBe(0);
    await old.agent.close();
  });

  it('fails clearly when the agent disconnects mid-preview or its read fails; keys stay in the configuration slot', async () => {
    const { agent, cfg } = await synced();
    agent.autoPreview = false;
    const { previewId } = await server.service.startPreview(cfg, {}, TEST_ADMIN);
    expect(previewId.slice(0, 8)).toBe(cfg.slice(0, 8));
    const start = await agent.waitFor('startPreview', (s) => s.previewId === previewId);
    await agent.runPreview(start, { stopAfter: 2 });
    await waitFor(async () => (await server.service.getPreview(cfg, previewId)).objects === 14, {
      message: 'two batches counted',
    });
    const keys = await server.redis.keys(`*preview:${previewId}*`);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const k of keys) expect(k).toContain(Keys.configTag(cfg));
    expect((await server.service.getPreview(cfg, previewId)).state).toBe('running');
    await agent.close();
    const gone = await waitFor(
      async () => {
        const p = await server.service.getPreview(cfg, previewId);
        return p.state === 'failed' ? p : undefined;
      },
      { message: 'preview failed' },
    );
    expect(gone).toMatchObject({ counts: null, wouldQuarantine: null, deletes: null, error: { code: 'AGENT_DISCONNECTED' } });

    // A read that fails at the agent: failed with its code, never counts.
    const again = await FakeAgent.connect({
      url: `${server.url.replace(/^http/, 'ws')}/agent`,
      token: agent['options'].token,
      agentId: agent['options'].agentId,
    });
    again.autoPreview = false;
    const second = await server.service.startPreview(cfg, {}, TEST_ADMIN);
    const s2 = await again.waitFor('startPreview', (s) => s.previewId === second.previewId);
    again.send({
      type: 'previewFailed',
      value: {
        configurationId: cfg,
        previewId: s2.previewId,
        code: CycleErrorCode.CYCLE_ERROR_LDAP_SIZE_LIMIT,
        message: 'size limit exceeded',
      },
    });
    const failed = await waitFor(
      async () => {
        const p = await server.service.getPreview(cfg, second.previewId);
        return p.state === 'failed' ? p : undefined;
      },
      { message: 'preview failed at the agent' },
    );
    expect(failed).toMatchObject({
      counts: null,
      error: { code: 'CYCLE_ERROR_LDAP_SIZE_LIMIT', message: 'size limit exceeded' },
    });
    // Its seen set is gone with it.
    expect(
      await server.redis.exists(`${server.options.redisKeyPrefix}:${Keys.configTag(cfg)}:preview:${second.previewId}:seen`),
    ).toBe(0);
    await again.close();
  });
});
