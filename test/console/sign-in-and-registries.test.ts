/**
 * The web console in Chromium against a real Berth: signing in and out (and the refusals a
 * bad, expired or under-scoped token meets), registries (create with the live name check,
 * region and tier from the API's options, delete behind a typed confirmation) and the
 * subscription (allowance, usage, changing tier, eligibility). Every page passes axe-core,
 * fits a phone's width, and the main flow works with the keyboard alone.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { pushSmallImage } from './images.js';
import { requireTools } from '../support/tools.js';
import {
  BROWSER_TOOLS,
  CONSOLE_SERVER_ARGS,
  createTeam,
  createToken,
  expectAccessible,
  expectNoHorizontalScroll,
  launchBrowser,
  openConsole,
  PHONE,
  poll,
  screenshot,
  signIn,
  type ConsolePage,
} from './support.js';

const skip = requireTools(BROWSER_TOOLS);

describe.skipIf(skip)('the web console: signing in, registries and the subscription', { timeout: 90_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  const opened: ConsolePage[] = [];

  const open = async (viewport?: { width: number; height: number }, colorScheme?: 'light' | 'dark') => {
    const c = await openConsole(browser, server, viewport, colorScheme);
    opened.push(c);
    return c;
  };
  const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name });

  beforeAll(async () => {
    // A starter tier of one repository, so a team with two is not eligible for it.
    [server, browser] = await Promise.all([startServer({ args: [...CONSOLE_SERVER_ARGS, '--regions', 'fra1,ams3,nyc3'] }), launchBrowser()]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    // The token never leaves the Authorization header: not in a URL, not in a log line.
    expect(server.logs).not.toContain(server.token);
    for (const c of opened) {
      expect(c.requests.filter((url) => url.includes(server.token))).toEqual([]);
      expect(c.problems).toEqual([]);
    }
  });

  it('refuses a wrong token with the reason and keeps nothing', async () => {
    const { page } = await open();
    await page.goto('/registries');
    await poll(() => page.url()).toBe(`${server.apiUrl}/sign-in`);
    await poll(() => heading(page, 'Sign in').isVisible()).toBe(true);
    await expectAccessible(page, 'the sign-in page');
    await screenshot(page, 'sign-in');

    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByText('Enter an API token.').isVisible()).toBe(true);

    await page.getByLabel('API token').fill(`dop_v1_${'0'.repeat(64)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refusal = page.getByText(/This token was not accepted: it is invalid, expired or revoked\. \(Unable to authenticate you/);
    await poll(() => refusal.isVisible()).toBe(true);
    // The message is the field's description, so a screen reader reads it with the field.
    expect(await page.getByLabel('API token').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    await expectAccessible(page, 'the sign-in page with an error');
  });

  it('refuses an expired token and a token that may not read registries', async () => {
    const expired = await createToken(server, { expiresIn: '1s' });
    const createOnly = await createToken(server, { scopes: 'registry:create' });
    await new Promise((r) => setTimeout(r, 1500));
    const { page } = await open();
    await page.goto('/sign-in');
    await page.getByLabel('API token').fill(expired);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByText(/not accepted: it is invalid, expired or revoked/).isVisible()).toBe(true);

    await page.getByLabel('API token').fill(createOnly);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByText(/valid but may not read registries; the console needs the registry:read scope\. \(You do not have access/).isVisible()).toBe(true);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  });

  it('signs in, creates a registry with the name checked as it is typed, and lists it with region, tier and storage', async () => {
    const taken = uniqueName('taken');
    await server.createRegistry(taken, 'professional');
    const { page } = await open();
    await signIn(page, server.token);
    expect(await page.evaluate<string[]>('Object.values(sessionStorage)')).toEqual([server.token]);
    await poll(() => page.url()).toBe(`${server.apiUrl}/registries`);
    await poll(() => page.getByRole('link', { name: taken }).isVisible()).toBe(true);

    await page.getByRole('link', { name: 'Create registry' }).click();
    await poll(() => heading(page, 'Create a registry').isVisible()).toBe(true);
    // Regions come from the API's options (this server offers fra1, ams3, nyc3).
    await poll(() => page.getByLabel('Region').locator('option').allTextContents()).toEqual(['fra1', 'ams3', 'nyc3']);
    const name = page.getByLabel('Registry name');

    await name.fill('Bad_Name');
    await poll(() => page.getByText(/^name: /).textContent()).toMatch(/^name: .*lowercase/);
    await name.fill(taken);
    await poll(() => page.getByText(`registry name "${taken}" is already taken`).isVisible()).toBe(true);
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    const wanted = uniqueName('web');
    await name.fill(wanted);
    await poll(() => page.getByText(`“${wanted}” is available.`).isVisible()).toBe(true);
    expect(await name.getAttribute('aria-invalid')).toBeNull();
    await page.getByLabel('Region').selectOption('ams3');
    await expectAccessible(page, 'the create-registry page');
    await screenshot(page, 'create-registry');
    await page.getByRole('button', { name: 'Create registry' }).click();

    await poll(() => heading(page, wanted).isVisible()).toBe(true);
    expect(page.url()).toBe(`${server.apiUrl}/registries/${wanted}`);
    const body = (await (await server.api(`/v2/registries/${wanted}`)).json()) as { registry: { region: string } };
    expect(body.registry.region).toBe('ams3');

    await page.getByRole('link', { name: 'Registries' }).first().click();
    await poll(() => heading(page, 'Registries').isVisible()).toBe(true);
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: wanted }) });
    await poll(() => row.textContent()).toContain('ams3');
    expect(await row.textContent()).toContain('Professional');
    expect(await row.textContent()).toContain('0 B');
    expect(await row.textContent()).toContain(`${server.registryHost}/${wanted}`);
    await poll(() => page.getByText(/of 100 GiB included storage used/).isVisible()).toBe(true);
    await expectAccessible(page, 'the registries page');
    await screenshot(page, 'registries');
  });

  it('shows a refusal of an under-scoped token next to the form and changes nothing', async () => {
    const readOnly = await createToken(server, { scopes: 'registry:read' });
    const { page } = await open();
    await signIn(page, readOnly);
    const before = await (await server.api('/v2/registries')).text();
    await page.goto('/create-registry');
    const name = page.getByLabel('Registry name');
    await name.fill(uniqueName('nope'));
    // validate-name needs registry:create: the API's refusal shows under the field.
    await poll(() => page.getByText(/this token lacks the registry:create scope/).first().isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Create registry' }).click();
    await poll(() => page.getByRole('alert').filter({ hasText: 'The registry was not created' }).isVisible()).toBe(true);
    expect(await (await server.api('/v2/registries')).text()).toBe(before);
  });

  it('deletes a registry only after its name is typed', async () => {
    const doomed = uniqueName('doomed');
    await server.createRegistry(doomed, 'professional');
    const { page } = await open();
    await signIn(page, server.token);
    await page.getByRole('link', { name: doomed }).click();
    await page.getByRole('link', { name: 'Settings' }).click();
    await poll(() => page.getByRole('heading', { name: 'Delete this registry' }).isVisible()).toBe(true);
    await expectAccessible(page, 'the registry settings page');
    await page.getByRole('button', { name: 'Delete registry' }).click();

    const dialog = page.getByRole('dialog', { name: `Delete registry ${doomed}?` });
    await poll(() => dialog.isVisible()).toBe(true);
    const confirm = dialog.getByRole('button', { name: 'Delete registry' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(`Type ${doomed} to confirm`).fill(doomed.slice(0, -1));
    expect(await confirm.isDisabled()).toBe(true);
    await expectAccessible(page, 'the delete-registry dialog');
    // Escape cancels: nothing is deleted.
    await page.keyboard.press('Escape');
    await poll(() => dialog.isVisible()).toBe(false);
    expect((await server.api(`/v2/registries/${doomed}`)).status).toBe(200);

    await page.getByRole('button', { name: 'Delete registry' }).click();
    await dialog.getByLabel(`Type ${doomed} to confirm`).fill(doomed);
    await confirm.click();
    await poll(() => heading(page, 'Registries').isVisible()).toBe(true);
    expect((await server.api(`/v2/registries/${doomed}`)).status).toBe(404);
    await poll(() => page.getByRole('region', { name: 'Your registries (table)' }).isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: doomed }).count()).toBe(0);
  });

  it('shows the subscription with its allowance and usage, and changes tier where eligible', async () => {
    // A team of its own on Basic with one registry holding two repositories: over Starter's one.
    const teamToken = await createTeam(server, uniqueName('team'));
    const registry = uniqueName('sub');
    const created = await server.api('/v2/registries', { method: 'POST', headers: { authorization: `Bearer ${teamToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: registry, subscription_tier_slug: 'basic' }) });
    expect(created.status).toBe(201);
    for (const repo of ['one', 'two']) await pushSmallImage(server, teamToken, `${registry}/${repo}`, 'v1');

    const { page } = await open();
    await signIn(page, teamToken);
    await page.getByRole('link', { name: 'Subscription', exact: true }).click();
    await poll(() => page.getByRole('heading', { name: 'Basic tier' }).isVisible()).toBe(true);
    await poll(() => page.getByText('2 repositories of 5 included').isVisible()).toBe(true);
    expect(await page.getByText(/of 5\.00 GiB included storage used/).isVisible()).toBe(true);
    expect(await page.getByRole('meter').count()).toBe(1);

    const starter = page.getByRole('radio', { name: /Starter/ });
    expect(await starter.isDisabled()).toBe(true);
    expect(await page.getByText('Not available: your team has more repositories than it includes.').isVisible()).toBe(true);
    expect(await page.getByRole('radio', { name: /Basic/ }).isChecked()).toBe(true);
    await expectAccessible(page, 'the subscription page');
    await screenshot(page, 'subscription');

    await page.getByRole('radio', { name: /Professional/ }).check();
    await page.getByRole('button', { name: 'Change tier' }).click();
    await poll(() => page.getByRole('main').getByText('Your team is now on the Professional tier.').isVisible()).toBe(true);
    await poll(() => page.getByRole('heading', { name: 'Professional tier' }).isVisible()).toBe(true);
    const sub = (await (await server.api('/v2/registries/subscription', { headers: { authorization: `Bearer ${teamToken}` } })).json()) as { subscription: { tier: { slug: string } } };
    expect(sub.subscription.tier.slug).toBe('professional');
  });

  it('signs out, forgetting the token, and sends the next visit to sign-in', async () => {
    const { page } = await open();
    await signIn(page, server.token);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await poll(() => heading(page, 'Sign in').isVisible()).toBe(true);
    expect(await page.getByText('You are signed out.', { exact: false }).isVisible()).toBe(true);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    await page.goto('/registries');
    await poll(() => heading(page, 'Sign in').isVisible()).toBe(true);
  });

  it('ends the session when the token is revoked while signed in', async () => {
    const token = await createToken(server);
    const { page } = await open();
    await signIn(page, token);
    // Let the page finish loading first: a request after the revocation would (rightly) end the session early.
    await page.waitForLoadState('networkidle');
    const revoke = await fetch(`${server.apiUrl}/v1/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
    expect(revoke.ok).toBe(true);
    await page.getByRole('link', { name: 'Subscription', exact: true }).click();
    await poll(() => page.getByText(/Your session ended: the API no longer accepts this token/).isVisible()).toBe(true);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    // Signing in again returns to where the person was going.
    await page.getByLabel('API token').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => heading(page, 'Subscription').isVisible()).toBe(true);
  });

  it('works with the keyboard alone: sign in, open a registry, reach its sections', async () => {
    const { page } = await open();
    await page.goto('/');
    await poll(() => heading(page, 'Sign in').isVisible()).toBe(true);
    // Skip link first, then the token field.
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.id')).toBe('token');
    await page.keyboard.type(server.token);
    await page.keyboard.press('Enter');
    await poll(() => heading(page, 'Registries').isVisible()).toBe(true);

    const target = (await (await server.api('/v2/registries')).json()) as { registries: { name: string }[] };
    const name = target.registries[0]!.name;
    await tabTo(page, (el) => el.tag === 'A' && el.text === name);
    await page.keyboard.press('Enter');
    await poll(() => heading(page, name).isVisible()).toBe(true);
    // After an in-app navigation the new page's heading has focus.
    await poll(() => page.evaluate<string>('document.activeElement?.tagName')).toBe('H1');
    await tabTo(page, (el) => el.tag === 'A' && el.text === 'Garbage collection');
    await page.keyboard.press('Enter');
    await poll(() => page.getByRole('heading', { level: 2, name: 'Garbage collection' }).isVisible()).toBe(true);
    await tabTo(page, (el) => el.tag === 'INPUT' && el.type === 'radio');
    await page.keyboard.press('ArrowDown');
    await poll(() => page.getByRole('radio', { name: 'Untagged manifests and unreferenced blobs' }).isChecked()).toBe(true);
    await tabTo(page, (el) => el.tag === 'BUTTON' && el.text === 'Start garbage collection');
    // Every focused element shows a visible focus indicator.
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
  });

  it('fits a phone’s width on every page of this flow', async () => {
    const { page } = await open(PHONE);
    await page.goto('/sign-in');
    await poll(() => heading(page, 'Sign in').isVisible()).toBe(true);
    await expectNoHorizontalScroll(page, 'sign-in');
    await signIn(page, server.token);
    await expectNoHorizontalScroll(page, 'registries');
    await expectAccessible(page, 'the registries page on a phone');
    await screenshot(page, 'registries-phone');
    for (const [path, title] of [
      ['/create-registry', 'Create a registry'],
      ['/subscription', 'Subscription'],
    ] as const) {
      await page.goto(path);
      await poll(() => heading(page, title).isVisible()).toBe(true);
      await page.waitForLoadState('networkidle');
      await expectNoHorizontalScroll(page, path);
    }
  });

  it('says so when a page does not exist, and keeps its contrast in dark mode', async () => {
    const { page } = await open(undefined, 'dark');
    await signIn(page, server.token);
    await expectAccessible(page, 'the registries page in dark mode');
    await page.goto('/registries/x/nonsense');
    await poll(() => heading(page, 'Page not found').isVisible()).toBe(true);
    await expectAccessible(page, 'the not-found page');
    await page.getByRole('link', { name: 'Go to your registries' }).click();
    await poll(() => heading(page, 'Registries').isVisible()).toBe(true);
  });
});

/** Tabs forward until the focused element matches (at most 60 presses). */
async function tabTo(page: Page, match: (el: { tag: string; text: string; type: string }) => boolean): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const el = await page.evaluate<{ tag: string; text: string; type: string }>(
      "({ tag: document.activeElement?.tagName ?? '', text: document.activeElement?.textContent?.trim() ?? '', type: document.activeElement?.type ?? '' })",
    );
    if (match(el)) return;
  }
  throw new Error('the element was not reached with Tab');
}
