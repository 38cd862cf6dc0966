/**
 * Driving the web console in a real browser: Debian's Chromium through playwright-core (which
 * cannot download browsers here), against the real server (dist/main.js, whose build includes
 * the console). Pages are found by role and label, as a screen reader user finds them.
 */
import { AxeBuilder } from '@axe-core/playwright';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { expectSuccess, skopeo } from '../support/clients.js';
import { run } from '../support/exec.js';
import { MAIN_JS, REPO_ROOT, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';

export const CHROMIUM = '/usr/bin/chromium';
export const BROWSER_TOOLS = [CHROMIUM] as const;

/** Generous API limits: a browser makes many calls and the tests make them fast. */
export const CONSOLE_SERVER_ARGS = ['--rate-limit-per-minute', '100000', '--rate-limit-per-hour', '1000000'];

export const PHONE = { width: 375, height: 740 };

/**
 * expect.poll with room for a slow, shared machine: the page reacts to API answers, and a
 * loaded CI runner may take seconds where a laptop takes milliseconds.
 */
export function poll<T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) {
  return expect.poll(read, { timeout: 15_000, interval: 100, ...options });
}
export const DESKTOP = { width: 1280, height: 900 };

/** One headless Chromium per test file (playwright gives each launch a fresh profile directory). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** Problems the page reported: script errors, console errors, CSP violations. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** A fresh context (its own sessionStorage) with a page that records what went wrong. */
export async function openConsole(browser: Browser, server: TestServer, viewport = DESKTOP, colorScheme: 'light' | 'dark' = 'light'): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport, baseURL: server.apiUrl, acceptDownloads: true, reducedMotion: 'reduce', colorScheme });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.apiUrl });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A refused API call is logged by Chromium as a failed resource; those are expected in tests of refusals.
    if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(message.text())) {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on('request', (request) => requests.push(request.url()));
  return { context, page, problems, requests };
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await poll(() => page.getByRole('heading', { level: 1, name: 'Registries' }).isVisible()).toBe(true);
}

/** axe-core's WCAG 2.1 A/AA rules over the whole page: no violations. */
export async function expectAccessible(page: Page, where: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const summary = results.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(summary, `axe-core on ${where}`).toEqual([]);
}

/** Nothing wider than the viewport: the page works at a phone's width without sideways scrolling. */
export async function expectNoHorizontalScroll(page: Page, where: string): Promise<void> {
  const widths = await page.evaluate<{ document: number; viewport: number; culprits: string[] }>(`(() => {
    const viewport = window.innerWidth;
    // The outermost elements that stick out, to say what to fix.
    const culprits = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > viewport + 1)
      .filter((el) => !el.closest('.table-scroll'))
      .slice(0, 8)
      .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).replaceAll(' ', '.') : '') + ' → ' + Math.round(el.getBoundingClientRect().right) + 'px');
    return { document: document.documentElement.scrollWidth, viewport, culprits };
  })()`);
  expect(widths.document, `${where}: page width at ${widths.viewport}px (${widths.culprits.join(', ')})`).toBeLessThanOrEqual(widths.viewport);
}

/**
 * A screenshot of the page: into docs/screenshots/ when BERTH_UPDATE_SCREENSHOTS=1 (to refresh
 * the README's pictures), otherwise into a temporary directory.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = process.env.BERTH_UPDATE_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', 'screenshots') : join(await makeTempDir('screenshots'));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/** `berth admin token create` against the server's database; returns the new token. */
export async function createToken(server: TestServer, options: { team?: string; scopes?: string; expiresIn?: string } = {}): Promise<string> {
  const args = [MAIN_JS, 'admin', 'token', 'create', '--team', options.team ?? 'default', '--data-dir', server.dataDir, '--database-url', server.databaseUrl];
  if (options.scopes) args.push('--scopes', options.scopes);
  if (options.expiresIn) args.push('--expires-in', options.expiresIn);
  const result = await run(process.execPath, args, { cwd: REPO_ROOT });
  if (result.code !== 0) throw new Error(`berth admin token create failed:\n${result.stderr}${result.stdout}`);
  return result.stdout.trim().split('\n').at(-1)!.trim();
}

/** `berth admin team create NAME --tier basic`; returns the team's full-access token. */
export async function createTeam(server: TestServer, name: string): Promise<string> {
  const args = [MAIN_JS, 'admin', 'team', 'create', name, '--tier', 'basic', '--data-dir', server.dataDir, '--database-url', server.databaseUrl];
  const result = await run(process.execPath, args, { cwd: REPO_ROOT });
  if (result.code !== 0) throw new Error(`berth admin team create failed:\n${result.stderr}${result.stdout}`);
  return result.stdout.trim().split('\n').at(-1)!.trim();
}

/** skopeo copy from an OCI layout into the server (every platform of an index with `all`). */
export async function pushLayout(server: TestServer, authfile: string, source: string, destination: string, all = false): Promise<void> {
  expectSuccess(
    await skopeo(['copy', ...(all ? ['--all'] : []), '--preserve-digests', '--dest-tls-verify=false', '--dest-authfile', authfile, source, `docker://${server.registryHost}/${destination}`]),
    server,
  );
}
