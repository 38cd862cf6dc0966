/**
 * buildah (root, isolated vfs storage) against a real Berth server: it logs in through the
 * token service, builds on a base image pulled from Berth (`from`, `copy`, `config`,
 * `commit`), pushes the result, and assembles a manifest list from two platform images already
 * in Berth and pushes it with `manifest push --all`. Nothing is run: `RUN` needs a runtime this
 * sandbox lacks, and building needs none.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Buildah, BUILDAH_TOOLS, expectSuccess, isolatedBuildah, SKOPEO_TOOLS, skopeoInspectRaw, skopeoPush } from '../support/clients.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, OCI_INDEX, sha256Digest, type MultiArchImage, type SingleImage } from '../support/images.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

const skip = requireTools([...BUILDAH_TOOLS, ...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

describe.skipIf(skip)('buildah', { timeout: 180_000 }, () => {
  let server: TestServer;
  let registry: string;
  let authfile: string;
  let buildah: Buildah;
  let base: SingleImage;
  let multi: MultiArchImage;

  const ref = (repository: string, reference: string) =>
    `${server.registryHost}/${registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
  const ok = async (args: string[]) => expectSuccess(await buildah.run(args), server);

  beforeAll(async () => {
    server = await startServer();
    registry = uniqueName('buildah');
    await server.createRegistry(registry);
    const config = await server.dockerCredentials(registry, { readWrite: true });
    authfile = await server.writeAuthFile(config);
    [base, multi, buildah] = await Promise.all([buildImage(), buildMultiArchImage(), isolatedBuildah()]);
    await skopeoPush(server, authfile, base.ref, `${registry}/base`, 'v1');
    await skopeoPush(server, authfile, multi.ref, `${registry}/multi`, 'v1', { all: true });
    const { password } = server.credentialsOf(config);
    const login = await ok(['login', '--tls-verify=false', '--authfile', buildah.authfile, '-u', 'x', '-p', password, server.registryHost]);
    expect(login.stdout).toMatch(/Login Succeeded/i);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await buildah?.cleanup();
  });

  test('builds on a base pulled from Berth and pushes the result', async () => {
    const container = (await ok(['from', '--tls-verify=false', '--authfile', buildah.authfile, ref('base', 'v1')])).stdout.trim().split('\n').at(-1)!;
    const context = await makeTempDir('buildah-context');
    await writeFile(join(context, 'greeting.txt'), 'built by buildah\n');
    await ok(['copy', container, join(context, 'greeting.txt'), '/greeting.txt']);
    await ok(['config', '--label', 'org.example.built-by=buildah', container]);
    await ok(['commit', '--quiet', container, 'built']);
    const digestFile = join(context, 'digest');
    await ok(['push', '--tls-verify=false', '--authfile', buildah.authfile, '--digestfile', digestFile, 'built', `docker://${ref('built', 'v1')}`]);

    const pushed = (await readFile(digestFile, 'utf8')).trim();
    const manifest = await skopeoInspectRaw(server, authfile, `${registry}/built`, 'v1');
    expect(sha256Digest(manifest)).toBe(pushed);
    const layers = (JSON.parse(manifest.toString('utf8')) as { layers: { digest: string }[] }).layers;
    expect(layers).toHaveLength(base.layers.length + 1);

    // A second, empty storage builds from what was pushed, by digest, and sees the label.
    const fresh = await isolatedBuildah();
    try {
      const again = expectSuccess(await fresh.run(['from', '--tls-verify=false', '--authfile', buildah.authfile, ref('built', pushed)]), server).stdout.trim().split('\n').at(-1)!;
      const labels = expectSuccess(await fresh.run(['inspect', '--format', '{{index .OCIv1.Config.Labels "org.example.built-by"}}', again]), server);
      expect(labels.stdout.trim()).toBe('buildah');
    } finally {
      await fresh.cleanup();
    }
  });

  test('assembles a manifest list from platform images in Berth and pushes it with every image', async () => {
    const list = `list-${uniqueName('l')}`;
    await ok(['manifest', 'create', list]);
    for (const platform of multi.platforms) {
      await ok(['manifest', 'add', '--tls-verify=false', '--authfile', buildah.authfile, list, `docker://${ref('multi', platform.digest)}`]);
    }
    await ok(['manifest', 'push', '--all', '--format', 'oci', '--tls-verify=false', '--authfile', buildah.authfile, list, `docker://${ref('assembled', 'v1')}`]);

    const index = JSON.parse((await skopeoInspectRaw(server, authfile, `${registry}/assembled`, 'v1')).toString('utf8')) as {
      mediaType: string;
      manifests: { digest: string; platform?: { architecture: string } }[];
    };
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(index.manifests.map((m) => m.digest).sort()).toEqual(multi.platforms.map((p) => p.digest).sort());
    for (const m of index.manifests) {
      expect(m.platform?.architecture).toBe(multi.platforms.find((p) => p.digest === m.digest)?.architecture);
      // Every platform manifest the index names is pullable from the new repository.
      expect(sha256Digest(await skopeoInspectRaw(server, authfile, `${registry}/assembled`, m.digest))).toBe(m.digest);
    }
  });
});
