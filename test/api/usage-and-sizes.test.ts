/**
 * Storage usage and sizes against what was pushed: real gzip layers (node:zlib) so both the
 * compressed and the uncompressed sizes are known; registry usage is the distinct bytes linked
 * in it (config, layers, manifests; a blob shared by repositories counted once per registry),
 * the team total their sum; tags, digests and repositoriesV2 report the manifest's sizes and
 * counts; deletions of a tag, a manifest and a repository are reflected in the numbers and
 * seen by the registry listener at once.
 *
 * The harness runs no background jobs: usage refreshes through the usage service's own
 * debounce (the test polls), uncompressed sizes are filled by calling the layer-size job's
 * `fillUncompressedSizes` explicitly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillUncompressedSizes } from '../../src/jobs/layer-sizes.js';
import { violations } from '../do-contract.js';
import { startHarness, type Harness } from '../harness.js';
import { distinctBytes, eventually, gzipLayer, LAYER_GZIP, OCI_CONFIG, OCI_MANIFEST, pushGzipImage, sleep, type PushedImage } from './support.js';

interface RegistryBody {
  name: string;
  storage_usage_bytes: number;
  storage_usage_bytes_updated_at: string;
}
interface TagBody {
  tag: string;
  repository: string;
  registry_name: string;
  manifest_digest: string;
  compressed_size_bytes: number;
  size_bytes: number;
  updated_at: string;
}
interface ManifestBody {
  digest: string;
  repository: string;
  registry_name: string;
  compressed_size_bytes: number;
  size_bytes: number;
  updated_at: string;
  tags: string[];
  blobs: { digest: string; compressed_size_bytes: number }[];
  manifests?: unknown[];
}
interface RepositoryV2Body {
  name: string;
  registry_name: string;
  tag_count: number;
  manifest_count: number;
  latest_manifest?: ManifestBody;
}

let h: Harness;
let jwt: string;
const L1 = gzipLayer(60_000);
const L2 = gzipLayer(30_000);
const L3 = gzipLayer(100_000);
let imgA: PushedImage;
let imgB: PushedImage;
let imgC: PushedImage;
let pushedAt: number;

async function usageOf(name: string): Promise<number> {
  const res = await h.api(`/v2/registries/${name}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { registry: RegistryBody };
  expect(violations('registries_get', 200, body)).toEqual([]);
  return body.registry.storage_usage_bytes;
}

async function teamTotal(): Promise<{ total: number; registries: Record<string, number> }> {
  const body = (await (await h.api('/v2/registries')).json()) as { registries: RegistryBody[]; total_storage_usage_bytes: number };
  expect(violations('registries_list', 200, body)).toEqual([]);
  return { total: body.total_storage_usage_bytes, registries: Object.fromEntries(body.registries.map((r) => [r.name, r.storage_usage_bytes])) };
}

async function list<T>(path: string, key: string, operationId: string): Promise<T[]> {
  const res = await h.api(path);
  expect(res.status, path).toBe(200);
  const body = (await res.json()) as Record<string, unknown>;
  expect(violations(operationId, 200, body), path).toEqual([]);
  return body[key] as T[];
}

const compressed = (img: PushedImage) => img.config.size + img.layers.reduce((s, l) => s + l.size, 0);
const uncompressed = (img: PushedImage) => img.config.uncompressed + img.layers.reduce((s, l) => s + l.uncompressed, 0);
// DigitalOcean's blob fields, then Berth's extensions: the media type and the uncompressed size.
const blobsOf = (img: PushedImage) =>
  [img.config, ...img.layers].map((b, i) => ({ digest: b.digest, compressed_size_bytes: b.size, media_type: i === 0 ? OCI_CONFIG : LAYER_GZIP, size_bytes: b.uncompressed }));
/** Berth's manifest extensions for a plain image manifest that nothing refers to (artifact type as the referrers API reports it). */
const imageExtensions = { media_type: OCI_MANIFEST, artifact_type: OCI_CONFIG, manifests: [], referrers: [] };

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  await h.createRegistry('usage-a');
  await h.createRegistry('usage-b');
  jwt = await h.jwt(h.token, 'repository:usage-a/app:pull,push', 'repository:usage-a/other:pull,push', 'repository:usage-b/app:pull,push');
  pushedAt = Date.now();
  imgA = await pushGzipImage(h, jwt, 'usage-a/app', 'v1', [L1, L2]);
  await sleep(3);
  imgB = await pushGzipImage(h, jwt, 'usage-a/other', 'v1', [L1, L3]);
  await sleep(3);
  imgC = await pushGzipImage(h, jwt, 'usage-b/app', 'latest', [L1]);
});
afterAll(() => h?.close());

describe('storage usage after pushes', () => {
  it('each registry counts its distinct bytes (a blob shared by two repositories once); the team total is the sum', async () => {
    // The layers really are compressed, so compressed and uncompressed sizes differ.
    expect(L1.bytes.length).toBeLessThan(L1.uncompressed);
    const expectedA = distinctBytes(imgA, imgB);
    expect(expectedA).toBe(imgA.manifestSize + imgB.manifestSize + imgA.config.size + imgB.config.size + L1.bytes.length + L2.bytes.length + L3.bytes.length);
    const expectedB = distinctBytes(imgC);
    expect(await eventually(() => usageOf('usage-a'), expectedA)).toBe(expectedA);
    expect(await eventually(() => usageOf('usage-b'), expectedB)).toBe(expectedB);
    // L1 lives in both registries and is counted in each.
    expect(await teamTotal()).toEqual({ total: expectedA + expectedB, registries: { 'usage-a': expectedA, 'usage-b': expectedB } });
    const body = (await (await h.api('/v2/registries/usage-a')).json()) as { registry: RegistryBody };
    expect(Date.parse(body.registry.storage_usage_bytes_updated_at)).toBeGreaterThanOrEqual(pushedAt);
    expect(Date.parse(body.registry.storage_usage_bytes_updated_at)).toBeLessThanOrEqual(Date.now());
  });
});

describe('sizes of tags, manifests and repositories', () => {
  it('compressed_size_bytes is the sum of the manifest’s blobs; size_bytes appears once measured', async () => {
    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const op = prefix === '/v2/registries' ? 'registries' : 'registry';
      const [tag] = await list<TagBody>(`${prefix}/usage-a/repositories/app/tags`, 'tags', `${op}_list_repositoryTags`);
      expect(tag).toMatchObject({ tag: 'v1', repository: 'app', registry_name: 'usage-a', manifest_digest: imgA.manifest, compressed_size_bytes: compressed(imgA), size_bytes: 0 });
      expect(tag!.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }

    // What the layer-size job does in `berth serve`, run here by hand.
    const filled = await fillUncompressedSizes({ db: h.ctx.db, driver: h.ctx.driver, logger: h.ctx.logger });
    // Every distinct blob (configs, layers and the manifests' own bytes) got a size.
    expect(filled).toBe(3 + 3 + 3);
    expect(await fillUncompressedSizes({ db: h.ctx.db, driver: h.ctx.driver, logger: h.ctx.logger })).toBe(0);

    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const op = prefix === '/v2/registries' ? 'registries' : 'registry';
      const tags = await list<TagBody>(`${prefix}/usage-a/repositories/app/tags`, 'tags', `${op}_list_repositoryTags`);
      expect(tags.map((t) => [t.tag, t.compressed_size_bytes, t.size_bytes])).toEqual([['v1', compressed(imgA), uncompressed(imgA)]]);
      expect(uncompressed(imgA)).toBe(imgA.config.size + 60_000 + 30_000);

      const manifests = await list<ManifestBody>(`${prefix}/usage-a/repositories/other/digests`, 'manifests', `${op}_list_repositoryManifests`);
      expect(manifests).toEqual([
        {
          registry_name: 'usage-a',
          repository: 'other',
          digest: imgB.manifest,
          compressed_size_bytes: compressed(imgB),
          size_bytes: imgB.config.size + 60_000 + 100_000,
          updated_at: manifests[0]!.updated_at,
          tags: ['v1'],
          blobs: blobsOf(imgB),
          ...imageExtensions,
        },
      ]);
    }
  });

  it('repositoriesV2 reports the latest manifest with tags and blobs, tag_count and manifest_count counting untagged ones', async () => {
    // v1 moves to a new manifest (the old one stays, untagged), one is pushed by digest only,
    // and one carries two tags.
    await sleep(3);
    const retagged = await pushGzipImage(h, jwt, 'usage-a/app', 'v1', [L2]);
    await sleep(3);
    const byDigest = await pushGzipImage(h, jwt, 'usage-a/app', null, [L1]);
    await sleep(3);
    const twoTags = await pushGzipImage(h, jwt, 'usage-a/app', 'v2', [L3]);
    await sleep(3);
    const again = await h.registry('/v2/usage-a/app/manifests/v3', { method: 'PUT', auth: jwt, body: twoTags.manifestBytes, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    expect(again.status).toBe(201);
    await fillUncompressedSizes({ db: h.ctx.db, driver: h.ctx.driver, logger: h.ctx.logger });

    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const op = prefix === '/v2/registries' ? 'registries' : 'registry';
      const repos = await list<RepositoryV2Body>(`${prefix}/usage-a/repositoriesV2`, 'repositories', `${op}_list_repositoriesV2`);
      expect(repos.map((r) => [r.name, r.tag_count, r.manifest_count])).toEqual([
        ['app', 3, 4],
        ['other', 1, 1],
      ]);
      const latest = repos[0]!.latest_manifest!;
      expect(latest).toEqual({
        registry_name: 'usage-a',
        repository: 'app',
        digest: twoTags.manifest,
        compressed_size_bytes: compressed(twoTags),
        size_bytes: uncompressed(twoTags),
        updated_at: latest.updated_at,
        tags: ['v2', 'v3'],
        blobs: blobsOf(twoTags),
        ...imageExtensions,
      });
      expect(repos[1]!.latest_manifest!.digest).toBe(imgB.manifest);
    }
    const digests = await list<ManifestBody>('/v2/registries/usage-a/repositories/app/digests', 'manifests', 'registries_list_repositoryManifests');
    expect(digests.map((m) => [m.digest, m.tags])).toEqual([
      [twoTags.manifest, ['v2', 'v3']],
      [byDigest.manifest, []],
      [retagged.manifest, ['v1']],
      [imgA.manifest, []],
    ]);
    // The v1 repository list shows the most recently updated tag.
    const v1 = await list<{ name: string; latest_tag: TagBody; tag_count: number }>('/v2/registry/usage-a/repositories', 'repositories', 'registry_list_repositories');
    expect(v1.map((r) => [r.name, r.latest_tag.tag, r.tag_count])).toEqual([
      ['app', 'v3', 3],
      ['other', 'v1', 1],
    ]);

    const expectedA = distinctBytes(imgA, imgB, retagged, byDigest, twoTags);
    expect(await eventually(() => usageOf('usage-a'), expectedA)).toBe(expectedA);
  });
});

describe('a multi-platform index', () => {
  it('counts its platforms’ blobs in its sizes and its own bytes in the usage', async () => {
    const token = await h.jwt(h.token, 'repository:usage-b/multi:pull,push');
    const before = await h.ctx.usage.registryBytes((await h.ctx.registries.byName('usage-b'))!.id);
    const amd64 = await pushGzipImage(h, token, 'usage-b/multi', null, [gzipLayer(7_000)]);
    await sleep(3);
    const arm64 = await pushGzipImage(h, token, 'usage-b/multi', null, [gzipLayer(9_000), L2]);
    await sleep(3);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd64.manifest, size: amd64.manifestSize, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm64.manifest, size: arm64.manifestSize, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    const put = await h.registry('/v2/usage-b/multi/manifests/latest', { method: 'PUT', auth: token, body: index, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
    expect(put.status).toBe(201);
    const indexDigest = put.headers.get('docker-content-digest')!;
    await fillUncompressedSizes({ db: h.ctx.db, driver: h.ctx.driver, logger: h.ctx.logger });

    const [tag] = await list<TagBody>('/v2/registries/usage-b/repositories/multi/tags', 'tags', 'registries_list_repositoryTags');
    expect([tag!.tag, tag!.manifest_digest, tag!.compressed_size_bytes, tag!.size_bytes]).toEqual(['latest', indexDigest, compressed(amd64) + compressed(arm64), uncompressed(amd64) + uncompressed(arm64)]);
    // Pushing the index touched its platforms' manifests (same updated_at): the index still comes first.
    const manifests = await list<ManifestBody>('/v2/registries/usage-b/repositories/multi/digests', 'manifests', 'registries_list_repositoryManifests');
    expect(manifests.map((m) => [m.digest, m.tags, m.blobs.length])).toEqual([
      [indexDigest, ['latest'], 0],
      [arm64.manifest, [], 3],
      [amd64.manifest, [], 2],
    ]);
    // Berth's extension: the index lists its platforms with each one's sizes.
    expect(manifests[0]).toMatchObject({ media_type: 'application/vnd.oci.image.index.v1+json', referrers: [] });
    expect(manifests[0]!.manifests).toEqual([
      { digest: amd64.manifest, media_type: OCI_MANIFEST, platform: { os: 'linux', architecture: 'amd64' }, compressed_size_bytes: compressed(amd64), size_bytes: uncompressed(amd64) },
      { digest: arm64.manifest, media_type: OCI_MANIFEST, platform: { os: 'linux', architecture: 'arm64' }, compressed_size_bytes: compressed(arm64), size_bytes: uncompressed(arm64) },
    ]);
    const repos = await list<RepositoryV2Body>('/v2/registries/usage-b/repositoriesV2', 'repositories', 'registries_list_repositoriesV2');
    expect(repos.find((r) => r.name === 'multi')).toMatchObject({ tag_count: 1, manifest_count: 3, latest_manifest: { digest: indexDigest, tags: ['latest'] } });

    // L2 is also in usage-a, but counts here again: usage is per registry.
    const expected = before + distinctBytes(amd64, arm64) + index.length;
    expect(await h.ctx.usage.registryBytes((await h.ctx.registries.byName('usage-b'))!.id)).toBe(expected);
    expect(await eventually(() => usageOf('usage-b'), expected)).toBe(expected);
    // Leave usage-b as the deletion tests expect it.
    expect((await h.api('/v2/registries/usage-b/repositories/multi', { method: 'DELETE' })).status).toBe(204);
    expect(await eventually(() => usageOf('usage-b'), before)).toBe(before);
  });
});

describe('after deletions', () => {
  it('a tag: gone from the registry at once; usage unchanged while its manifest stays', async () => {
    const before = await usageOf('usage-a');
    expect((await h.registry('/v2/usage-a/app/manifests/v3', { auth: jwt })).status).toBe(200);
    expect((await h.api('/v2/registries/usage-a/repositories/app/tags/v3', { method: 'DELETE' })).status).toBe(204);
    expect((await h.registry('/v2/usage-a/app/manifests/v3', { auth: jwt })).status).toBe(404);
    expect((await h.registry('/v2/usage-a/app/manifests/v2', { auth: jwt })).status).toBe(200);
    const repos = await list<RepositoryV2Body>('/v2/registries/usage-a/repositoriesV2', 'repositories', 'registries_list_repositoriesV2');
    expect(repos.map((r) => [r.name, r.tag_count, r.manifest_count, r.latest_manifest!.tags])).toEqual([
      ['app', 2, 4, ['v2']],
      ['other', 1, 1, ['v1']],
    ]);
    await sleep(700); // longer than the usage refresh debounce
    expect(await usageOf('usage-a')).toBe(before);
  });

  it('a manifest: gone at once; usage drops by its bytes (its blobs stay until garbage collection)', async () => {
    const before = await usageOf('usage-a');
    expect((await h.registry(`/v2/usage-a/app/manifests/${imgA.manifest}`, { auth: jwt })).status).toBe(200);
    expect((await h.api(`/v2/registry/usage-a/repositories/app/digests/${encodeURIComponent(imgA.manifest)}`, { method: 'DELETE' })).status).toBe(204);
    expect((await h.registry(`/v2/usage-a/app/manifests/${imgA.manifest}`, { auth: jwt })).status).toBe(404);
    const repos = await list<RepositoryV2Body>('/v2/registries/usage-a/repositoriesV2', 'repositories', 'registries_list_repositoriesV2');
    expect(repos.map((r) => [r.name, r.tag_count, r.manifest_count])).toEqual([
      ['app', 2, 3],
      ['other', 1, 1],
    ]);
    const expected = before - imgA.manifestSize;
    expect(await eventually(() => usageOf('usage-a'), expected)).toBe(expected);
    expect(await h.ctx.usage.registryBytes((await h.ctx.registries.byName('usage-a'))!.id)).toBe(expected);
  });

  it('a whole repository: its manifests and blobs are gone at once; usage keeps only what another repository shares', async () => {
    const before = await usageOf('usage-a');
    expect((await h.api('/v2/registries/usage-a/repositories/other', { method: 'DELETE' })).status).toBe(204);
    expect((await h.registry('/v2/usage-a/other/manifests/v1', { auth: jwt })).status).toBe(404);
    expect((await h.registry(`/v2/usage-a/other/blobs/${L3Digest()}`, { method: 'HEAD', auth: jwt })).status).toBe(404);
    // L1 and L3 are still in app (pushed there by later images), so only "other"'s own config and manifest go.
    const expected = before - imgB.config.size - imgB.manifestSize;
    expect(await eventually(() => usageOf('usage-a'), expected)).toBe(expected);
    const repos = await list<RepositoryV2Body>('/v2/registries/usage-a/repositoriesV2', 'repositories', 'registries_list_repositoriesV2');
    expect(repos.map((r) => r.name)).toEqual(['app']);
    const b = await usageOf('usage-b');
    expect(b).toBe(distinctBytes(imgC));
    expect(await teamTotal()).toEqual({ total: expected + b, registries: { 'usage-a': expected, 'usage-b': b } });
  });

  it('deleting the last repository of a registry brings its usage to zero; the team total follows', async () => {
    expect((await h.api('/v2/registries/usage-b/repositories/app', { method: 'DELETE' })).status).toBe(204);
    expect((await h.registry('/v2/usage-b/app/manifests/latest', { auth: jwt })).status).toBe(404);
    expect(await eventually(() => usageOf('usage-b'), 0)).toBe(0);
    const a = await usageOf('usage-a');
    expect(await teamTotal()).toEqual({ total: a, registries: { 'usage-a': a, 'usage-b': 0 } });
  });
});

function L3Digest(): string {
  return imgB.layers[1]!.digest;
}
