/**
 * Berth's additive fields on DigitalOcean's bodies (README "Extensions to DigitalOcean's
 * API"), which the web console reads: a registry's endpoint, a repository's stored bytes, a
 * manifest's media type, an index's platforms with their sizes, blob media types and
 * uncompressed sizes, referrers and their subject. Bodies still validate against
 * DigitalOcean's published schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillUncompressedSizes } from '../../src/jobs/layer-sizes.js';
import { violations } from '../do-contract.js';
import { digestOf, pushBlob, REGISTRY_HOST, startHarness, type Harness } from '../harness.js';
import { distinctBytes, gzipLayer, LAYER_GZIP, OCI_CONFIG, OCI_MANIFEST, pushGzipImage, type PushedImage } from './support.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SPDX = 'application/spdx+json';

interface ManifestBody {
  digest: string;
  media_type: string;
  artifact_type?: string;
  subject_digest?: string;
  compressed_size_bytes: number;
  size_bytes: number;
  blobs: { digest: string; media_type: string; compressed_size_bytes: number; size_bytes?: number }[];
  manifests: { digest: string; media_type: string; platform?: Record<string, string>; annotations?: Record<string, string>; compressed_size_bytes?: number; size_bytes?: number }[];
  referrers: { digest: string; media_type: string; artifact_type?: string; annotations?: Record<string, string> }[];
}

describe('extensions to DigitalOcean’s bodies', () => {
  let h: Harness;
  let jwt: string;
  let amd64: PushedImage;
  let arm64: PushedImage;
  let indexDigest: string;
  let indexBytes: Buffer;
  let sbomDigest: string;
  let sbomBytes: Buffer;

  beforeAll(async () => {
    h = await startHarness();
    await h.createRegistry('ext');
    jwt = await h.jwt(h.token, 'repository:ext/shop/web:pull,push');
    amd64 = await pushGzipImage(h, jwt, 'ext/shop/web', null, [gzipLayer(20_000)]);
    arm64 = await pushGzipImage(h, jwt, 'ext/shop/web', null, [gzipLayer(30_000)]);
    indexBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: amd64.manifest, size: amd64.manifestSize, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: OCI_MANIFEST, digest: arm64.manifest, size: arm64.manifestSize, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        ],
      }),
    );
    const put = await h.registry('/v2/ext/shop/web/manifests/v1', { method: 'PUT', auth: jwt, body: indexBytes, headers: { 'content-type': OCI_INDEX } });
    expect(put.status).toBe(201);
    indexDigest = digestOf(indexBytes);

    const empty = await pushBlob(h, jwt, 'ext/shop/web', Buffer.from('{}'));
    const doc = await pushBlob(h, jwt, 'ext/shop/web', Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
    sbomBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: SPDX,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
        layers: [{ mediaType: SPDX, digest: doc, size: 26 }],
        subject: { mediaType: OCI_INDEX, digest: indexDigest, size: indexBytes.length },
        annotations: { 'org.example.kind': 'sbom' },
      }),
    );
    sbomDigest = digestOf(sbomBytes);
    const referrer = await h.registry(`/v2/ext/shop/web/manifests/${sbomDigest}`, { method: 'PUT', auth: jwt, body: sbomBytes, headers: { 'content-type': OCI_MANIFEST } });
    expect(referrer.status).toBe(201);
    await fillUncompressedSizes({ db: h.ctx.db, driver: h.ctx.driver, logger: h.ctx.logger });
  });

  afterAll(async () => h.close());

  const manifests = async (prefix: string) => {
    const op = prefix === '/v2/registries' ? 'registries_list_repositoryManifests' : 'registry_list_repositoryManifests';
    const body = (await (await h.api(`${prefix}/ext/repositories/shop%2Fweb/digests`)).json()) as { manifests: ManifestBody[] };
    expect(violations(op, 200, body)).toEqual([]);
    return body.manifests;
  };

  it('gives every registry its endpoint, <registry host>/<name>, in both trees', async () => {
    const one = (await (await h.api('/v2/registries/ext')).json()) as { registry: { endpoint: string } };
    expect(violations('registries_get', 200, one)).toEqual([]);
    expect(one.registry.endpoint).toBe(`${REGISTRY_HOST}/ext`);
    const list = (await (await h.api('/v2/registries')).json()) as { registries: { endpoint: string }[] };
    expect(violations('registries_list', 200, list)).toEqual([]);
    expect(list.registries.map((r) => r.endpoint)).toEqual([`${REGISTRY_HOST}/ext`]);
    const legacy = (await (await h.api('/v2/registry')).json()) as { registry: { endpoint: string } };
    expect(violations('registry_get', 200, legacy)).toEqual([]);
    expect(legacy.registry.endpoint).toBe(`${REGISTRY_HOST}/ext`);
  });

  it('lists an index’s platforms with their sizes, and its referrers', async () => {
    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const all = await manifests(prefix);
      const index = all.find((m) => m.digest === indexDigest)!;
      const compressed = (img: PushedImage) => img.config.size + img.layers.reduce((s, l) => s + l.size, 0);
      const uncompressed = (img: PushedImage) => img.config.uncompressed + img.layers.reduce((s, l) => s + l.uncompressed, 0);
      expect(index.media_type).toBe(OCI_INDEX);
      expect(index.artifact_type).toBeUndefined();
      expect(index.blobs).toEqual([]);
      expect(index.manifests).toEqual([
        { digest: amd64.manifest, media_type: OCI_MANIFEST, platform: { os: 'linux', architecture: 'amd64' }, compressed_size_bytes: compressed(amd64), size_bytes: uncompressed(amd64) },
        { digest: arm64.manifest, media_type: OCI_MANIFEST, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, compressed_size_bytes: compressed(arm64), size_bytes: uncompressed(arm64) },
      ]);
      expect(index.referrers).toEqual([{ digest: sbomDigest, media_type: OCI_MANIFEST, artifact_type: SPDX, annotations: { 'org.example.kind': 'sbom' } }]);

      const platform = all.find((m) => m.digest === amd64.manifest)!;
      expect(platform.blobs).toEqual([
        { digest: amd64.config.digest, media_type: OCI_CONFIG, compressed_size_bytes: amd64.config.size, size_bytes: amd64.config.uncompressed },
        { digest: amd64.layers[0]!.digest, media_type: LAYER_GZIP, compressed_size_bytes: amd64.layers[0]!.size, size_bytes: amd64.layers[0]!.uncompressed },
      ]);
      expect(platform.manifests).toEqual([]);

      const sbom = all.find((m) => m.digest === sbomDigest)!;
      expect(sbom).toMatchObject({ media_type: OCI_MANIFEST, artifact_type: SPDX, subject_digest: indexDigest, referrers: [] });
    }
  });

  it('reports what each repository stores, counting a shared blob once', async () => {
    const other = await pushGzipImage(h, await h.jwt(h.token, 'repository:ext/solo:pull,push'), 'ext/solo', 'v1', [gzipLayer(5_000)]);
    const body = (await (await h.api('/v2/registries/ext/repositoriesV2')).json()) as { repositories: { name: string; storage_usage_bytes: number }[] };
    expect(violations('registries_list_repositoriesV2', 200, body)).toEqual([]);
    const stored = Object.fromEntries(body.repositories.map((r) => [r.name, r.storage_usage_bytes]));
    expect(stored.solo).toBe(distinctBytes(other));
    // Both platform images, the index, the SBOM and its two blobs.
    expect(stored['shop/web']).toBe(distinctBytes(amd64, arm64) + indexBytes.length + sbomBytes.length + 2 + 26);
  });

  it('forgets a deleted referrer', async () => {
    expect((await h.api(`/v2/registries/ext/repositories/shop%2Fweb/digests/${sbomDigest}`, { method: 'DELETE' })).status).toBe(204);
    const index = (await manifests('/v2/registries')).find((m) => m.digest === indexDigest)!;
    expect(index.referrers).toEqual([]);
  });
});
