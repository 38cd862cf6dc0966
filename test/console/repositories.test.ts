/**
 * The web console's repositories in Chromium against a real Berth holding real images: a
 * multi-architecture index built with umoci and copied with `skopeo copy --all`, an SBOM and
 * a signature pushed as OCI 1.1 referrers of it, a nested repository, and enough repositories
 * to page through with the API's page tokens. Search, sorting, the repository page (platforms,
 * sizes, layers, referrers, pull commands that work) and deletions with confirmation.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, skopeo, SKOPEO_TOOLS } from '../support/clients.js';
import { buildMultiArchImage, IMAGE_TOOLS, type MultiArchImage } from '../support/images.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { requireTools } from '../support/tools.js';
import { registryFetch } from '../support/registry.js';
import { OCI_MANIFEST, pushReferrer, pushSmallImage, pushToken, type Descriptor } from './images.js';
import {
  BROWSER_TOOLS,
  CONSOLE_SERVER_ARGS,
  expectAccessible,
  expectNoHorizontalScroll,
  launchBrowser,
  openConsole,
  PHONE,
  poll,
  pushLayout,
  screenshot,
  signIn,
  type ConsolePage,
} from './support.js';

const skip = requireTools([...BROWSER_TOOLS, ...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

interface ManifestBody {
  digest: string;
  tags: string[];
  compressed_size_bytes: number;
  size_bytes: number;
  manifests: { digest: string; platform: { os: string; architecture: string }; compressed_size_bytes: number; size_bytes: number }[];
  referrers: { digest: string; artifact_type: string }[];
  blobs: { digest: string }[];
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SPDX = 'application/spdx+json';
const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** More than one page of the console's 20 rows. */
const EXTRA_REPOSITORIES = 21;
const MANY_TAGS = 22;

describe.skipIf(skip)('the web console: repositories', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let registry: string;
  let authfile: string;
  let image: MultiArchImage;
  let index: Descriptor;
  let sbom: Descriptor;
  let signature: Descriptor;
  const opened: ConsolePage[] = [];

  const open = async (viewport?: { width: number; height: number }) => {
    const c = await openConsole(browser, server, viewport);
    opened.push(c);
    await signIn(c.page, server.token);
    return c;
  };
  const manifestsOf = async (repository: string) =>
    ((await (await server.api(`/v2/registries/${registry}/repositories/${encodeURIComponent(repository)}/digests?per_page=200`)).json()) as { manifests: ManifestBody[] }).manifests;
  const tagsOf = async (repository: string) =>
    ((await (await server.api(`/v2/registries/${registry}/repositories/${encodeURIComponent(repository)}/tags?per_page=200`)).json()) as { tags: { tag: string }[] }).tags.map((t) => t.tag);
  const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name });
  const gotoRepositories = async (page: Page) => {
    await page.goto(`/registries/${registry}`);
    await poll(() => page.getByRole('table', { name: /Repositories/ }).or(page.getByRole('region', { name: 'Repositories (table)' })).first().isVisible()).toBe(true);
  };

  beforeAll(async () => {
    [server, browser, image] = await Promise.all([startServer({ args: CONSOLE_SERVER_ARGS }), launchBrowser(), buildMultiArchImage({ tag: 'v1' })]);
    registry = uniqueName('console');
    await server.createRegistry(registry);
    authfile = await server.writeAuthFile(await server.dockerCredentials(registry, { readWrite: true }));
    await pushLayout(server, authfile, image.ref, `${registry}/shop/frontend:v1`, true);
    index = { mediaType: OCI_INDEX, digest: image.digest, size: image.manifest.length };
    sbom = await pushReferrer(server, server.token, `${registry}/shop/frontend`, index, SPDX, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'frontend' }));
    signature = await pushReferrer(server, server.token, `${registry}/shop/frontend`, index, COSIGN, 'signature');
    await pushSmallImage(server, server.token, `${registry}/api`, 'v1');
    const latest = await pushSmallImage(server, server.token, `${registry}/api`, 'latest');
    expect(latest.mediaType).toBe(OCI_MANIFEST);
    // One manifest under more tags than a page shows.
    const tagged = await pushSmallImage(server, server.token, `${registry}/many-tags`, 't-00');
    const jwt = await pushToken(server, server.token, `${registry}/many-tags`);
    const bytes = await (await registryFetch(server, jwt, `/v2/${registry}/many-tags/manifests/${tagged.digest}`, { headers: { accept: OCI_MANIFEST } })).arrayBuffer();
    for (let i = 1; i < MANY_TAGS; i++) {
      const put = await registryFetch(server, jwt, `/v2/${registry}/many-tags/manifests/t-${String(i).padStart(2, '0')}`, { method: 'PUT', body: bytes, headers: { 'content-type': OCI_MANIFEST } });
      expect(put.status).toBe(201);
    }
    for (let i = 0; i < EXTRA_REPOSITORIES; i++) await pushSmallImage(server, server.token, `${registry}/svc-${String(i).padStart(2, '0')}`, 'v1', 512);
    // Uncompressed sizes are measured in the background, within seconds of a push.
    for (let waited = 0; ((await manifestsOf('shop/frontend')).find((m) => m.digest === image.digest)?.size_bytes ?? 0) === 0; waited += 200) {
      if (waited > 30_000) throw new Error('uncompressed sizes were not measured within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    for (const c of opened) expect(c.problems).toEqual([]);
  });

  it('lists repositories 20 at a time, paging with the API’s page tokens', async () => {
    const { page, requests } = await open();
    await gotoRepositories(page);
    const total = 3 + EXTRA_REPOSITORIES;
    await poll(() => page.getByText(`${total} repositories`).isVisible()).toBe(true);
    const rows = page.getByRole('region', { name: 'Repositories (table)' }).getByRole('row');
    expect(await rows.count()).toBe(1 + 20);
    expect(await page.getByText('Page 1 of 2').isVisible()).toBe(true);
    await expectAccessible(page, 'the repositories list');
    await screenshot(page, 'repositories');

    await page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => page.getByText('Page 2 of 2').isVisible()).toBe(true);
    expect(await rows.count()).toBe(1 + total - 20);
    // The names after the first page, in order: the console asked for them with the token.
    expect(requests.some((url) => url.includes('/repositoriesV2?') && url.includes('page_token='))).toBe(true);
    expect(await rows.nth(total - 20).getByRole('link').textContent()).toBe('svc-20');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => page.getByText('Page 1 of 2').isVisible()).toBe(true);
  });

  it('searches and sorts every repository, and links nested ones by their full name', async () => {
    const { page } = await open();
    await gotoRepositories(page);
    await page.getByLabel('Search repositories').fill('front');
    await poll(() => page.getByText('1 repository match “front”').isVisible()).toBe(true);
    const table = page.getByRole('region', { name: 'Repositories (table)' });
    expect(await table.getByRole('link').allTextContents()).toEqual(['shop/frontend']);
    await page.getByLabel('Search repositories').fill('');

    // Sorting by tag count, most first: many-tags, then api with two.
    await table.getByRole('button', { name: 'Tags' }).click();
    await poll(() => table.getByRole('columnheader', { name: 'Tags' }).getAttribute('aria-sort')).toBe('descending');
    expect(await table.getByRole('row').nth(1).getByRole('link').textContent()).toBe('many-tags');
    expect(await table.getByRole('row').nth(2).getByRole('link').textContent()).toBe('api');
    await table.getByRole('button', { name: 'Tags' }).click();
    await poll(() => table.getByRole('columnheader', { name: 'Tags' }).getAttribute('aria-sort')).toBe('ascending');
    await table.getByRole('button', { name: 'Manifests' }).click();
    // shop/frontend holds the index, two platform images and two referrers.
    await poll(() => table.getByRole('row').nth(1).getByRole('link').textContent()).toBe('shop/frontend');
    expect(await table.getByRole('row').nth(1).textContent()).toContain('5');
    // Size is what a repository stores: the two-platform image is by far the largest.
    await table.getByRole('button', { name: 'Size' }).click();
    await poll(() => table.getByRole('columnheader', { name: 'Size' }).getAttribute('aria-sort')).toBe('descending');
    expect(await table.getByRole('row').nth(1).getByRole('link').textContent()).toBe('shop/frontend');
    await expectAccessible(page, 'the sorted repositories list');

    await table.getByRole('link', { name: 'shop/frontend' }).click();
    await poll(() => heading(page, 'shop/frontend').isVisible()).toBe(true);
    expect(page.url()).toBe(`${server.apiUrl}/registries/${registry}/repositories/shop/frontend`);
  });

  it('shows the index with its platforms, sizes, layers and referrers, and pull commands that work', async () => {
    const { page } = await open();
    await page.goto(`/registries/${registry}/repositories/shop/frontend`);
    await poll(() => heading(page, 'shop/frontend').isVisible()).toBe(true);
    const body = (await manifestsOf('shop/frontend')).find((m) => m.digest === image.digest)!;

    const indexNode = page.getByRole('article', { name: `Multi-architecture index ${image.digest.slice(0, 19)}` });
    await poll(() => indexNode.isVisible()).toBe(true);
    const indexText = await indexNode.textContent();
    expect(indexText).toContain(image.digest);
    expect(indexText).toContain('v1');
    expect(indexText).toContain('2 platform manifests');
    expect(indexText).toContain('2 referrers');
    // Sizes as the API reports them (sum over the platforms), in binary units.
    expect(body.manifests.map((c) => `${c.platform.os}/${c.platform.architecture}`)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const platform of image.platforms) {
      const node = indexNode.getByRole('article', { name: `linux/${platform.architecture} ${platform.digest.slice(0, 19)}` });
      expect(await node.isVisible()).toBe(true);
      const child = body.manifests.find((c) => c.digest === platform.digest)!;
      expect(child.compressed_size_bytes).toBeGreaterThan(0);
      expect(child.size_bytes).toBeGreaterThan(child.compressed_size_bytes);
    }
    expect(await indexNode.getByRole('article', { name: `SBOM ${sbom.digest.slice(0, 19)}` }).isVisible()).toBe(true);
    expect(await indexNode.getByRole('article', { name: `Signature ${signature.digest.slice(0, 19)}` }).isVisible()).toBe(true);
    expect(body.referrers.map((r) => r.artifact_type).sort()).toEqual([COSIGN, SPDX].sort());

    // The layers of a platform image, with both sizes.
    const amd64 = indexNode.getByRole('article', { name: new RegExp(`^linux/amd64 `) });
    await amd64.getByText(/^Config and \d+ layers?$/).click();
    const layers = amd64.getByRole('region', { name: /Config and layers of/ });
    await poll(() => layers.isVisible()).toBe(true);
    const amd64Body = (await manifestsOf('shop/frontend')).find((m) => m.digest === image.platforms[0]!.digest)!;
    expect(await layers.getByRole('row').count()).toBe(1 + amd64Body.blobs.length);
    expect(await layers.getByRole('rowheader').allTextContents()).toEqual(['Config', ...amd64Body.blobs.slice(1).map((_, i) => `Layer ${i + 1}`)]);
    await expectAccessible(page, 'the repository page');
    await screenshot(page, 'repository');

    // The pull commands name the registry host; the reference they give really resolves.
    const pull = page.getByRole('region', { name: 'Pull' });
    const commands = await pull.locator('code').allTextContents();
    const reference = `${server.registryHost}/${registry}/shop/frontend:v1`;
    expect(commands).toEqual([`docker pull ${reference}`, `podman pull ${reference}`]);
    const inspected = expectSuccess(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, `docker://${reference}`]), server);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ mediaType: OCI_INDEX });
    await page.getByRole('button', { name: 'Copy docker pull command' }).click();
    await poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(`docker pull ${reference}`);
  });

  it('pages through the tags of a repository', async () => {
    const { page } = await open();
    await page.goto(`/registries/${registry}/repositories/many-tags`);
    await poll(() => heading(page, 'many-tags').isVisible()).toBe(true);
    const tags = page.getByRole('region', { name: 'Tags (table)' });
    await poll(() => tags.getByRole('rowheader').count()).toBe(20);
    expect(await page.getByRole('navigation', { name: 'Tags pages' }).textContent()).toContain('Page 1 of 2');
    await page.getByRole('navigation', { name: 'Tags pages' }).getByRole('button', { name: 'Next page' }).click();
    await poll(() => tags.getByRole('rowheader').count()).toBe(MANY_TAGS - 20);
    expect(await page.getByRole('navigation', { name: 'Tags pages' }).textContent()).toContain('Page 2 of 2');
    const all = (await tagsOf('many-tags')).slice(20);
    expect(await tags.getByRole('rowheader').allTextContents()).toEqual(all);
  });

  it('deletes a tag and a manifest after confirming, and reports a refusal without changing the page', async () => {
    const { page } = await open();
    await page.goto(`/registries/${registry}/repositories/api`);
    await poll(() => heading(page, 'api').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Delete tag latest' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete tag latest?' });
    await poll(() => dialog.isVisible()).toBe(true);
    await expectAccessible(page, 'the delete-tag dialog');
    await dialog.getByRole('button', { name: 'Delete tag' }).click();
    await poll(() => dialog.isVisible()).toBe(false);
    await poll(() => page.getByRole('button', { name: 'Delete tag latest' }).count()).toBe(0);
    expect(await tagsOf('api')).toEqual(['v1']);
    expect(await page.getByRole('button', { name: 'Delete tag v1' }).isVisible()).toBe(true);

    // The signature, deleted from under the open page: the console's delete is refused (404)
    // and says so; the page keeps showing what it showed.
    await page.goto(`/registries/${registry}/repositories/shop/frontend`);
    const signatureNode = page.getByRole('article', { name: `Signature ${signature.digest.slice(0, 19)}` });
    await poll(() => signatureNode.isVisible()).toBe(true);
    expect((await server.api(`/v2/registries/${registry}/repositories/shop%2Ffrontend/digests/${signature.digest}`, { method: 'DELETE' })).status).toBe(204);
    await signatureNode.getByRole('button', { name: /^Delete manifest/ }).click();
    const confirm = page.getByRole('dialog', { name: /^Delete manifest/ });
    await confirm.getByRole('button', { name: 'Delete manifest' }).click();
    await poll(() => confirm.getByRole('alert').textContent()).toContain('is not in this repository');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await signatureNode.isVisible()).toBe(true);

    // The SBOM, through the console.
    const sbomNode = page.getByRole('article', { name: `SBOM ${sbom.digest.slice(0, 19)}` });
    await sbomNode.getByRole('button', { name: /^Delete manifest/ }).click();
    await confirm.getByRole('button', { name: 'Delete manifest' }).click();
    await poll(() => sbomNode.count()).toBe(0);
    // The reload also dropped the signature deleted behind the console's back.
    expect(await signatureNode.count()).toBe(0);
    const remaining = await manifestsOf('shop/frontend');
    expect(remaining.some((m) => m.digest === sbom.digest)).toBe(false);
    expect(remaining.find((m) => m.digest === image.digest)!.referrers).toEqual([]);
  });

  it('fits a phone’s width', async () => {
    const { page } = await open(PHONE);
    await gotoRepositories(page);
    await expectNoHorizontalScroll(page, 'the repositories list');
    await page.goto(`/registries/${registry}/repositories/shop/frontend`);
    await poll(() => heading(page, 'shop/frontend').isVisible()).toBe(true);
    await page.waitForLoadState('networkidle');
    await expectNoHorizontalScroll(page, 'the repository page');
    await expectAccessible(page, 'the repository page on a phone');
    await screenshot(page, 'repository-phone');
  });

  it('deletes a whole repository after its name is typed', async () => {
    const { page } = await open();
    await page.goto(`/registries/${registry}/repositories/svc-00`);
    await poll(() => heading(page, 'svc-00').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Delete repository' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete repository svc-00?' });
    await dialog.getByLabel('Type svc-00 to confirm').fill('svc-00');
    await dialog.getByRole('button', { name: 'Delete repository' }).click();
    await poll(() => heading(page, registry).isVisible()).toBe(true);
    expect((await server.api(`/v2/registries/${registry}/repositories/svc-00/tags`)).status).toBe(404);
  });
});
