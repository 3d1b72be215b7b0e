import { AbortReason } from '@syncguard/protocol';
import { startRedis, startSmtp, waitFor, type RedisServer, type SmtpSink } from '@syncguard/testkit';
import type { ConfigurationInput } from '../model';
import type { ControllerServer } from '../server';
import { FakeAgent, fakeUsers } from '../testing/fake-agent';
import { agentUrl, setupConfiguration, startTestController, TEST_ADMIN, TEST_ADMIN_TOKEN } from '../testing/harness';
import { Keys } from '../store/keys';

jest.setTimeout(90_000);

const PEOPLE = 'ou=people,dc=example,dc=com';
const THRESHOLD = 10;
let redis: RedisServer;
let smtp: SmtpSink;
let server: ControllerServer;

beforeAll(async () => {
  redis = await startRedis();
  smtp = await startSmtp();
  server = await startTestController(redis.url, {
    smtpUrl: smtp.url,
    mailBackoffMs: 200,
    mailAttempts: 20,
    publicUrl: 'https://sync.example.com',
  });
});

afterAll(async () => {
  await server?.close();
  await smtp?.dispose();
  await redis?.dispose();
});

interface Synced {
  agent: FakeAgent;
  agentId: string;
  token: string;
  cfg: string;
  email: string;
}

let counter = 0;

/** A configuration with `users` users synced once (the first cycle applied and committed). */
async function synced(users: number, input: Partial<ConfigurationInput> = {}, batchSize = 100): Promise<Synced> {
  counter += 1;
  const email = `ops${counter}@example.com`;
  const { agent, agentId, token, configurationId } = await setupConfiguration(
    server,
    { name: `corp${counter}`, notificationEmail: email, accidentalDeletes: { enabled: true, threshold: THRESHOLD }, ...input },
    { batchSize },
  );
  for (const u of fakeUsers(PEOPLE, users, `u${counter}x`)) agent.directory.set(u.id, u);
  await agent.hello();
  const first = await agent.waitFor('startCycle');
  await waitFor(async () => (await server.service.getStatus(configurationId)).lastCycle?.state === 'applied', {
    message: 'initial sync',
  });
  await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
  return { agent, agentId, token, cfg: configurationId, email };
}

function removeUsers(s: Synced, count: number): void {
  const ids = [...s.agent.directory.keys()].filter((id) => s.agent.directory.get(id)!.type === 'user').slice(0, count);
  for (const id of ids) s.agent.directory.delete(id);
}

async function runCycle(s: Synced): Promise<string> {
  const { cycleId } = await server.service.startCycle(s.cfg, TEST_ADMIN);
  await waitFor(
    async () => {
      const c = (await server.service.getStatus(s.cfg)).lastCycle;
      return c?.id === cycleId && c.state !== 'running';
    },
    { message: `cycle ${cycleId} evaluated` },
  );
  return cycleId;
}

async function total(cfg: string): Promise<number> {
  return (await server.service.listObjects(cfg, { limit: 1 })).total;
}

const mailsTo = (to: string) => smtp.messages.filter((m) => m.to.includes(to));

describe('accidental delete prevention', () => {
  it('applies threshold - 1 deletes and mails nobody', async () => {
    const s = await synced(20);
    removeUsers(s, THRESHOLD - 1);
    await runCycle(s);
    const status = await server.service.getStatus(s.cfg);
    expect(status.state).toBe('healthy');
    expect(status.quarantine).toBeNull();
    expect(status.lastCycle).toMatchObject({ state: 'applied', counts: { delete: THRESHOLD - 1 } });
    expect(await total(s.cfg)).toBe(20 - (THRESHOLD - 1));
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo(s.email)).toHaveLength(0);
    await s.agent.close();
  });

  it('quarantines exactly threshold deletes: nothing applied, StagedDelete entries, 409 on new cycles, one email', async () => {
    const s = await synced(20);
    removeUsers(s, THRESHOLD);
    s.agent.directory.set('added', { ...fakeUsers(PEOPLE, 1, 'added')[0]!, id: 'added' });
    const cycleId = await runCycle(s);
    const status = await server.service.getStatus(s.cfg);
    expect(status.state).toBe('quarantined');
    expect(status.quarantine).toMatchObject({ reason: 'TooManyDeletes', deleteCount: THRESHOLD, threshold: THRESHOLD, cycleId });
    expect(status.quarantine!.trippedBy).toEqual([{ rule: 'count', value: THRESHOLD, limit: THRESHOLD }]);
    expect(Date.parse(status.quarantine!.since)).not.toBeNaN();
    expect(status.lastCycle).toMatchObject({ id: cycleId, state: 'quarantined', counts: { create: 1, delete: THRESHOLD } });
    expect(status.lastCycle!.completedAt).not.toBeNull();
    // Nothing applied: neither the deletes nor the create that came with them.
    expect(await total(s.cfg)).toBe(20);
    const staged = await server.service.listProvisioningLogs(s.cfg, { action: 'StagedDelete', limit: 100 });
    expect(staged.items).toHaveLength(THRESHOLD);
    expect(staged.items.every((e) => e.status === 'staged' && e.cycleId === cycleId && e.dn.endsWith(PEOPLE))).toBe(true);
    await expect(server.service.startCycle(s.cfg, TEST_ADMIN)).rejects.toMatchObject({ status: 409, code: 'SG_ERR_QUARANTINED' });
    await server.services.cycles.tick(s.cfg); // a scheduler tick starts nothing either
    expect((await server.service.getStatus(s.cfg)).lastCycle?.id).toBe(cycleId);

    const [mail] = await smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) });
    expect(mail!.to).toEqual([s.email]);
    expect(mail!.subject).toContain('Delete threshold exceeded');
    expect(mail!.subject).toContain(`corp${counter}`);
    expect(mail!.text).toContain(`Delete count: ${THRESHOLD}`);
    expect(mail!.text).toContain(`Threshold: ${THRESHOLD}`);
    expect(mail!.text).toContain(`syncguardctl allow-deletes ${s.cfg}`);
    expect(mail!.text).toContain(`syncguardctl restart ${s.cfg}`);
    expect(mail!.text).toContain(`POST https://sync.example.com/api/v1/configurations/${s.cfg}/allow-deletes`);
    expect(mail!.text).toContain(`POST https://sync.example.com/api/v1/configurations/${s.cfg}/restart`);
    for (const e of staged.items) expect(mail!.text).toContain(`${e.dn}  (user)`);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).quarantine?.notification.status === 'sent', {
      message: 'notification sent',
    });

    // The agent reconnects while quarantined: still one quarantine, no second email, no verdict.
    await s.agent.reconnect([{ configurationId: s.cfg, pendingCycleId: cycleId }]);
    await new Promise((r) => setTimeout(r, 500));
    const again = await server.service.getStatus(s.cfg);
    expect(again.quarantine).toMatchObject({ cycleId, deleteCount: THRESHOLD });
    expect(mailsTo(s.email)).toHaveLength(1);
    expect(s.agent.received.filter((b) => b.type === 'cycleCommitted' && b.value.cycleId === cycleId)).toHaveLength(0);

    // Allow the deletes: applied once, audit, CycleCommitted, schedule resumes.
    s.agent.directory.set('while-quarantined', { ...fakeUsers(PEOPLE, 1, 'wq')[0]!, id: 'while-quarantined' });
    const result = await server.service.allowDeletes(s.cfg, TEST_ADMIN);
    expect(result).toEqual({ state: 'applied', cycleId, deleted: THRESHOLD, kept: 0 });
    await s.agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
    const audit = await server.service.listAudit({ limit: 50 });
    expect(audit.items.find((e) => e.action === 'allow-deletes' && e.target.id === s.cfg)).toMatchObject({
      actor: { name: 'test-admin' },
      details: { cycleId, deleteCount: THRESHOLD },
    });
    // The next cycle starts by itself and brings in what changed while quarantined.
    await waitFor(
      async () => {
        const st = await server.service.getStatus(s.cfg);
        return st.state === 'healthy' && st.lastCycle?.id !== cycleId && st.lastCycle?.state === 'applied';
      },
      { message: 'healthy after the next cycle' },
    );
    const ids = (await server.service.listObjects(s.cfg, { limit: 1000 })).items.map((o) => o.id);
    expect(ids).toContain('while-quarantined');
    expect(ids).toContain('added');
    expect(ids).toHaveLength(20 - THRESHOLD + 2);
    await s.agent.close();
  });

  it('counts deletes spread over many batches together', async () => {
    const s = await synced(30, {}, 2);
    removeUsers(s, 12);
    await runCycle(s);
    const status = await server.service.getStatus(s.cfg);
    expect(status.quarantine?.deleteCount).toBe(12);
    const cycle = await server.redis.hget(
      `${new Keys(server.options.redisKeyPrefix).cycle(status.quarantine!.cycleId)}`,
      'acked',
    );
    expect(Number(cycle)).toBeGreaterThanOrEqual(6);
    expect(await total(s.cfg)).toBe(30);
    await s.agent.close();
  });

  it('a filter change that drops many objects quarantines like a mass delete', async () => {
    const s = await synced(0, { source: { baseDn: PEOPLE, filter: '(objectClass=inetOrgPerson)', objectTypes: ['user'] } });
    for (let i = 0; i < 15; i++) {
      const [u] = fakeUsers(PEOPLE, 1, `f${i}`);
      s.agent.directory.set(`f-${i}`, {
        ...u!,
        id: `f-${i}`,
        attributes: { ...u!.attributes, departmentNumber: [i < 12 ? 'sales' : 'it'] },
      });
    }
    await runCycle(s);
    expect(await total(s.cfg)).toBe(15);
    await server.service.updateConfiguration(s.cfg, { source: { filter: '(departmentNumber=it)' } }, TEST_ADMIN);
    const cycleId = await runCycle(s);
    const status = await server.service.getStatus(s.cfg);
    expect(status.state).toBe('quarantined');
    expect(status.quarantine).toMatchObject({ deleteCount: 12, cycleId });
    expect(status.lastCycle?.mode).toBe('full');
    expect(await total(s.cfg)).toBe(15);
    // Reverting the filter and restarting: nothing deleted.
    await server.service.updateConfiguration(s.cfg, { source: { filter: '(objectClass=inetOrgPerson)' } }, TEST_ADMIN);
    const restarted = await server.service.restart(s.cfg, TEST_ADMIN);
    expect(restarted.discardedCycleId).toBe(cycleId);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).lastCycle?.state === 'applied', {
      message: 'cycle after restart',
    });
    expect(await total(s.cfg)).toBe(15);
    await s.agent.close();
  });

  it('with countDisables, disabled accounts count as deletes', async () => {
    const s = await synced(12, { accidentalDeletes: { enabled: true, threshold: THRESHOLD, countDisables: true } });
    for (const o of [...s.agent.directory.values()].slice(0, THRESHOLD)) o.disabled = true;
    await runCycle(s);
    expect((await server.service.getStatus(s.cfg)).quarantine?.deleteCount).toBe(THRESHOLD);
    await s.agent.close();
  });

  it('restart after the source was restored: CycleAborted, nothing deleted, healthy', async () => {
    const s = await synced(15);
    const removed = [...s.agent.directory.values()].slice(0, 11);
    for (const o of removed) s.agent.directory.delete(o.id);
    const cycleId = await runCycle(s);
    expect((await server.service.getStatus(s.cfg)).state).toBe('quarantined');
    for (const o of removed) s.agent.directory.set(o.id, o); // the admin restores the OU
    const result = await server.service.restart(s.cfg, TEST_ADMIN);
    expect(result.discardedCycleId).toBe(cycleId);
    expect(result.cycleId).not.toBeNull();
    const aborted = await s.agent.waitFor('cycleAborted', (a) => a.cycleId === cycleId);
    expect(aborted.reason).toBe(AbortReason.ABORT_REASON_DISCARDED);
    await waitFor(
      async () =>
        (await server.service.getStatus(s.cfg)).lastCycle?.id === result.cycleId &&
        (await server.service.getStatus(s.cfg)).lastCycle?.state === 'applied',
      {
        message: 'new cycle applied',
      },
    );
    const status = await server.service.getStatus(s.cfg);
    expect(status.state).toBe('healthy');
    expect(status.lastCycle?.counts.delete).toBe(0);
    expect(await total(s.cfg)).toBe(15);
    const history = await server.service.listCycles(s.cfg, {});
    expect(history.items.find((c) => c.id === cycleId)?.state).toBe('discarded');
    expect((await server.service.listProvisioningLogs(s.cfg, { action: 'Delete' })).items).toHaveLength(0);
    expect(
      (await server.service.listAudit({ limit: 100 })).items.some((e) => e.action === 'restart' && e.target.id === s.cfg),
    ).toBe(true);
    await expect(server.service.restart(s.cfg, TEST_ADMIN)).rejects.toMatchObject({ status: 409 });
    await s.agent.close();
  });

  it('restart without fixing the source quarantines again, with one new quarantine email (and one saying it was restarted)', async () => {
    const s = await synced(12);
    removeUsers(s, THRESHOLD);
    const first = await runCycle(s);
    const quarantineMail = (m: { to: string[]; subject: string }) =>
      m.to.includes(s.email) && m.subject.includes('Delete threshold exceeded');
    await smtp.waitForMessages(1, { filter: quarantineMail });
    const { cycleId: second } = await server.service.restart(s.cfg, TEST_ADMIN);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).quarantine?.cycleId === second, {
      message: 'quarantined again',
    });
    expect(second).not.toBe(first);
    await smtp.waitForMessages(2, { filter: quarantineMail });
    await smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) && m.subject.includes('quarantine restarted') });
    await new Promise((r) => setTimeout(r, 300));
    expect(mailsTo(s.email)).toHaveLength(3);
    expect(mailsTo(s.email).filter(quarantineMail)).toHaveLength(2);
    expect(await total(s.cfg)).toBe(12);
    await s.agent.close();
  });

  it('allow-deletes twice at once: one applies, the other gets 409, each object deleted once', async () => {
    const s = await synced(14);
    removeUsers(s, 12);
    await runCycle(s);
    const results = await Promise.allSettled([
      server.service.allowDeletes(s.cfg, TEST_ADMIN),
      server.service.allowDeletes(s.cfg, TEST_ADMIN),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toMatchObject({ status: 409 });
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'healthy' });
    expect(await total(s.cfg)).toBe(2);
    const deletes = await server.service.listProvisioningLogs(s.cfg, { action: 'Delete', limit: 100 });
    expect(deletes.items).toHaveLength(12);
    expect(new Set(deletes.items.map((e) => e.objectId)).size).toBe(12);
    await expect(server.service.allowDeletes(s.cfg, TEST_ADMIN)).rejects.toMatchObject({
      status: 409,
      code: 'SG_ERR_NOT_QUARANTINED',
    });
    await s.agent.close();
  });

  it('with prevention disabled, the same mass delete is applied', async () => {
    const s = await synced(14, { accidentalDeletes: { enabled: false, threshold: THRESHOLD } });
    removeUsers(s, 12);
    await runCycle(s);
    expect((await server.service.getStatus(s.cfg)).state).toBe('healthy');
    expect(await total(s.cfg)).toBe(2);
    expect(mailsTo(s.email)).toHaveLength(0);
    await s.agent.close();
  });

  it('SMTP down: the quarantine happens at once, the email arrives late and once', async () => {
    const s = await synced(12);
    await smtp.stop();
    try {
      removeUsers(s, THRESHOLD);
      await runCycle(s);
      expect((await server.service.getStatus(s.cfg)).state).toBe('quarantined');
      await waitFor(async () => ((await server.service.getStatus(s.cfg)).quarantine?.notification.attempts ?? 0) >= 2, {
        message: 'failed send attempts',
      });
      const n = (await server.service.getStatus(s.cfg)).quarantine!.notification;
      expect(n.status).toBe('pending');
      expect(n.lastError).toMatch(/sending email failed/);
      expect(mailsTo(s.email)).toHaveLength(0);
    } finally {
      await smtp.start();
    }
    await smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email), timeoutMs: 30_000 });
    await waitFor(async () => (await server.service.getStatus(s.cfg)).quarantine?.notification.status === 'sent', {
      message: 'sent',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo(s.email)).toHaveLength(1);
    await s.agent.close();
  });

  it('survives a controller restart: still quarantined, allow-deletes then works', async () => {
    const s = await synced(12);
    removeUsers(s, THRESHOLD);
    const cycleId = await runCycle(s);
    await smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) });
    const prefix = server.options.redisKeyPrefix;
    await server.close();
    server = await startTestController(redis.url, {
      redisKeyPrefix: prefix,
      smtpUrl: smtp.url,
      mailBackoffMs: 200,
      mailAttempts: 20,
    });
    const status = await server.service.getStatus(s.cfg);
    expect(status.state).toBe('quarantined');
    expect(status.quarantine?.cycleId).toBe(cycleId);
    const agent = await FakeAgent.open({ url: agentUrl(server), agentId: s.agentId, token: s.token });
    for (const [id, o] of s.agent.directory) agent.directory.set(id, o);
    for (const [c, v] of s.agent.cache) agent.cache.set(c, v);
    for (const [c, v] of s.agent.committed) agent.committed.set(c, v);
    await agent.hello([
      { configurationId: s.cfg, committedCycleId: s.agent.committed.get(s.cfg)!, pendingCycleId: cycleId, runningCycleId: '' },
    ]);
    (agent as unknown as { views: Map<string, unknown> }).views.set(
      cycleId,
      (s.agent as unknown as { views: Map<string, unknown> }).views.get(cycleId),
    );
    const result = await server.service.allowDeletes(s.cfg, TEST_ADMIN);
    expect(result).toEqual({ state: 'applied', cycleId, deleted: THRESHOLD, kept: 0 });
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'healthy' });
    expect(await total(s.cfg)).toBe(2);
    expect(mailsTo(s.email)).toHaveLength(1);
    await agent.close();
  });

  it('a release whose job was lost (crash right after the atomic transition) is finished by the next controller', async () => {
    const s = await synced(12);
    removeUsers(s, THRESHOLD);
    const cycleId = await runCycle(s);
    await smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) });
    const prefix = server.options.redisKeyPrefix;
    // What allowDeletes' first step writes, without the job that would follow it.
    await server.redis.hset(`${new Keys(prefix).cycle(cycleId)}`, 'phase', 'applying', 'released', '1');
    await server.close();
    server = await startTestController(redis.url, {
      redisKeyPrefix: prefix,
      smtpUrl: smtp.url,
      mailBackoffMs: 200,
      mailAttempts: 20,
    });
    await waitFor(async () => (await server.service.getStatus(s.cfg)).state === 'healthy', { message: 'released cycle applied' });
    expect(await total(s.cfg)).toBe(2);
    const deletes = await server.service.listProvisioningLogs(s.cfg, { action: 'Delete', limit: 100 });
    expect(deletes.items).toHaveLength(THRESHOLD);
    await s.agent.close().catch(() => undefined);
  });

  it('allow-deletes answers a failed apply as a failure, not as deletes done', async () => {
    const s = await synced(12);
    removeUsers(s, THRESHOLD);
    const cycleId = await runCycle(s);
    // The plan is lost: every apply attempt fails, and the cycle fails for good.
    await server.redis.del(`${new Keys(server.options.redisKeyPrefix).cycle(cycleId)}:plan`);
    await expect(server.service.allowDeletes(s.cfg, TEST_ADMIN)).rejects.toMatchObject({
      status: 500,
      code: 'SG_ERR_APPLY_FAILED',
      message: expect.stringContaining(`the deletes of cycle ${cycleId} were released, but applying the cycle failed`),
    });
    const status = await server.service.getStatus(s.cfg);
    expect(status.state).toBe('error');
    expect(status.lastCycle).toMatchObject({ id: cycleId, state: 'failed' });
    expect(await total(s.cfg)).toBe(12);
    await s.agent.close();
  });
});

describe('allow-deletes that outlasts releaseWaitMs', () => {
  let quick: ControllerServer;
  beforeAll(async () => {
    quick = await startTestController(redis.url, { releaseWaitMs: 0 });
  });
  afterAll(async () => {
    await quick?.close();
  });

  it('answers 202 applying with the cycle to watch, and the cycle is applied after', async () => {
    const { agent, configurationId } = await setupConfiguration(quick, {
      name: 'slow-release',
      accidentalDeletes: { enabled: true, threshold: THRESHOLD },
    });
    for (const u of fakeUsers(PEOPLE, 12, 'slow')) agent.directory.set(u.id, u);
    await agent.hello();
    const first = await agent.waitFor('startCycle');
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === first.cycleId);
    for (const id of [...agent.directory.keys()].slice(0, THRESHOLD)) agent.directory.delete(id);
    const { cycleId } = await quick.service.startCycle(configurationId, TEST_ADMIN);
    await waitFor(async () => (await quick.service.getStatus(configurationId)).state === 'quarantined', {
      message: 'quarantined',
    });
    const res = await fetch(`${quick.url}/api/v1/configurations/${configurationId}/allow-deletes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ state: 'applying', cycleId, deleteCount: THRESHOLD, kept: 0 });
    await agent.waitFor('cycleCommitted', (c) => c.cycleId === cycleId);
    const cycles = await quick.service.listCycles(configurationId, {});
    expect(cycles.items.find((c) => c.id === cycleId)).toMatchObject({ state: 'applied', counts: { delete: THRESHOLD } });
    await agent.close();
  });
});
