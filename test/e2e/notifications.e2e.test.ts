/**
 * Issue 18, notifications, end to end with the real agent and controller programs, slapd,
 * Redis, the testkit's SMTP server and a local webhook receiver: every event of a
 * configuration goes once to each of its email recipients and webhooks, signed, retried
 * with backoff, its delivery state in the status.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ManagedProcess, startWebhookReceiver, userDns, usersLdif, waitFor, type WebhookReceiver } from '@syncguard/testkit';
import { ApiError, CTL_MAIN, startSystem, type NotificationEventView, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';
const T = 10;
const SECRET = 'webhook-secret-of-the-e2e-test';

interface WebhookBodyView {
  id: string;
  event: string;
  at: string;
  configuration: { id: string; name: string };
  quarantine: { cycleId: string; deleteCount: number } | null;
  cycle: { id: string; state: string; error: { code: string } | null } | null;
  actor: string | null;
}

describe('notifications', () => {
  let system: TestSystem;
  let hooks: WebhookReceiver;
  let agentId: string;

  beforeAll(async () => {
    [system, hooks] = await Promise.all([
      startSystem({
        controllerConfig: { mailBackoffMs: 200, webhookAttempts: 3, webhookBackoffMs: 300, webhookTimeoutMs: 2000 },
      }),
      startWebhookReceiver(),
    ]);
    agentId = await system.addAgent('dc1');
  });
  afterAll(async () => {
    await hooks?.stop();
    await system?.dispose();
  });

  async function scenario(name: string, users: number, notifications: object, notificationEmail: string | null = null) {
    const ou = `ou=${name},${SUFFIX}`;
    await system.slapd.add(
      `dn: ${ou}\nobjectClass: organizationalUnit\nou: ${name}\n\n` + usersLdif(ou, users, { prefix: `${name}-` }),
    );
    const { id } = await system.createConfiguration({
      name: `${name}.example.com`,
      agentIds: [agentId],
      source: { baseDn: ou, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { threshold: T },
      notificationEmail,
      notifications,
    });
    await system.firstCycle(id);
    return { id, ou, dns: userDns(ou, users, { prefix: `${name}-` }) };
  }

  const bodyOf = (r: { body: string }) => JSON.parse(r.body) as WebhookBodyView;
  const hooksFor = (cfgId: string, event?: string) => (r: { body: string }) => {
    const b = bodyOf(r);
    return b.configuration.id === cfgId && (event === undefined || b.event === event);
  };
  const event = async (cfgId: string, name: string): Promise<NotificationEventView> =>
    waitFor(
      async () => {
        const { items } = await system.api.get<{ items: NotificationEventView[] }>(
          `/api/v1/configurations/${cfgId}/notifications`,
        );
        return items.find((e) => e.event === name);
      },
      { message: `event ${name}` },
    );

  it('a quarantine goes to two recipients and a webhook that fails once then succeeds: one delivery id, signed, state in the status', async () => {
    const url = hooks.url('/mixed');
    const s = await scenario(
      'mixed',
      3 * T,
      { emails: ['ops@example.com', 'oncall@example.com'], webhooks: [{ url, secret: SECRET }] },
      'ops@example.com',
    );
    // The secret is write-only.
    const read = await system.api.get<{ notifications: { emails: string[]; webhooks: unknown[] } }>(
      `/api/v1/configurations/${s.id}`,
    );
    expect(read.notifications).toEqual({
      emails: ['ops@example.com', 'oncall@example.com'],
      webhooks: [{ url, secret: null, secretSet: true }],
    });
    expect(JSON.stringify(await system.api.get('/api/v1/configurations'))).not.toContain(SECRET);

    hooks.failNext(500);
    await system.slapd.delete(s.dns.slice(0, T));
    const q = await system.syncNow(s.id, 'quarantined');

    // Two attempts at the webhook, the same delivery id and body, the second answered 204.
    const got = await hooks.waitForRequests(2, { filter: hooksFor(s.id) });
    expect(got.map((r) => r.answered)).toEqual([500, 204]);
    expect(new Set(got.map((r) => r.headers['x-syncguard-delivery'])).size).toBe(1);
    expect(got[1]!.body).toBe(got[0]!.body);
    for (const r of got) {
      expect(r.method).toBe('POST');
      expect(r.headers['x-syncguard-event']).toBe('quarantine.started');
      expect(r.headers['x-syncguard-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
    }
    const body = bodyOf(got[0]!);
    expect(body).toMatchObject({
      id: got[0]!.headers['x-syncguard-delivery'],
      event: 'quarantine.started',
      configuration: { id: s.id, name: 'mixed.example.com' },
      quarantine: { cycleId: q.lastCycle!.id, deleteCount: T },
      cycle: { id: q.lastCycle!.id, state: 'quarantined' },
    });
    expect(Date.parse(body.at)).not.toBeNaN();

    // One email to each recipient (notificationEmail and the same address in the list count once).
    const mails = await system.smtp.waitForMessages(2, { filter: (m) => m.subject.includes('mixed.example.com') });
    expect(
      mails
        .map((m) => m.to)
        .flat()
        .sort(),
    ).toEqual(['oncall@example.com', 'ops@example.com']);
    expect(mails[0]!.subject).toContain('Delete threshold exceeded');

    // Delivery state in the status.
    const status = await waitFor(async () => {
      const st = await system.status(s.id);
      const e = st.notifications?.find((n) => n.event === 'quarantine.started');
      return e && e.deliveries.every((d) => d.status === 'delivered') ? { st, e } : null;
    });
    expect(status.e.id).toBe(body.id);
    expect(status.e.deliveries.map((d) => [d.channel, d.to, d.attempts])).toEqual([
      ['email', 'oncall@example.com', 1],
      ['email', 'ops@example.com', 1],
      ['webhook', url, 2],
    ]);
    expect(status.e.deliveries.find((d) => d.channel === 'webhook')).toMatchObject({ responseStatus: 204, lastError: null });
    expect(status.st.quarantine?.notification).toMatchObject({ status: 'sent' });

    // Released: one more event, to the same endpoints, naming who released it.
    await system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`);
    const [released] = await hooks.waitForRequests(1, { filter: hooksFor(s.id, 'quarantine.released') });
    expect(bodyOf(released!)).toMatchObject({
      event: 'quarantine.released',
      actor: 'bootstrap-admin',
      quarantine: { deleteCount: T },
    });
    expect(bodyOf(released!).id).not.toBe(body.id);
    await system.smtp.waitForMessages(4, { filter: (m) => m.subject.includes('mixed.example.com') });
    await system.syncNow(s.id);
    // Nothing was sent twice.
    expect(hooks.requests.filter(hooksFor(s.id))).toHaveLength(3);
  });

  it('restart and a failed cycle are events too; a webhook that keeps failing ends failed, with its last status', async () => {
    const good = hooks.url('/good');
    const bad = hooks.url('/bad');
    hooks.alwaysAnswer('/bad', 503);
    const s = await scenario('restart', 3 * T, {
      webhooks: [
        { url: good, secret: SECRET },
        { url: bad, secret: SECRET },
      ],
    });
    const on = (path: string, name: string) => (r: { path: string; body: string }) => r.path === path && hooksFor(s.id, name)(r);
    await system.slapd.delete(s.dns.slice(0, T));
    const first = await system.syncNow(s.id, 'quarantined');
    await hooks.waitForRequests(1, { filter: on('/good', 'quarantine.started') });

    const restart = await system.api.post<{ discardedCycleId: string; cycleId: string }>(
      `/api/v1/configurations/${s.id}/restart`,
    );
    const [restarted] = await hooks.waitForRequests(1, { filter: on('/good', 'quarantine.restarted') });
    expect(bodyOf(restarted!)).toMatchObject({
      actor: 'bootstrap-admin',
      quarantine: { cycleId: first.lastCycle!.id, deleteCount: T },
      cycle: { id: first.lastCycle!.id, state: 'discarded' },
    });
    // The source was not fixed: the new cycle is quarantined again, a new event.
    await system.waitForCycleId(s.id, restart.cycleId, 'quarantined');
    await hooks.waitForRequests(2, { filter: on('/good', 'quarantine.started') });
    await system.api.post(`/api/v1/configurations/${s.id}/allow-deletes`);
    await hooks.waitForRequests(1, { filter: on('/good', 'quarantine.released') });

    // A cycle that fails: the base DN is gone.
    await system.api.patch(`/api/v1/configurations/${s.id}`, { source: { baseDn: `ou=gone,${SUFFIX}` } });
    const failed = await system.syncNow(s.id, 'failed');
    const [f] = await hooks.waitForRequests(1, { filter: on('/good', 'cycle.failed') });
    expect(bodyOf(f!)).toMatchObject({
      event: 'cycle.failed',
      quarantine: null,
      cycle: { id: failed.lastCycle!.id, state: 'failed' },
    });
    expect(bodyOf(f!).cycle?.error?.code).toBeTruthy();

    // The endpoint that answers 503 has its deliveries end failed after every attempt (3 here).
    const ev = await waitFor(
      async () => {
        const e = await event(s.id, 'quarantine.started');
        return e.deliveries.find((d) => d.to === bad)?.status === 'failed' ? e : null;
      },
      { timeoutMs: 30_000, message: 'the bad webhook to fail for good' },
    );
    expect(ev.deliveries.find((d) => d.to === bad)).toMatchObject({ attempts: 3, responseStatus: 503, deliveredAt: null });
    expect(ev.deliveries.find((d) => d.to === bad)?.lastError).toContain('503');
    expect(ev.deliveries.find((d) => d.to === good)?.status).toBe('delivered');
    expect(hooks.requests.filter((r) => r.path === '/bad' && r.headers['x-syncguard-delivery'] === ev.id)).toHaveLength(3);
  });

  it('the test call reaches every endpoint once; a configuration without any answers 409; bad settings are 400 naming the field', async () => {
    const url = hooks.url('/test');
    const s = await scenario('testcall', 2, { emails: ['a@example.com', 'b@example.com'], webhooks: [{ url, secret: SECRET }] });
    const sent = await system.api.post<{ eventId: string; deliveries: number }>(
      `/api/v1/configurations/${s.id}/notifications/test`,
    );
    expect(sent.deliveries).toBe(3);
    const [r] = await hooks.waitForRequests(1, { filter: hooksFor(s.id, 'notification.test') });
    expect(r!.headers['x-syncguard-delivery']).toBe(sent.eventId);
    await system.smtp.waitForMessages(2, {
      filter: (m) => m.subject.includes('test notification') && m.subject.includes('testcall'),
    });
    const audit = await system.api.get<{ items: { action: string; target: { id: string } }[] }>('/api/v1/audit');
    expect(audit.items.some((a) => a.action === 'notifications.test' && a.target.id === s.id)).toBe(true);

    // A PATCH that sends back what it read keeps the secret: the next delivery is still signed with it.
    const read = await system.api.get<{ notifications: { emails: string[]; webhooks: object[] } }>(
      `/api/v1/configurations/${s.id}`,
    );
    await system.api.patch(`/api/v1/configurations/${s.id}`, { notifications: { webhooks: read.notifications.webhooks } });
    const again = await system.api.post<{ eventId: string }>(`/api/v1/configurations/${s.id}/notifications/test`);
    const [r2] = await hooks.waitForRequests(1, { filter: (x) => x.headers['x-syncguard-delivery'] === again.eventId });
    expect(r2!.headers['x-syncguard-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(r2!.body).digest('hex')}`);

    await system.api.patch(`/api/v1/configurations/${s.id}`, { notifications: { emails: [], webhooks: [] } });
    await expect(system.api.post(`/api/v1/configurations/${s.id}/notifications/test`)).rejects.toMatchObject({
      status: 409,
      code: 'SG_ERR_NO_NOTIFICATIONS',
    });
    const bad = await system.api
      .patch(`/api/v1/configurations/${s.id}`, { notifications: { webhooks: [{ url: 'https://new.example/h' }] } })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).status).toBe(400);
    expect((bad as ApiError).message).toContain('notifications.webhooks.0.secret');
  });

  it('syncguardctl sets recipients and webhooks (the secret from a file, never printed), tests them and lists the deliveries', async () => {
    const ctl = async (...args: string[]) => {
      const run = new ManagedProcess(process.execPath, [CTL_MAIN, ...args], {
        env: { ...process.env, SYNCGUARD_URL: system.url, SYNCGUARD_TOKEN: system.adminToken },
      });
      const code = await run.wait();
      return { code, log: run.log };
    };
    const s = await scenario('cli', 2, {});
    const secretFile = path.join(system.dir, 'webhook-secret');
    await fs.writeFile(secretFile, `${SECRET}\n`);
    const url = hooks.url('/cli');
    let r = await ctl(
      'configs',
      'update',
      'cli.example.com',
      '--notify-email',
      'c1@example.com',
      'c2@example.com',
      '--webhook',
      url,
      '--webhook-secret-file',
      secretFile,
    );
    expect(r.code).toBe(0);
    expect(r.log).toContain(`${url} (signed)`);
    expect(r.log).toContain('c2@example.com');
    expect(r.log).not.toContain(SECRET);
    r = await ctl('--json', 'notifications', 'test', 'cli.example.com');
    expect(r.code).toBe(0);
    const { eventId } = JSON.parse(r.log) as { eventId: string };
    const [got] = await hooks.waitForRequests(1, { filter: (x) => x.headers['x-syncguard-delivery'] === eventId });
    expect(got!.headers['x-syncguard-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(got!.body).digest('hex')}`);
    await waitFor(async () => (await event(s.id, 'notification.test')).deliveries.every((d) => d.status === 'delivered'));
    r = await ctl('notifications', 'list', 'cli.example.com');
    expect(r.code).toBe(0);
    expect(r.log).toMatch(/notification\.test\s+\S+\s+webhook\s+http:\/\/127\.0\.0\.1:\d+\/cli\s+delivered\s+1/);
    expect(r.log).toMatch(/email\s+c1@example\.com\s+delivered/);
    r = await ctl('status', 'cli.example.com');
    expect(r.log).toMatch(/notified:\s+notification\.test at \S+: 3 delivered/);
    // Changing the emails alone keeps the webhook and its secret.
    r = await ctl('--json', 'configs', 'update', 'cli.example.com', '--notify-email', '');
    expect(JSON.parse(r.log).notifications).toEqual({ emails: [], webhooks: [{ url, secret: null, secretSet: true }] });
  });
});
