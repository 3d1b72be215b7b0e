/**
 * The portal and the /admin/queues dashboard in a real browser (Debian's chromium through
 * playwright-core) under the controller's Content-Security-Policy: both must work with
 * no script blocked, and the dashboard's cookie must not be the token.
 */
import type { Browser, ConsoleMessage } from 'playwright-core';
import { startSystem, type TestSystem } from '../harness';
import { ensurePortalBuilt, launchBrowser, openTab, signIn } from './helpers/browser';

const isCspReport = (m: ConsoleMessage) => /Content Security Policy/i.test(m.text());

describe('the portal and the dashboard under the CSP', () => {
  let system: TestSystem;
  let browser: Browser;

  beforeAll(async () => {
    ensurePortalBuilt();
    system = await startSystem();
    await system.addAgent('csp-dc1');
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await system?.dispose();
  });

  it('the portal signs in and lists agents with nothing blocked', async () => {
    const tab = await openTab(browser, system.url);
    const reports: string[] = [];
    tab.page.on('console', (m) => {
      if (isCspReport(m)) reports.push(m.text());
    });
    const response = await tab.page.goto('/');
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await signIn(tab.page, system.adminToken);
    await tab.page.getByTestId('nav-agents').click();
    await tab.page.getByText('csp-dc1').first().waitFor();
    expect(reports).toEqual([]);
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });

  it('the dashboard renders its queues with no script blocked, on a session cookie', async () => {
    const context = await browser.newContext({ baseURL: system.url });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const reports: string[] = [];
    page.on('console', (m) => {
      if (isCspReport(m)) reports.push(m.text());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`/admin/queues?token=${encodeURIComponent(system.adminToken)}`);
    expect(new URL(page.url()).search).toBe('');
    await page.getByText('cycles').first().waitFor();
    // The only thing refused is bull-board's Google Fonts stylesheet (fonts fall back to
    // local ones); that it is reported shows the browser enforces the policy here.
    expect(reports.some((r) => r.includes('fonts.googleapis.com'))).toBe(true);
    expect(reports.filter((r) => !r.includes('fonts.googleapis.com'))).toEqual([]);
    expect(errors).toEqual([]);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'syncguard_admin')?.value).not.toBe(system.adminToken);
    await context.close();
  });
});
