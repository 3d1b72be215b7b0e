/**
 * Browser helpers for the portal's e2e test: Debian's chromium driven by playwright-core
 * (`npx playwright install` cannot download on these machines), screenshots under
 * test/artifacts/portal/ (git-ignored), and a build of the portal when it is missing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..', '..', '..');
export const PORTAL_DIST = path.join(ROOT, 'packages', 'portal', 'dist');
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts', 'portal');
export const CHROMIUM = process.env.SYNCGUARD_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The newest modification time under `dir` (files only), 0 when it does not exist. */
function newestMtime(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  const stat = fs.statSync(dir);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(dir)) newest = Math.max(newest, newestMtime(path.join(dir, entry)));
  return newest;
}

/**
 * Builds packages/portal (vite, about a second) when its dist/index.html is missing or
 * older than its sources: the controller serves that folder at `/`, and the e2e package
 * does not depend on the portal's build task.
 */
export function ensurePortalBuilt(): void {
  const portal = path.dirname(PORTAL_DIST);
  const built = newestMtime(path.join(PORTAL_DIST, 'index.html'));
  const sources = Math.max(
    ...['src', 'index.html', 'vite.config.ts', 'package.json'].map((f) => newestMtime(path.join(portal, f))),
  );
  if (built > 0 && built >= sources) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', 'build', '-w', '@syncguard/portal'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the portal failed:\n${r.stdout}\n${r.stderr}`);
}

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium package (or set SYNCGUARD_CHROMIUM)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** A browser tab with its own session (sessionStorage), and the page errors it saw. */
export interface PortalTab {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

export async function openTab(browser: Browser, baseUrl: string): Promise<PortalTab> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, baseURL: baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('/');
  return { context, page, errors };
}

/** Signs in through the sign-in form and waits for the configurations page. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('sign-in').click();
  await page.getByRole('heading', { name: 'Configurations' }).waitFor();
}

/** Saves a full-page screenshot as test/artifacts/portal/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
