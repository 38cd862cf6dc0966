/**
 * skopeo against a real Berth server, authenticating through Berth's token service with
 * read/write docker credentials: single-platform and multi-arch images in and out with their
 * digests preserved, Docker schema2, cross-repository copies, inspect, list-tags and delete.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerRef, expectFailure, expectSuccess, skopeo, skopeoInspectRaw, SKOPEO_TOOLS } from '../support/clients.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, OCI_INDEX, OCI_MANIFEST, resolveTag, sha256Digest } from '../support/images.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

const skip = requireTools([...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

describe.skipIf(skip)('skopeo', { timeout: 120_000 }, () => {
  let server: TestServer;
  let registry: string;
  let authfile: string;

  beforeAll(async () => {
    server = await startServer();
    registry = uniqueName('skopeo');
    await server.createRegistry(registry);
    authfile = await server.writeAuthFile(await server.dockerCredentials(registry, { readWrite: true }));
  });

  afterAll(async () => {
    await server?.stop();
  });

  const copy = async (args: string[]) =>
    expectSuccess(await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--authfile', authfile, ...args]), server);
  const inspectDigest = async (repository: string, reference: string) =>
    expectSuccess(
      await skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, '--format', '{{.Digest}}', dockerRef(server, repository, reference)]),
      server,
    ).stdout.trim();

  /** Every blob of the layout that the manifest names exists and hashes to its digest. */
  async function expectBlobsIntact(dir: string, digests: string[]): Promise<void> {
    for (const digest of digests) {
      const bytes = await readFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
      expect(sha256Digest(bytes), `blob ${digest} in ${dir}`).toBe(digest);
    }
  }

  test('copies a single-platform image in and out with its digest preserved', async () => {
    const image = await buildImage();
    const repo = `${registry}/app`;
    await copy(['--preserve-digests', image.ref, dockerRef(server, repo, 'v1')]);

    const raw = await skopeoInspectRaw(server, authfile, repo, 'v1');
    expect(raw.equals(image.manifest), 'registry returns the exact manifest bytes').toBe(true);
    expect(sha256Digest(raw)).toBe(image.digest);
    expect(await inspectDigest(repo, 'v1')).toBe(image.digest);

    const out = await makeTempDir('skopeo-out');
    await copy(['--preserve-digests', dockerRef(server, repo, 'v1'), `oci:${out}:v1`]);
    const pulled = await resolveTag(out, 'v1');
    expect(pulled.digest).toBe(image.digest);
    await expectBlobsIntact(out, [image.config, ...image.layers]);

    // By digest as well as by tag.
    expect(sha256Digest(await skopeoInspectRaw(server, authfile, repo, image.digest))).toBe(image.digest);
  });

  test('copies between repositories of the registry (cross-repository mount)', async () => {
    const image = await buildImage();
    const source = `${registry}/mount-src`;
    const target = `${registry}/mount-dst`;
    await copy(['--preserve-digests', image.ref, dockerRef(server, source, 'v1')]);
    await copy(['--preserve-digests', dockerRef(server, source, 'v1'), dockerRef(server, target, 'v1')]);
    expect(await inspectDigest(target, 'v1')).toBe(image.digest);
    const out = await makeTempDir('skopeo-out');
    await copy(['--preserve-digests', dockerRef(server, target, 'v1'), `oci:${out}:v1`]);
    await expectBlobsIntact(out, [image.config, ...image.layers]);
  });

  test('copies a multi-arch index with --all in and out with its digest preserved', async () => {
    const image = await buildMultiArchImage();
    const repo = `${registry}/multi`;
    await copy(['--all', '--preserve-digests', image.ref, dockerRef(server, repo, 'v1')]);

    const raw = await skopeoInspectRaw(server, authfile, repo, 'v1');
    expect(sha256Digest(raw)).toBe(image.digest);
    const index = JSON.parse(raw.toString('utf8')) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(index.manifests.map((m) => [m.platform.architecture, m.digest])).toEqual(image.platforms.map((p) => [p.architecture, p.digest]));
    for (const platform of image.platforms) {
      expect(sha256Digest(await skopeoInspectRaw(server, authfile, repo, platform.digest))).toBe(platform.digest);
    }
    const arm = expectSuccess(
      await skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, '--override-arch', 'arm64', '--config', dockerRef(server, repo, 'v1')]),
      server,
    );
    expect((JSON.parse(arm.stdout) as { architecture: string }).architecture).toBe('arm64');

    const out = await makeTempDir('skopeo-out');
    await copy(['--all', '--preserve-digests', dockerRef(server, repo, 'v1'), `oci:${out}:v1`]);
    expect((await resolveTag(out, 'v1')).digest).toBe(image.digest);
    await expectBlobsIntact(out, [image.digest, ...image.platforms.map((p) => p.digest)]);
  });

  test('pushes Docker schema2 manifests and manifest lists (--format v2s2)', async () => {
    const repo = `${registry}/docker`;
    const image = await buildImage();
    await copy(['--format', 'v2s2', image.ref, dockerRef(server, repo, 'single')]);
    const raw = await skopeoInspectRaw(server, authfile, repo, 'single');
    const manifest = JSON.parse(raw.toString('utf8')) as { mediaType: string; config: { mediaType: string } };
    expect(manifest.mediaType).toBe(DOCKER_MANIFEST);
    expect(manifest.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
    expect(await inspectDigest(repo, 'single')).toBe(sha256Digest(raw));

    const multi = await buildMultiArchImage();
    await copy(['--all', '--format', 'v2s2', multi.ref, dockerRef(server, repo, 'multi')]);
    const list = JSON.parse((await skopeoInspectRaw(server, authfile, repo, 'multi')).toString('utf8')) as {
      mediaType: string;
      manifests: { mediaType: string }[];
    };
    expect(list.mediaType).toBe(DOCKER_MANIFEST_LIST);
    expect(list.manifests.map((m) => m.mediaType)).toEqual([DOCKER_MANIFEST, DOCKER_MANIFEST]);

    // The registry serves each manifest with its own media type and digest.
    const credentials = server.credentialsOf(JSON.parse(await readFile(authfile, 'utf8')));
    const token = await registryToken(server, credentials, `repository:${repo}:pull`);
    for (const [tag, mediaType] of [['single', DOCKER_MANIFEST], ['multi', DOCKER_MANIFEST_LIST]] as const) {
      const response = await registryFetch(server, token, `/v2/${repo}/manifests/${tag}`, {
        headers: { accept: [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX].join(', ') },
      });
      const body = Buffer.from(await response.arrayBuffer());
      expect(response.status, `GET /v2/${repo}/manifests/${tag}`).toBe(200);
      expect(response.headers.get('content-type')).toBe(mediaType);
      expect(response.headers.get('docker-content-digest')).toBe(sha256Digest(body));
    }
  });

  test('inspect, list-tags and delete', async () => {
    const repo = `${registry}/tags`;
    const kept = await buildImage();
    const doomed = await buildImage();
    await copy(['--preserve-digests', kept.ref, dockerRef(server, repo, 'v1')]);
    await copy(['--preserve-digests', dockerRef(server, repo, 'v1'), dockerRef(server, repo, 'v1.1')]);
    await copy(['--preserve-digests', doomed.ref, dockerRef(server, repo, 'gone')]);

    const inspected = JSON.parse(
      expectSuccess(await skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, dockerRef(server, repo, 'v1')]), server).stdout,
    ) as { Digest: string; Architecture: string; Os: string; Layers: string[]; RepoTags: string[] };
    expect(inspected.Digest).toBe(kept.digest);
    expect(inspected.Architecture).toBe('amd64');
    expect(inspected.Os).toBe('linux');
    expect(inspected.Layers).toEqual(kept.layers);
    expect([...inspected.RepoTags].sort()).toEqual(['gone', 'v1', 'v1.1']);

    const listTags = async () => {
      const result = expectSuccess(
        await skopeo(['list-tags', '--tls-verify=false', '--authfile', authfile, `docker://${server.registryHost}/${repo}`]),
        server,
      );
      return JSON.parse(result.stdout) as { Repository: string; Tags: string[] };
    };
    const before = await listTags();
    expect(before.Repository).toBe(`${server.registryHost}/${repo}`);
    expect([...before.Tags].sort()).toEqual(['gone', 'v1', 'v1.1']);

    expectSuccess(await skopeo(['delete', '--tls-verify=false', '--authfile', authfile, dockerRef(server, repo, 'gone')]), server);
    const failed = expectFailure(await skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, dockerRef(server, repo, 'gone')]));
    expect(failed.stderr).toMatch(/manifest unknown|not found/i);
    expectFailure(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, dockerRef(server, repo, doomed.digest)]));

    // The other image and its tags are untouched.
    expect(await inspectDigest(repo, 'v1')).toBe(kept.digest);
    expect([...(await listTags()).Tags].sort()).toEqual(['v1', 'v1.1']);
  });
});
