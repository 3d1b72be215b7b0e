/**
 * Issue 6 end to end: the accidental-delete guard with the real agent and controller
 * programs, real slapd, Redis and SMTP. Each scenario has its own OU and configuration;
 * one agent serves them all. Threshold 20 unless said otherwise.
 */
import { sleep, userDns, usersLdif, waitFor } from '@syncguard/testkit';
import { ApiError, startSystem, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';
const T = 20;

describe('accidental delete prevention', () => {
  let system: TestSystem;
  let agentId: string;

  beforeAll(async () => {
    system = await startSystem({
      persistentRedis: true,
      controllerConfig: { maxBatchChanges: 7, mailBackoffMs: 300 },
    });
    agentId = await system.addAgent('dc1');
  });
  afterAll(() => system?.dispose());

  /** Creates ou=<name> with `users` users, a configuration over it, and runs its first cycle. */
  async function scenario(name: string, users: number, options: { enabled?: boolean; filter?: string } = {}) {
    const ou = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${ou}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(ou, users, { prefix: `${name}-` }),
    );
    const email = `${name}@example.com`;
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: ou, objectTypes: ['user'], filter: options.filter ?? '' },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: options.enabled ?? true, threshold: T },
      notificationEmail: email,
    });
    const first = await system.firstCycle(id);
    expect(first.lastCycle?.counts.create).toBe(users);
    return { id, ou, email, dns: userDns(ou, users, { prefix: `${name}-` }) };
  }

  /** The quarantine emails to the address (the events of release and restart send their own, counted apart). */
  const mailsTo = (email: string) =>
    system.smtp.messages.filter((m) => m.to.includes(email) && m.subject.includes('Delete threshold exceeded'));
  const eventMailsTo = (email: string, subject: string) =>
    system.smtp.messages.filter((m) => m.to.includes(email) && m.subject.includes(subject));

  it('threshold - 1 deletes are applied and nobody is mailed; exactly threshold deletes quarantine', async () => {
    const s = await scenario('edge', 2 * T + 1);
    await system.slapd.delete(s.dns.slice(0, T - 1));
    const applied = await system.syncNow(s.id);
    expect(applied.state).toBe('healthy');
    expect(applied.lastCycle?.counts.delete).toBe(T - 1);
    expect(await system.objects(s.id)).toHaveLength(T + 2);

    await system.slapd.delete(s.dns.slice(T - 1, 2 * T - 1));
    const quarantined = await system.syncNow(s.id, 'quarantined');
    expect(quarantined.state).toBe('quarantined');
    expect(quarantined.quarantine).toMatchObject({
      reason: 'TooManyDeletes',
      deleteCount: T,
      threshold: T,
      cycleId: quarantined.lastCycle!.id,
    });
    expect(Date.parse(quarantined.quarantine!.since)).not.toBeNaN();
    // Nothing of the cycle was applied.
    expect(await system.objects(s.id)).toHaveLength(T + 2);
    const staged = await system.logs(s.id, { action: 'StagedDelete' });
    expect(staged).toHaveLength(T);
    expect(staged.every((l) => l.status === 'staged' && l.cycleId === quarantined.lastCycle!.id)).toBe(true);
    expect(new Set(staged.map((l) => l.dn))).toEqual(new Set(s.dns.slice(T - 1, 2 * T - 1)));
    expect(new Set(staged.map((l) => l.cause))).toEqual(new Set(['deleted']));

    // One email, to the configured address, naming the configuration, with the counts.
    const [mail] = await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) });
    expect(mail!.subject).toContain('edge.example.com');
    expect(mail!.subject).toContain('Delete threshold exceeded');
    expect(mail!.text).toContain(String(T));
    expect(mail!.text).toContain(`allow-deletes`);
    expect(mail!.text).toContain(s.dns[T - 1]!);

    // No further cycle starts while quarantined.
    await expect(system.api.post(`/api/v1/configurations/${s.id}/cycles`)).rejects.toMatchObject({ status: 409 });
    await sleep(500);
    expect(mailsTo(s.email)).toHaveLength(1);

    // Allow: applied once, audited, status healthy with the next cycle.
    const allowed = await system.api.post<{ state: string; cycleId: string; deleted: number }>(
      `/api/v1/configurations/${s.id}/allow-deletes`,
    );
    expect(allowed).toEqual({ state: 'applied', cycleId: quarantined.lastCycle!.id, deleted: T, kept: 0 });
    expect(await system.objects(s.id)).toHaveLength(2);
    const deletedLog = await system.logs(s.id, { action: 'Delete', cycleId: quarantined.lastCycle!.id });
    expect(deletedLog).toHaveLength(T);
    expect(new Set(deletedLog.map((l) => l.cause))).toEqual(new Set(['deleted']));
    const audit = await system.api.get<{ items: { action: string; target: { id: string }; details: Record<string, unknown> }[] }>(
      '/api/v1/audit',
    );
    expect(audit.items.find((a) => a.action === 'allow-deletes' && a.target.id === s.id)?.details).toMatchObject({
      deleteCount: T,
    });
    const next = await system.syncNow(s.id);
    expect(next.state).toBe('healthy');
    expect(next.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
  });

  it('deletes spread over many batches are counted together', async () => {
    // The controller asks for batches of at most 7 changes: 20 deletes span 3 or more batches.
    const s = await scenario('batches', 60);
    await system.slapd.delete(s.dns.slice(0, T));
    const q = await system.syncNow(s.id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(T);
    expect(await system.objects(s.id)).toHaveLength(60);
  });

  it('a filter change that drops many objects quarantines like a mass delete, and reverting it plus restart deletes nothing', async () => {
    const s = await scenario('filter', 40);
    await system.api.patch(`/api/v1/configurations/${s.id}`, { source: { filter: '(employeeNumber=1*)' } });
    const q = await system.syncNow(s.id, 'quarantined');
    // usersLdif numbers employeeNumber 0..39: only 1 and 10..19 still match, 29 objects leave the scope.
    expect(q.quarantine?.deleteCount).toBe(29);
    expect(await system.objects(s.id)).toHaveLength(40);
    // The controller knows why: the configuration's scope changed since the last commit.
    const causes = (await system.logs(s.id, { action: 'StagedDelete' })).map((l) => l.cause);
    expect(new Set(causes)).toEqual(new Set(['scopeChanged']));

    // The admin reverts the filter and restarts: the new cycle deletes nothing.
    await system.api.patch(`/api/v1/configurations/${s.id}`, { source: { filter: '' } });
    const restarted = await system.api.post<{ cycleId: string | null }>(`/api/v1/configurations/${s.id}/restart`);
    expect(restarted).toBeDefined();
    const healthy = await system.waitForCycle(s.id, 'applied', { after: q.lastCycle!.id });
    expect(healthy.state).toBe('healthy');
    expect(healthy.lastCycle?.counts.delete).toBe(0);
    expect(await system.objects(s.id)).toHaveLength(40);
    const cycles = await system.api.get<{ items: { id: string; state: string }[] }>(`/api/v1/configurations/${s.id}/cycles`);
    expect(cycles.items.find((c) => c.id === q.lastCycle!.id)?.state).toBe('discarded');
  });

  it('an OU moved out of scope quarantines; moved back and restarted, nothing is deleted', async () => {
    const base = `ou=scoped,${SUFFIX}`;
    await system.slapd.add(
      `dn: ${base}\nobjectClass: organizationalUnit\nou: scoped\n\ndn: ou=attic,${SUFFIX}\nobjectClass: organizationalUnit\nou: attic\n\n`,
    );
    await system.slapd.add(
      `dn: ou=staff,${base}\nobjectClass: organizationalUnit\nou: staff\n\n` +
        usersLdif(`ou=staff,${base}`, 25, { prefix: 'staff-' }),
    );
    const { id } = await system.createConfiguration({
      name: 'scoped.example.com',
      agentIds: [agentId],
      source: { baseDn: base, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: T },
      notificationEmail: 'scoped@example.com',
    });
    await system.firstCycle(id);
    await system.slapd.moveEntry(`ou=staff,${base}`, 'ou=staff', `ou=attic,${SUFFIX}`);
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(25);
    // The scan found each by entryUUID at its new place.
    const staged = await system.logs(id, { action: 'StagedDelete' });
    expect(staged.map((l) => [l.cause, l.newDn]).sort()).toEqual(
      staged.map((l) => ['movedOutOfScope', l.dn.replace(`ou=staff,${base}`, `ou=staff,ou=attic,${SUFFIX}`)]).sort(),
    );

    await system.slapd.moveEntry(`ou=staff,ou=attic,${SUFFIX}`, 'ou=staff', base);
    await system.api.post(`/api/v1/configurations/${id}/restart`);
    const healthy = await system.waitForCycle(id, 'applied', { after: q.lastCycle!.id });
    expect(healthy.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect(await system.objects(id)).toHaveLength(25);
    const audit = await system.api.get<{ items: { action: string; target: { id: string } }[] }>('/api/v1/audit');
    expect(audit.items.some((a) => a.action === 'restart' && a.target.id === id)).toBe(true);
  });

  it('restart without fixing the source quarantines again, with one new email', async () => {
    const s = await scenario('again', 25);
    await system.slapd.delete(s.dns.slice(0, T));
    const q1 = await system.syncNow(s.id, 'quarantined');
    await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) });
    await system.api.post(`/api/v1/configurations/${s.id}/restart`);
    const q2 = await system.waitForCycle(s.id, 'quarantined', { after: q1.lastCycle!.id });
    expect(q2.quarantine?.cycleId).not.toBe(q1.quarantine?.cycleId);
    expect(q2.quarantine?.deleteCount).toBe(T);
    await system.smtp.waitForMessages(2, {
      filter: (m) => m.to.includes(s.email) && m.subject.includes('Delete threshold exceeded'),
    });
    await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) && m.subject.includes('quarantine restarted') });
    await sleep(500);
    expect(mailsTo(s.email)).toHaveLength(2);
    expect(eventMailsTo(s.email, 'quarantine restarted')).toHaveLength(1);
    expect(await system.objects(s.id)).toHaveLength(25);
  });

  it('SMTP down: the quarantine happens at once and the email arrives late, once', async () => {
    const s = await scenario('smtpdown', 25);
    await system.smtp.stop();
    try {
      await system.slapd.delete(s.dns.slice(0, T));
      const q = await system.syncNow(s.id, 'quarantined');
      expect(q.quarantine?.deleteCount).toBe(T);
      await waitFor(async () => ((await system.status(s.id)).quarantine?.notification?.attempts ?? 0) >= 1, {
        message: 'a failed send attempt to show in the status',
      });
      expect(mailsTo(s.email)).toHaveLength(0);
    } finally {
      await system.smtp.start();
    }
    await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email), timeoutMs: 30_000 });
    await waitFor(async () => (await system.status(s.id)).quarantine?.notification?.status === 'sent', {
      message: 'notification sent',
    });
    await sleep(1000);
    expect(mailsTo(s.email)).toHaveLength(1);
  });

  it('allow-deletes twice at once: one applies, one gets 409, each object is deleted once', async () => {
    const s = await scenario('twice', 30);
    await system.slapd.delete(s.dns.slice(0, 25));
    const q = await system.syncNow(s.id, 'quarantined');
    const results = await Promise.allSettled([
      system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`),
      system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ApiError);
    expect((rejected.reason as ApiError).status).toBe(409);
    expect(await system.objects(s.id)).toHaveLength(5);
    const deletes = (await system.logs(s.id, { cycleId: q.lastCycle!.id })).filter((l) => l.action === 'Delete');
    expect(deletes).toHaveLength(25);
    expect(new Set(deletes.map((l) => l.objectId)).size).toBe(25);
    expect(deletes.every((l) => l.status === 'success')).toBe(true);
  });

  it('changes made at the source while quarantined appear in the cycle after the release', async () => {
    const s = await scenario('during', 30);
    await system.slapd.delete(s.dns.slice(0, T));
    await system.syncNow(s.id, 'quarantined');
    await system.slapd.add(usersLdif(s.ou, 3, { prefix: 'late-' }));
    await system.slapd.modify(`dn: ${s.dns[25]}\nchangetype: modify\nreplace: mail\nmail: moved@example.com\n`);
    // The agent reconnecting while quarantined neither clears nor duplicates the quarantine.
    await system.stopAgent(agentId);
    await system.startAgent(agentId);
    const still = await system.status(s.id);
    expect(still.state).toBe('quarantined');
    await system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`);
    // The schedule resumes; after the next cycle the late changes are in the cloud directory.
    const next = await system.syncNow(s.id);
    expect(next.state).toBe('healthy');
    const objects = await system.objects(s.id);
    expect(objects).toHaveLength(13);
    expect(objects.filter((o) => o.dn.startsWith('uid=late-'))).toHaveLength(3);
    expect(objects.find((o) => o.dn === s.dns[25])?.attributes['mail']).toEqual(['moved@example.com']);
    expect(mailsTo(s.email)).toHaveLength(1);
    // One more email: the quarantine.released event.
    await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes(s.email) && m.subject.includes('deletes released') });
  });

  it('the controller restarted while quarantined is still quarantined, and allow-deletes then works', async () => {
    const s = await scenario('crash', 25);
    await system.slapd.delete(s.dns.slice(0, T));
    const q = await system.syncNow(s.id, 'quarantined');
    await system.killController();
    await system.startController();
    await waitFor(async () => (await system.api.get<{ status: string }>(`/api/v1/agents/${agentId}`)).status === 'connected', {
      message: 'the agent to reconnect',
    });
    const after = await system.status(s.id);
    expect(after.state).toBe('quarantined');
    expect(after.quarantine?.cycleId).toBe(q.quarantine?.cycleId);
    const allowed = await system.api.post<{ deleted: number }>(`/api/v1/configurations/${s.id}/allow-deletes`);
    expect(allowed.deleted).toBe(T);
    expect(await system.objects(s.id)).toHaveLength(5);
    const next = await system.syncNow(s.id);
    expect(next.state).toBe('healthy');
  });

  it('with prevention disabled the same mass delete is applied', async () => {
    const s = await scenario('disabled', 30, { enabled: false });
    await system.slapd.delete(s.dns.slice(0, 25));
    const applied = await system.syncNow(s.id);
    expect(applied.state).toBe('healthy');
    expect(applied.lastCycle?.counts.delete).toBe(25);
    expect(await system.objects(s.id)).toHaveLength(5);
    expect(mailsTo(s.email)).toHaveLength(0);
  });
});
