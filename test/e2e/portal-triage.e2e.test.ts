/**
 * Issue 18, the portal's triage flow in a real browser (Debian's chromium through
 * playwright-core) against the real controller, agent, slapd and Redis: an admin releases
 * one parent OU's deletes from the sync status info ("Allow these 4"), the other OU's deletes
 * become kept objects listed on the page, one of them is deleted from that list, and a later
 * quarantine is rejected whole. Screenshots go to test/artifacts/portal/.
 */
import { userDns, usersLdif, waitFor } from '@syncguard/testkit';
import type { Browser, Locator, Page } from 'playwright-core';
import { startSystem, type TestSystem } from '../harness';
import { ensurePortalBuilt, launchBrowser, openTab, screenshot, signIn, type PortalTab } from './helpers/browser';

const SUFFIX = 'dc=example,dc=com';
const TOP = `ou=ptri,${SUFFIX}`;
const OU_A = `ou=a,${TOP}`;
const OU_B = `ou=b,${TOP}`;

describe('portal triage', () => {
  let system: TestSystem;
  let browser: Browser;
  let admin: PortalTab;
  let id: string;

  beforeAll(async () => {
    ensurePortalBuilt();
    system = await startSystem();
    const agentId = await system.addAgent('dc1');
    await system.slapd.add(
      [
        `dn: ${TOP}\nobjectClass: organizationalUnit\nou: ptri\n`,
        `dn: ${OU_A}\nobjectClass: organizationalUnit\nou: a\n`,
        `dn: ${OU_B}\nobjectClass: organizationalUnit\nou: b\n`,
        usersLdif(OU_A, 10, { prefix: 'pa-' }),
        usersLdif(OU_B, 10, { prefix: 'pb-' }),
      ].join('\n'),
    );
    ({ id } = await system.createConfiguration({
      name: 'ptri.example.com',
      agentIds: [agentId],
      source: { baseDn: TOP, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold: 5 },
    }));
    await system.firstCycle(id);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await admin?.context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await system?.dispose();
  });

  async function openStatus(page: Page): Promise<void> {
    await page.goto(`/#/configurations/${id}`);
    await page.getByTestId('status-info').waitFor();
  }

  it('releases one OU from the held deletes, keeps the other, deletes a kept object, rejects a later quarantine', async () => {
    await system.slapd.delete([...userDns(OU_A, 4, { prefix: 'pa-' }), ...userDns(OU_B, 4, { prefix: 'pb-' })]);
    const q = await system.syncNow(id, 'quarantined');
    expect(q.quarantine?.deleteCount).toBe(8);

    admin = await openTab(browser, system.url);
    const { page } = admin;
    await signIn(page, system.adminToken);
    await openStatus(page);
    const groupA = page.getByTestId('held-by-parent').locator(`[data-testid=held-group][data-key="${OU_A}"]`);
    await expectText(groupA.getByTestId('allow-group'), /Allow these 4/);
    await screenshot(page, '20-triage-held-groups');

    // A reader sees the groups but no triage buttons.
    const { token: readerToken } = await system.api.post<{ token: string }>('/api/v1/tokens', {
      name: 'ptri-reader',
      role: 'reader',
    });
    const reader = await openTab(browser, system.url);
    try {
      await signIn(reader.page, readerToken);
      await openStatus(reader.page);
      await reader.page.getByTestId('held-by-parent').waitFor();
      expect(await reader.page.getByTestId('allow-group').count()).toBe(0);
      expect(await reader.page.getByTestId('reject-deletes').count()).toBe(0);
    } finally {
      await reader.context.close();
    }

    // Cancel changes nothing; confirm releases ou=a only.
    await groupA.getByTestId('allow-group').click();
    await expectText(page.getByTestId('allow-group-count'), new RegExp(`4 objects under ${OU_A.replace(/[=,]/g, '.')}`));
    await page.getByTestId('confirm-no').click();
    expect((await system.status(id)).state).toBe('quarantined');
    await groupA.getByTestId('allow-group').click();
    await page.getByTestId('allow-group-dialog').getByTestId('confirm-yes').click();
    await expectText(page.getByTestId('deletes-accepted'), /4 objects were deleted/);
    await expectText(page.getByTestId('kept-count'), /4 other staged deletes were kept/);
    await waitFor(async () => (await system.status(id)).state === 'healthy', { timeoutMs: 30_000, message: 'healthy' });
    const dns = new Set((await system.objects(id)).map((o) => o.dn.toLowerCase()));
    for (const dn of userDns(OU_A, 4, { prefix: 'pa-' })) expect(dns.has(dn.toLowerCase())).toBe(false);
    for (const dn of userDns(OU_B, 4, { prefix: 'pb-' })) expect(dns.has(dn.toLowerCase())).toBe(true);

    // The kept objects are listed; one is deleted from the list.
    await openStatus(page);
    const rows = page.getByTestId('kept-objects').getByTestId('kept-row');
    await waitFor(async () => (await rows.count()) === 4, { timeoutMs: 15_000, message: '4 kept rows' });
    await screenshot(page, '21-triage-kept-objects');
    const readerTab = await openTab(browser, system.url);
    try {
      await signIn(readerTab.page, readerToken);
      await openStatus(readerTab.page);
      await waitFor(async () => (await readerTab.page.getByTestId('kept-row').count()) === 4, { message: 'reader: 4 kept rows' });
      expect(await readerTab.page.getByTestId('delete-kept').count()).toBe(0);
    } finally {
      await readerTab.context.close();
    }
    const first = userDns(OU_B, 1, { prefix: 'pb-' })[0]!;
    const row = rows.filter({ hasText: first });
    await row.getByTestId('delete-kept').click();
    await page.getByTestId('delete-kept-dialog').getByTestId('confirm-yes').click();
    await expectText(page.getByTestId('kept-deleted'), /was deleted from the cloud directory/);
    await waitFor(async () => (await rows.count()) === 3, { timeoutMs: 15_000, message: '3 kept rows' });
    expect((await system.objects(id)).map((o) => o.dn.toLowerCase())).not.toContain(first.toLowerCase());

    // A later quarantine, rejected whole from the banner's button.
    await system.waitForIdle(id);
    await system.slapd.delete(userDns(OU_A, 5, { prefix: 'pa-', start: 4 }));
    const q2 = await system.syncNow(id, 'quarantined');
    expect(q2.quarantine?.deleteCount).toBe(5);
    await openStatus(page);
    await page.getByTestId('quarantine-banner').waitFor();
    await page.getByTestId('reject-deletes').click();
    await page.getByTestId('reject-dialog').getByTestId('confirm-yes').click();
    await expectText(page.getByTestId('deletes-rejected'), /5 staged deletes were kept/);
    await waitFor(async () => (await system.status(id)).state === 'healthy', { timeoutMs: 30_000, message: 'healthy' });
    await openStatus(page);
    await waitFor(async () => (await rows.count()) === 8, { timeoutMs: 15_000, message: '8 kept rows' });
    await screenshot(page, '22-triage-rejected');

    const audit = await system.api.get<{ items: { action: string; target: { id: string } }[] }>('/api/v1/audit?limit=100');
    const actions = audit.items.filter((a) => a.target.id === id).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['allow-deletes', 'kept-objects.delete', 'reject-deletes']));
    expect(admin.errors).toEqual([]);
  });
});

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
