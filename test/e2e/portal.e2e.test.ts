/**
 * Issue 8 end to end: the web portal in a real browser (Debian's chromium through
 * playwright-core) against the whole product on loopback: the controller program serving
 * the portal's build at `/`, a real agent, slapd, Redis and SMTP. An admin sees the
 * quarantine a mass delete at the source causes, reviews the staged deletes, allows them
 * through the dialog and watches the state turn healthy; a reader sees the same pages
 * without the buttons. Screenshots of the main pages go to test/artifacts/portal/.
 */
import { createHmac } from 'node:crypto';
import { startWebhookReceiver, userDns, usersLdif, waitFor } from '@syncguard/testkit';
import type { Browser, Locator } from 'playwright-core';
import { ApiError, startSystem, type StatusView, type TestSystem } from '../harness';
import { ensurePortalBuilt, launchBrowser, openTab, screenshot, signIn, type PortalTab } from './helpers/browser';

const OU = 'ou=portal,dc=example,dc=com';
const USERS = 60;
const DELETED = 40;
const THRESHOLD = 10;

describe('web portal', () => {
  let system: TestSystem;
  let browser: Browser;
  let admin: PortalTab;
  let configId: string;
  let agentId: string;
  let quarantined: StatusView;

  beforeAll(async () => {
    ensurePortalBuilt();
    system = await startSystem();
    agentId = await system.addAgent('dc1');
    await system.slapd.add(`dn: ${OU}\nobjectClass: organizationalUnit\nou: portal\n\n` + usersLdif(OU, USERS, { prefix: 'p-' }));
    ({ id: configId } = await system.createConfiguration({
      name: 'portal.example.com',
      agentIds: [agentId],
      source: { baseDn: OU, objectTypes: ['user'] },
      // The schedule is what brings the state back to healthy after the deletes are allowed.
      syncIntervalSeconds: 10,
      accidentalDeletes: { enabled: true, threshold: THRESHOLD },
      notificationEmail: 'portal-ops@example.com',
    }));
    await system.api.post(`/api/v1/configurations/${configId}/cycles`).catch((e: unknown) => {
      if (!(e instanceof ApiError && e.status === 409)) throw e; // a scheduled cycle got there first
    });
    await waitFor(async () => (await system.status(configId)).state === 'healthy', {
      timeoutMs: 60_000,
      message: 'the first cycle to be applied',
    });
    expect(await system.objects(configId)).toHaveLength(USERS);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await admin?.context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await system?.dispose();
  });

  it('signs in with an API token and lists the configurations', async () => {
    admin = await openTab(browser, system.url);
    const { page } = admin;
    await page.getByTestId('token-input').waitFor();
    await screenshot(page, '01-sign-in');

    // A wrong token is refused on the form.
    await page.getByTestId('token-input').fill('not-a-token');
    await page.getByTestId('sign-in').click();
    await expectText(page.getByTestId('sign-in-error'), /not valid/);

    await signIn(page, system.adminToken);
    await expectText(page.getByTestId('role'), /Admin/);
    const row = page.locator(`[data-testid=configuration-row][data-config-id="${configId}"]`);
    await expectText(row, /portal\.example\.com/);
    await expectText(row.getByTestId('configuration-state'), /Healthy/);
    // The token is kept for the browser session only.
    expect(await page.evaluate('sessionStorage.getItem("syncguard.token")')).toBe(system.adminToken);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });

  it('shows "Delete threshold exceeded" after a mass delete at the source', async () => {
    const { page } = admin;
    await system.slapd.delete(userDns(OU, DELETED, { prefix: 'p-' }));
    // The schedule runs the next cycle; the configurations page refreshes itself.
    quarantined = await waitFor(
      async () => {
        const s = await system.status(configId);
        return s.state === 'quarantined' ? s : undefined;
      },
      { timeoutMs: 60_000, message: 'the configuration to be quarantined' },
    );
    const q = quarantined.quarantine!;
    expect(q.deleteCount).toBeGreaterThanOrEqual(THRESHOLD);
    const row = page.locator(`[data-testid=configuration-row][data-config-id="${configId}"]`);
    const link = row.getByTestId('threshold-exceeded');
    await link.waitFor({ timeout: 20_000 });
    expect(await link.textContent()).toContain('Delete threshold exceeded');
    await screenshot(page, '02-configurations-quarantined');

    // The link opens the sync status info.
    await link.click();
    await page.getByTestId('status-info').waitFor();
    await expectText(page.getByTestId('delete-count'), new RegExp(`${q.deleteCount} staged, threshold ${THRESHOLD}`));
    await expectText(page.getByTestId('reason'), /TooManyDeletes/);
    await expectText(page.getByTestId('notification-email'), /portal-ops@example\.com/);
    expect(await page.getByTestId('cycle-row').first().getAttribute('data-state')).toBe('quarantined');
    // What the quarantine holds, by cause and by parent OU, with an example each.
    const parent = page.getByTestId('held-by-parent').locator(`[data-testid=held-group][data-key="${OU}"]`);
    await expectText(parent.getByTestId('held-count'), new RegExp(`^${q.deleteCount}$`));
    await expectText(parent, /e\.g\. uid=p-/);
    expect(await page.getByTestId('held-by-cause').getByTestId('held-group').count()).toBeGreaterThanOrEqual(1);
    // The notifications: the quarantine email went to the address.
    const started = page.locator('[data-testid=notification-event][data-event="quarantine.started"]');
    await expectText(started.getByTestId('notification-deliveries'), /1 delivered/, 30_000);
    await screenshot(page, '03-sync-status-info');
  });

  it('lists the staged deletes in the provisioning log, filtered and searchable by DN', async () => {
    const { page } = admin;
    const q = quarantined.quarantine!;
    await page.getByTestId('more-actions').click();
    for (const item of ['menu-logs', 'menu-agent', 'menu-allow-deletes', 'menu-restart']) {
      expect(await page.getByTestId(item).isVisible()).toBe(true);
    }
    await page.getByTestId('menu-logs').click();
    await page.getByTestId('log-row').first().waitFor();
    // Quarantined: the log opens on the StagedDelete entries of the quarantined cycle.
    expect(await page.getByTestId('filter-action').inputValue()).toBe('StagedDelete');
    expect(await page.getByTestId('filter-cycle').inputValue()).toBe(q.cycleId);
    const rows = page.getByTestId('log-row');
    expect(await rows.count()).toBe(Math.min(q.deleteCount, 50));
    expect(await page.locator('[data-testid=log-row]:not([data-action=StagedDelete])').count()).toBe(0);
    await screenshot(page, '04-provisioning-log-staged-deletes');

    // Search by DN (the API's `dn` parameter, case-insensitive).
    // A DN that is certainly staged in the quarantined cycle (a scheduled cycle may have split the deletes).
    const dn = (await system.logs(configId, { action: 'StagedDelete', cycleId: q.cycleId }))[7]!.dn;
    await page.getByTestId('filter-dn').fill(dn.toUpperCase());
    await page.getByTestId('search').click();
    await waitFor(async () => (await rows.count()) === 1 && (await rows.first().getByTestId('log-dn').textContent()) === dn, {
      timeoutMs: 10_000,
      message: 'the DN search to show one entry',
    });
    expect(await page.getByTestId('client-side-search').count()).toBe(0);

    // Every action of every cycle: more than a page (60 creates and the staged deletes), paged by cursor.
    await page.getByTestId('filter-dn').fill('');
    await page.getByTestId('search').click();
    await page.getByTestId('filter-action').selectOption('');
    await page.getByTestId('filter-cycle').selectOption('');
    await waitFor(async () => (await rows.count()) === 50, { timeoutMs: 10_000, message: 'a full first page' });
    const firstOfPage1 = await rows.first().getByTestId('log-dn').textContent();
    await page.getByTestId('next-page').click();
    await expectText(page.getByTestId('page-number'), /Page 2/);
    await waitFor(async () => (await rows.first().getByTestId('log-dn').textContent()) !== firstOfPage1, {
      timeoutMs: 10_000,
      message: 'the second page',
    });
    expect(await page.locator('[data-testid=log-row][data-action=Create]').count()).toBeGreaterThan(0);
    await page.getByTestId('prev-page').click();
    await expectText(page.getByTestId('page-number'), /Page 1/);
  });

  it('shows the agents with their status, host and configurations', async () => {
    const { page } = admin;
    await page.getByTestId('nav-agents').click();
    const row = page.getByTestId('agent-row').filter({ hasText: 'dc1' });
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('connected');
    await expectText(row, /portal\.example\.com/);
    await screenshot(page, '05-agents');
  });

  it('a reader sees the quarantine but cannot allow, restart or edit settings', async () => {
    const { token } = await system.api.post<{ token: string }>('/api/v1/tokens', { name: 'portal-reader', role: 'reader' });
    const reader = await openTab(browser, system.url);
    try {
      const { page } = reader;
      await signIn(page, token);
      await expectText(page.getByTestId('role'), /Reader/);
      await page.locator(`[data-config-id="${configId}"]`).getByTestId('threshold-exceeded').click();
      await page.getByTestId('status-info').waitFor();
      await page.getByTestId('quarantine-banner').waitFor();
      expect(await page.getByTestId('allow-deletes').count()).toBe(0);
      expect(await page.getByTestId('restart').count()).toBe(0);
      await page.getByTestId('more-actions').click();
      expect(await page.getByTestId('menu-logs').isVisible()).toBe(true);
      expect(await page.getByTestId('menu-allow-deletes').count()).toBe(0);
      expect(await page.getByTestId('menu-restart').count()).toBe(0);
      await screenshot(page, '06-reader-sync-status-info');
      await page.keyboard.press('Escape');
      await page.getByTestId('tab-settings').click();
      await page.getByTestId('read-only').waitFor();
      expect(await page.getByTestId('save-settings').count()).toBe(0);
      expect(await page.getByTestId('threshold-input').isDisabled()).toBe(true);
      // And the API agrees.
      const res = await fetch(`${system.url}/api/v1/configurations/${configId}/allow-deletes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(403);
      expect((await system.status(configId)).state).toBe('quarantined');
    } finally {
      await reader.context.close();
    }
  });

  it('allows the deletes through the Yes/No dialog and returns to healthy by itself', async () => {
    const { page } = admin;
    const q = quarantined.quarantine!;
    await page.getByTestId('nav-configurations').click();
    await page.locator(`[data-config-id="${configId}"]`).getByTestId('threshold-exceeded').click();
    await page.getByTestId('status-info').waitFor();

    // No closes the dialog and changes nothing.
    await page.getByTestId('allow-deletes').click();
    const dialog = page.getByTestId('allow-dialog');
    await expectText(
      dialog.getByTestId('allow-dialog-count'),
      new RegExp(`${q.deleteCount} objects will be deleted from the cloud directory`),
    );
    await screenshot(page, '07-allow-deletes-dialog');
    await dialog.getByTestId('confirm-no').click();
    await dialog.waitFor({ state: 'detached' });
    expect((await system.status(configId)).state).toBe('quarantined');
    expect(await system.objects(configId)).toHaveLength(USERS);

    // Yes applies them.
    await page.getByTestId('allow-deletes').click();
    await page.getByTestId('allow-dialog').getByTestId('confirm-yes').click();
    const accepted = page.getByTestId('deletes-accepted');
    await expectText(accepted, new RegExp(`${q.deleteCount} objects were deleted from the cloud directory`));
    await screenshot(page, '08-deletes-accepted');
    expect(await system.objects(configId)).toHaveLength(USERS - q.deleteCount);

    // The page polls until the next scheduled cycle brings the state back to healthy.
    await page.getByTestId('healthy-again').waitFor({ timeout: 60_000 });
    await expectText(page.getByTestId('state'), /Healthy/);
    expect((await system.status(configId)).state).toBe('healthy');
    await screenshot(page, '09-healthy-again');
  });

  it('restarts a quarantined configuration through its own confirmation, without applying the deletes', async () => {
    const { page } = admin;
    // An admin's mistake: a filter that leaves every remaining user out of scope.
    await system.api.patch(`/api/v1/configurations/${configId}`, { source: { filter: '(employeeNumber=1*)' } });
    const q = await waitFor(
      async () => {
        const s = await system.status(configId);
        return s.state === 'quarantined' ? s.quarantine : undefined;
      },
      { timeoutMs: 60_000, message: 'the filter change to be quarantined' },
    );
    expect(q.deleteCount).toBe(USERS - DELETED);
    await page.getByTestId('restart').waitFor({ timeout: 20_000 });
    await expectText(page.getByTestId('state'), /Delete threshold exceeded/);

    // The mistake is fixed at the source side, then the quarantined cycle is discarded.
    await system.api.patch(`/api/v1/configurations/${configId}`, { source: { filter: '' } });
    await page.getByTestId('restart').click();
    const dialog = page.getByTestId('restart-dialog');
    await expectText(dialog, new RegExp(`${q.deleteCount} staged deletes are not applied`));
    await screenshot(page, '10-restart-dialog');
    await dialog.getByTestId('confirm-yes').click();
    await page.getByTestId('restarted').waitFor();
    await page.getByTestId('healthy-again').waitFor({ timeout: 60_000 });
    await expectText(page.getByTestId('state'), /Healthy/);
    expect(await system.objects(configId)).toHaveLength(USERS - DELETED);
  });

  it('edits the settings and shows the API validation message next to the field', async () => {
    const { page } = admin;
    await page.getByTestId('tab-settings').click();
    const threshold = page.getByTestId('threshold-input');
    await threshold.fill('0');
    await page.getByTestId('save-settings').click();
    await expectText(page.getByTestId('error-threshold'), /must be >= 1/);
    expect(await threshold.getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, '11-settings-validation');

    await threshold.fill('25');
    await page.getByTestId('notification-email-input').fill('not an address');
    await page.getByTestId('save-settings').click();
    await page.getByTestId('error-notificationEmail').waitFor();
    expect(await page.getByTestId('error-threshold').count()).toBe(0);

    await page.getByTestId('notification-email-input').fill('security@example.com');
    await page.getByTestId('save-settings').click();
    await page.getByTestId('saved').waitFor();
    const c = await system.api.get<{ accidentalDeletes: { threshold: number; enabled: boolean }; notificationEmail: string }>(
      `/api/v1/configurations/${configId}`,
    );
    expect(c.accidentalDeletes).toMatchObject({ enabled: true, threshold: 25 });
    expect(c.notificationEmail).toBe('security@example.com');
    expect(admin.errors).toEqual([]);
  });

  it('sets a percentage and a protected DN suffix, which a reload shows again', async () => {
    const { page } = admin;
    await page.getByTestId('percentage-input').fill('12.5');
    // A bad DN is refused next to the list, naming nothing else.
    await page.getByTestId('dnSuffixes-input').fill('not a dn');
    await page.getByTestId('save-settings').click();
    await page.getByTestId('error-dnSuffixes').waitFor();
    expect(await page.getByTestId('dnSuffixes-input').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByTestId('error-percentage').count()).toBe(0);

    await page.getByTestId('dnSuffixes-input').fill(`ou=admins,${OU}`);
    await page.getByTestId('save-settings').click();
    await page.getByTestId('saved').waitFor();
    const c = await system.api.get<{ accidentalDeletes: Record<string, unknown> }>(`/api/v1/configurations/${configId}`);
    expect(c.accidentalDeletes).toMatchObject({
      threshold: 25,
      percentage: 12.5,
      minimumObjects: 100,
      perType: null,
      window: null,
      protected: { dnSuffixes: [`ou=admins,${OU}`], objectIds: [] },
    });

    await page.reload();
    await page.getByTestId('settings-form').waitFor();
    expect(await page.getByTestId('percentage-input').inputValue()).toBe('12.5');
    expect(await page.getByTestId('dnSuffixes-input').inputValue()).toBe(`ou=admins,${OU}`);
    expect(await page.getByTestId('windowHours-input').inputValue()).toBe('');
    await screenshot(page, '12-settings-policies');
    expect(admin.errors).toEqual([]);
  });

  it('sets more recipients and a signed webhook (the secret never shown again) and sends a test from the status page', async () => {
    const { page } = admin;
    const hooks = await startWebhookReceiver();
    try {
      const url = hooks.url('/portal');
      await page.getByTestId('notify-emails-input').fill('team-a@example.com\nteam-b@example.com');
      await page.getByTestId('webhooks-input').fill(url);
      // A new webhook needs a secret: the API's message shows next to the secret field.
      await page.getByTestId('save-settings').click();
      await page.getByTestId('error-webhookSecret').waitFor();
      await page.getByTestId('webhook-secret-input').fill('portal-webhook-secret-123');
      await page.getByTestId('save-settings').click();
      await page.getByTestId('saved').waitFor();
      const c = await system.api.get<{ notifications: unknown }>(`/api/v1/configurations/${configId}`);
      expect(c.notifications).toEqual({
        emails: ['team-a@example.com', 'team-b@example.com'],
        webhooks: [{ url, secret: null, secretSet: true }],
      });
      await page.reload();
      await page.getByTestId('settings-form').waitFor();
      expect(await page.getByTestId('webhooks-input').inputValue()).toBe(url);
      expect(await page.getByTestId('webhook-secret-input').inputValue()).toBe('');
      // Saving again without typing the secret keeps it.
      await page.getByTestId('save-settings').click();
      await page.getByTestId('saved').waitFor();

      await page.getByTestId('tab-status').click();
      await page.getByTestId('notifications-test').click();
      await expectText(page.getByTestId('notifications-note'), /Test event sent to 4 recipients/);
      const [r] = await hooks.waitForRequests(1);
      expect(r!.headers['x-syncguard-event']).toBe('notification.test');
      expect(r!.headers['x-syncguard-signature']).toBe(
        `sha256=${createHmac('sha256', 'portal-webhook-secret-123').update(r!.body).digest('hex')}`,
      );
      const test = page.locator('[data-testid=notification-event][data-event="notification.test"]');
      await expectText(test.getByTestId('notification-deliveries'), /4 delivered/, 30_000);
      await screenshot(page, '13-notifications');
      expect(admin.errors).toEqual([]);
    } finally {
      await hooks.stop();
    }
  });

  it('lists, creates and revokes pre-approvals, and shows the cycle that used one', async () => {
    const { page } = admin;
    // 6 deletes trip a threshold of 5: only a pre-approval lets them through.
    await system.api.patch(`/api/v1/configurations/${configId}`, { accidentalDeletes: { threshold: 5 } });
    await page.getByTestId('nav-configurations').click();
    await page.locator(`[data-config-id="${configId}"]`).getByTestId('configuration-link').click();
    const card = page.getByTestId('delete-approvals');
    await card.getByTestId('no-approvals').waitFor();

    // The API's message shows next to the field.
    await card.getByTestId('approval-maxDeletes-input').fill('0');
    await card.getByTestId('approval-reason-input').fill('retire ou=portal leavers');
    await card.getByTestId('approval-create').click();
    await expectText(card.getByTestId('approval-error-maxDeletes'), /must be/);
    expect(await card.getByTestId('approval-maxDeletes-input').getAttribute('aria-invalid')).toBe('true');

    await card.getByTestId('approval-maxDeletes-input').fill('10');
    await card.getByTestId('approval-expiresInHours-input').fill('48');
    await card.getByTestId('approval-create').click();
    await expectText(card.getByTestId('approval-created'), /at most 10 deletes/);
    await card.getByTestId('approval-maxDeletes-input').fill('3');
    await card.getByTestId('approval-reason-input').fill('a smaller change, approved by mistake');
    await card.getByTestId('approval-create').click();
    await waitFor(async () => (await card.getByTestId('approval-row').count()) === 2, { message: 'two approvals listed' });
    const listed = await system.api.get<{ items: { id: string; maxDeletes: number; reason: string; expiresAt: string }[] }>(
      `/api/v1/configurations/${configId}/delete-approvals`,
    );
    const big = listed.items.find((a) => a.maxDeletes === 10)!;
    const small = listed.items.find((a) => a.maxDeletes === 3)!;
    expect(big.reason).toBe('retire ou=portal leavers');
    expect(Date.parse(big.expiresAt) - Date.now()).toBeGreaterThan(47 * 3600_000);
    const row = (id: string) => card.locator(`[data-testid=approval-row][data-approval-id="${id}"]`);
    await expectText(row(big.id).getByTestId('approval-max'), /^10 deletes$/);
    await expectText(row(big.id).getByTestId('approval-reason'), /retire ou=portal leavers/);
    await expectText(row(big.id).getByTestId('approval-state'), /waiting for its cycle/);

    // Revoke the small one through its confirmation (No first: nothing changes).
    await row(small.id).getByTestId('approval-revoke').click();
    await page.getByTestId('revoke-dialog').getByTestId('confirm-no').click();
    await page.getByTestId('revoke-dialog').waitFor({ state: 'detached' });
    expect(await row(small.id).getAttribute('data-state')).toBe('active');
    await row(small.id).getByTestId('approval-revoke').click();
    await page.getByTestId('revoke-dialog').getByTestId('confirm-yes').click();
    await expectText(row(small.id).getByTestId('approval-state'), /revoked/);
    expect(await row(small.id).getByTestId('approval-revoke').count()).toBe(0);
    await screenshot(page, '14-pre-approvals');

    // The planned change: 6 deletes, applied without quarantine, once, by the big approval.
    await system.slapd.delete(userDns(OU, USERS, { prefix: 'p-' }).slice(DELETED, DELETED + 6));
    await expectText(row(big.id).getByTestId('approval-state'), /^used$/, 60_000);
    await expectText(row(big.id).getByTestId('approval-used-by'), /cycle [0-9a-f]{8}, 6 deletes/);
    const status = await system.status(configId);
    expect(status.state).toBe('healthy');
    const cycles = await system.api.get<{ items: { id: string; approvalId: string | null }[] }>(
      `/api/v1/configurations/${configId}/cycles`,
    );
    const used = cycles.items.find((c) => c.approvalId === big.id)!;
    expect(await row(big.id).getByTestId('approval-used-by').locator('a').getAttribute('title')).toBe(used.id);
    expect(await system.objects(configId)).toHaveLength(USERS - DELETED - 6);
    await screenshot(page, '15-pre-approval-used');
    expect(admin.errors).toEqual([]);
  });
});

/** Waits until the locator's text matches (the pages refresh themselves). */
async function expectText(locator: Locator, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  let last: string | null = null;
  try {
    await waitFor(
      async () => {
        last = await locator.first().textContent({ timeout: 1000 });
        return last !== null && pattern.test(last);
      },
      { timeoutMs, intervalMs: 200, message: `text matching ${pattern}` },
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}
