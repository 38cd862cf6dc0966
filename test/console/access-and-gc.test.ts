/**
 * The web console's access and garbage collection pages in Chromium against a real Berth:
 * downloaded docker credentials (read-only, read-write, expiring) used by skopeo, the
 * Kubernetes Secret doctl would print, the API's refusal of a bad expiry shown at the field;
 * a garbage collection started, watched live to its end (blobs deleted and bytes freed as the
 * API reports them), cancelled while it runs, and refused while another is active.
 *
 * The server collects in DigitalOcean's read-only mode with 10-second write tokens, so a run
 * spends a few seconds "waiting for write JWTs to expire": long enough to watch and cancel.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Download, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { expectFailure, expectSuccess, skopeo, SKOPEO_TOOLS } from '../support/clients.js';
import { buildImage, IMAGE_TOOLS, type SingleImage } from '../support/images.js';
import { startServer, uniqueName, type DockerConfig, type TestServer } from '../support/server.js';
import { requireTools } from '../support/tools.js';
import { formatBytes } from '../../web/src/format.js';
import { pushSmallImage } from './images.js';
import { BROWSER_TOOLS, CONSOLE_SERVER_ARGS, expectAccessible, expectNoHorizontalScroll, launchBrowser, openConsole, PHONE, poll, screenshot, signIn, type ConsolePage } from './support.js';

const skip = requireTools([...BROWSER_TOOLS, ...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

interface Run {
  uuid: string;
  status: string;
  blobs_deleted: number;
  freed_bytes: number;
}

describe.skipIf(skip)('the web console: access and garbage collection', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let registry: string;
  let image: SingleImage;
  const opened: ConsolePage[] = [];

  const open = async (path: string, viewport?: { width: number; height: number }) => {
    const c = await openConsole(browser, server, viewport);
    opened.push(c);
    await signIn(c.page, server.token);
    await c.page.goto(path);
    return c;
  };
  const downloaded = async (page: Page, button: string): Promise<{ download: Download; text: string }> => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
    return { download, text: await readFile((await download.path())!, 'utf8') };
  };
  const saveAuth = async (text: string) => server.writeAuthFile(JSON.parse(text) as DockerConfig);
  const runs = async () => ((await (await server.api(`/v2/registries/${registry}/garbage-collections`)).json()) as { garbage_collections: Run[] }).garbage_collections;

  beforeAll(async () => {
    [server, browser, image] = await Promise.all([
      startServer({ args: [...CONSOLE_SERVER_ARGS, '--gc-mode', 'read-only', '--write-token-ttl', '10s', '--gc-grace', '1s'] }),
      launchBrowser(),
      buildImage({ tag: 'v1' }),
    ]);
    registry = uniqueName('access');
    await server.createRegistry(registry);
    await pushSmallImage(server, server.token, `${registry}/app`, 'v1');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    for (const c of opened) expect(c.problems).toEqual([]);
  });

  it('downloads a read-only config.json that pulls but cannot push, and says how to log in', async () => {
    const { page } = await open(`/registries/${registry}/access`);
    await poll(() => page.getByRole('heading', { name: 'Docker credentials' }).isVisible()).toBe(true);
    expect(await page.getByRole('radio', { name: 'Read only (pull)' }).isChecked()).toBe(true);
    await expectAccessible(page, 'the access page');
    await screenshot(page, 'access');

    const { download, text } = await downloaded(page, 'Download config.json');
    expect(download.suggestedFilename()).toBe('config.json');
    const config = JSON.parse(text) as DockerConfig;
    expect(Object.keys(config.auths)).toEqual([server.registryHost]);
    await poll(() => page.getByText('Downloaded config.json with a read-only credential that never expires.').isVisible()).toBe(true);

    const authfile = await saveAuth(text);
    expectSuccess(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, `docker://${server.registryHost}/${registry}/app:v1`]), server);
    expectFailure(await skopeo(['copy', '--dest-tls-verify=false', '--dest-authfile', authfile, image.ref, `docker://${server.registryHost}/${registry}/denied:v1`]));

    const login = await page.getByRole('region', { name: 'Log in with docker or podman' }).locator('code').allTextContents();
    expect(login).toContain(`echo "$BERTH_TOKEN" | docker login ${server.registryHost} --username berth --password-stdin`);
    expect(login).toContain(`echo "$BERTH_TOKEN" | podman login ${server.registryHost} --username berth --password-stdin`);
  });

  it('downloads a read-write credential that pushes, and one that expires when asked', async () => {
    const { page } = await open(`/registries/${registry}/access`);
    await page.getByRole('radio', { name: 'Read and write (push and pull)' }).check();
    await page.getByLabel('Expiry', { exact: true }).selectOption({ label: '1 hour' });
    const readWrite = await downloaded(page, 'Download config.json');
    await poll(() => page.getByText('Downloaded config.json with a read-write credential that expires in 1 hour.').isVisible()).toBe(true);
    const authfile = await saveAuth(readWrite.text);
    expectSuccess(await skopeo(['copy', '--dest-tls-verify=false', '--dest-authfile', authfile, image.ref, `docker://${server.registryHost}/${registry}/pushed:v1`]), server);

    await page.getByLabel('Expiry', { exact: true }).selectOption({ label: 'Custom…' });
    await page.getByLabel('Seconds until it expires').fill('2');
    const shortLived = await saveAuth((await downloaded(page, 'Download config.json')).text);
    await new Promise((r) => setTimeout(r, 2500));
    expectFailure(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', shortLived, `docker://${server.registryHost}/${registry}/app:v1`]));
  });

  it('shows the API’s refusal of a bad expiry at the field and downloads nothing', async () => {
    const { page } = await open(`/registries/${registry}/access`);
    let downloads = 0;
    page.on('download', () => downloads++);
    await page.getByLabel('Expiry', { exact: true }).selectOption({ label: 'Custom…' });
    const field = page.getByLabel('Seconds until it expires');
    await field.fill('-5');
    await page.getByRole('button', { name: 'Download config.json' }).click();
    await poll(() => page.getByText(/^expiry_seconds: must be >= 0/).isVisible()).toBe(true);
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    // The message describes the field, so a screen reader reads them together.
    const describedBy = (await field.getAttribute('aria-describedby'))!;
    expect(await page.locator(`[id="${describedBy}"]`).textContent()).toMatch(/^expiry_seconds: must be >= 0/);
    await field.fill('soon');
    await page.getByRole('button', { name: 'Download config.json' }).click();
    await poll(() => page.getByText(/^expiry_seconds: must be integer/).isVisible()).toBe(true);
    expect(downloads).toBe(0);
    await expectAccessible(page, 'the access page with an error');
  });

  it('downloads the Kubernetes Secret doctl would print', async () => {
    const { page } = await open(`/registries/${registry}/access`);
    expect(await page.getByLabel('Secret name').inputValue()).toBe(`registry-${registry}`);
    expect(await page.getByLabel('Namespace').inputValue()).toBe('kube-system');
    const { download, text } = await downloaded(page, 'Download Kubernetes Secret');
    expect(download.suggestedFilename()).toBe(`registry-${registry}.yaml`);
    const secret = parse(text) as { apiVersion: string; kind: string; type: string; metadata: Record<string, unknown>; data: Record<string, string> };
    expect(secret).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/dockerconfigjson',
      metadata: { name: `registry-${registry}`, namespace: 'kube-system', annotations: { 'digitalocean.com/dosecret-identifier': `registry-${registry}` } },
    });
    const config = JSON.parse(Buffer.from(secret.data['.dockerconfigjson']!, 'base64').toString('utf8')) as DockerConfig;
    const authfile = await server.writeAuthFile(config);
    expectSuccess(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, `docker://${server.registryHost}/${registry}/app:v1`]), server);

    // Another namespace: no operator annotation, as doctl does it.
    await page.getByLabel('Namespace').fill('apps');
    const other = parse((await downloaded(page, 'Download Kubernetes Secret')).text) as { metadata: Record<string, unknown> };
    expect(other.metadata).toEqual({ creationTimestamp: null, name: `registry-${registry}`, namespace: 'apps' });
  });

  it('starts a garbage collection, shows its status live to the end, and lists it with what it freed', async () => {
    // Garbage to collect: an image whose manifest is deleted leaves its blobs unreferenced.
    await pushSmallImage(server, server.token, `${registry}/scratch`, 'v1', 64 * 1024);
    const digest = ((await (await server.api(`/v2/registries/${registry}/repositories/scratch/digests`)).json()) as { manifests: { digest: string }[] }).manifests[0]!.digest;
    expect((await server.api(`/v2/registries/${registry}/repositories/scratch/digests/${digest}`, { method: 'DELETE' })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s grace period

    const { page } = await open(`/registries/${registry}/garbage-collection`);
    await poll(() => page.getByText('No garbage collection has run on this registry yet.').isVisible()).toBe(true);
    await expectAccessible(page, 'the garbage collection page');
    await page.getByRole('radio', { name: 'Untagged manifests and unreferenced blobs' }).check();
    await page.getByRole('button', { name: 'Start garbage collection' }).click();

    const running = page.getByRole('heading', { name: 'Running now' });
    await poll(() => running.isVisible()).toBe(true);
    await poll(() => page.locator('.gc-status').textContent()).toBe('waiting for write JWTs to expire');
    await expectAccessible(page, 'the garbage collection page while a run is active');
    await screenshot(page, 'garbage-collection');

    // No reload: the page follows the run to its end.
    const outcome = page.getByRole('main').getByText(/^Garbage collection succeeded: /);
    await poll(() => outcome.isVisible(), { timeout: 30_000 }).toBe(true);
    const [run] = await runs();
    expect(run!.status).toBe('succeeded');
    expect(run!.blobs_deleted).toBeGreaterThan(0);
    expect(run!.freed_bytes).toBeGreaterThan(64 * 1024);
    const freed = formatBytes(run!.freed_bytes);
    expect(await outcome.textContent()).toBe(`Garbage collection succeeded: ${run!.blobs_deleted} blobs deleted, ${freed} freed.`);
    const row = page.getByRole('region', { name: 'Past garbage collections (table)' }).getByRole('row').nth(1);
    await poll(() => row.getByRole('cell').allTextContents()).toEqual(['untagged manifests and unreferenced blobs', 'succeeded', String(run!.blobs_deleted), freed, expect.any(String)]);
    expect(await page.getByRole('button', { name: 'Start garbage collection' }).isVisible()).toBe(true);
  });

  it('cancels a running garbage collection', async () => {
    const { page } = await open(`/registries/${registry}/garbage-collection`);
    await page.getByRole('button', { name: 'Start garbage collection' }).click();
    await poll(() => page.getByRole('button', { name: 'Cancel garbage collection' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Cancel garbage collection' }).click();
    await poll(() => page.getByRole('main').getByText(/^Garbage collection cancelled: 0 blobs deleted, 0 B freed\.$/).isVisible(), { timeout: 30_000 }).toBe(true);
    const [run] = await runs();
    expect(run!.status).toBe('cancelled');
    await poll(() => page.getByRole('region', { name: 'Past garbage collections (table)' }).getByRole('row').nth(1).textContent()).toContain('cancelled');
  });

  it('shows the API’s refusal to start a second run, and keeps the page as it was', async () => {
    const { page } = await open(`/registries/${registry}/garbage-collection`);
    await poll(() => page.getByRole('button', { name: 'Start garbage collection' }).isVisible()).toBe(true);
    // The history's rows without their relative times ("5 seconds ago" moves on by itself).
    const history = () =>
      page
        .getByRole('region', { name: 'Past garbage collections (table)' })
        .getByRole('row')
        .evaluateAll((rows) => rows.map((row) => [...row.children].slice(0, -1).map((cell) => cell.textContent)));
    // The button shows before the history has loaded; wait for the rows of earlier tests' runs.
    await poll(async () => (await history()).length).toBeGreaterThan(1);
    const historyBefore = await history();
    // Another client starts one behind the console's back.
    const started = await server.api(`/v2/registries/${registry}/garbage-collection`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(started.status).toBe(201);
    const other = ((await started.json()) as { garbage_collection: Run }).garbage_collection;
    await page.getByRole('button', { name: 'Start garbage collection' }).click();
    await poll(() => page.getByRole('alert').textContent()).toContain(`garbage collection ${other.uuid} is already active`);
    expect(await history()).toEqual(historyBefore);
    const cancel = await server.api(`/v2/registries/${registry}/garbage-collection/${other.uuid}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"cancel":true}' });
    expect(cancel.status).toBe(200);
  });

  it('fits a phone’s width', async () => {
    for (const tab of ['access', 'garbage-collection']) {
      const { page } = await open(`/registries/${registry}/${tab}`, PHONE);
      await poll(() => page.getByRole('heading', { level: 1, name: registry }).isVisible()).toBe(true);
      await page.waitForLoadState('networkidle');
      await expectNoHorizontalScroll(page, tab);
    }
  });
});
