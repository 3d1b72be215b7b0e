/**
 * Issue 18, preview in the portal, in a real browser (Debian's chromium through
 * playwright-core) against the controller program, a real agent, slapd and Redis: the
 * settings form's "Preview" (before "Save") shows what a filter change would do, read from
 * the real source, and saves nothing; a bad base DN is shown at its input.
 */
import { usersLdif, waitFor } from '@syncguard/testkit';
import type { Browser, Locator } from 'playwright-core';
import { startSystem, type TestSystem } from '../harness';
import { ensurePortalBuilt, launchBrowser, openTab, screenshot, signIn, type PortalTab } from './helpers/browser';

const OU = 'ou=pview,dc=example,dc=com';

describe('portal preview', () => {
  let system: TestSystem;
  let browser: Browser;
  let tab: PortalTab;
  let configId: string;

  beforeAll(async () => {
    ensurePortalBuilt();
    system = await startSystem();
    const agentId = await system.addAgent('dc1');
    await system.slapd.add(`dn: ${OU}\nobjectClass: organizationalUnit\nou: pview\n\n` + usersLdif(OU, 30, { prefix: 'pv' }));
    ({ id: configId } = await system.createConfiguration({
      name: 'pview.example.com',
      agentIds: [agentId],
      source: { baseDn: OU, objectTypes: ['user'] },
      syncIntervalSeconds: 3600,
      accidentalDeletes: { enabled: true, threshold: 10 },
    }));
    await system.firstCycle(configId);
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await tab?.context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await system?.dispose();
  });

  it('previews a filter change in the settings form: counts, the quarantine and its rule, the deletes; nothing saved', async () => {
    tab = await openTab(browser, system.url);
    const { page } = tab;
    await signIn(page, system.adminToken);
    await page.goto(`/#/configurations/${configId}/settings`);
    await page.getByTestId('settings-form').waitFor();
    expect(await page.getByTestId('base-dn-input').inputValue()).toBe(OU);

    // "Preview" comes before "Save".
    const buttons = await page.locator('.form-actions button').allTextContents();
    expect(buttons.indexOf('Preview')).toBeLessThan(buttons.indexOf('Save'));

    // Keeps pv1 and pv10..pv19 (11 of 30): 19 deletes >= 10.
    await page.getByTestId('filter-input').fill('(mail=pv1*)');
    await page.getByTestId('preview-settings').click();
    await expectText(page.getByTestId('preview-counts'), /0 creates, 0 updates, 19 deletes \(11 objects in the proposed scope\)/);
    await expectText(page.getByTestId('preview-would-quarantine'), /would be quarantined: 19 deletes, limit 10/);
    const sample = page.getByTestId('preview-deletes').locator('li');
    expect(await sample.count()).toBe(19);
    for (const text of await sample.allTextContents()) {
      expect(text).toMatch(/^uid=pv(\d+),ou=pview/);
      expect(text).not.toMatch(/^uid=pv1\d?,/);
    }
    await screenshot(page, '20-settings-preview');

    // Nothing was saved: the configuration keeps its scope, no cycle ran.
    const c = await system.api.get<{ source: { filter: string } }>(`/api/v1/configurations/${configId}`);
    expect(c.source.filter).toBe('');
    expect((await system.status(configId)).state).toBe('healthy');
    expect(await system.objects(configId)).toHaveLength(30);

    // A narrower change under a raised threshold: no quarantine.
    await page.getByTestId('threshold-input').fill('20');
    await page.getByTestId('preview-settings').click();
    await expectText(page.getByTestId('preview-no-quarantine'), /Would not be quarantined/);

    // A base DN that is not a DN: the API's message at the input, no preview shown.
    await page.getByTestId('base-dn-input').fill('not a dn');
    await page.getByTestId('preview-settings').click();
    await expectText(page.getByTestId('error-baseDn'), /is not an LDAP DN/);
    expect(await page.getByTestId('preview-result').count()).toBe(0);
    expect(tab.errors).toEqual([]);
  });
});

async function expectText(locator: Locator, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  let last: string | null = null;
  try {
    await waitFor(
      async () => {
        last = (await locator.count()) > 0 ? await locator.first().textContent({ timeout: 1000 }) : null;
        return last !== null && pattern.test(last);
      },
      { timeoutMs, intervalMs: 200, message: `text matching ${pattern}` },
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}
