/**
 * Berth on S3 with `--storage-redirect`: blob GETs answer 307 to a presigned radosgw URL (the
 * server never streams a blob), HEAD is answered by Berth, and skopeo and podman pull through
 * the redirect. The image has a 12 MiB layer, so its push goes through a multipart upload.
 * Runs in the postgres-s3 project, where the storage is S3.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerRef, expectSuccess, isolatedPodman, type Podman, PODMAN_TOOLS, skopeo, SKOPEO_TOOLS, skopeoPush } from '../support/clients.js';
import { buildImage, IMAGE_TOOLS, resolveTag, sha256Digest, type SingleImage } from '../support/images.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { testStorage } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

if (testStorage() !== 's3') throw new Error('*.s3.test.ts files run in the postgres-s3 project only');
const skip = requireTools([...SKOPEO_TOOLS, ...PODMAN_TOOLS, ...IMAGE_TOOLS]);

describe.skipIf(skip)('blob GETs redirected to S3', { timeout: 180_000 }, () => {
  let server: TestServer;
  let registry: string;
  let authfile: string;
  let password: string;
  let image: SingleImage;
  let podman: Podman;

  beforeAll(async () => {
    server = await startServer({ args: ['--storage-redirect'] });
    registry = uniqueName('redirect');
    await server.createRegistry(registry);
    const config = await server.dockerCredentials(registry, { readWrite: true });
    authfile = await server.writeAuthFile(config);
    password = server.credentialsOf(config).password;
    image = await buildImage({ randomLayerBytes: 12 * 1024 * 1024 });
    podman = await isolatedPodman();
    await skopeoPush(server, authfile, image.ref, `${registry}/app`, 'v1');
  }, 180_000); // servers, an image and its push: slow on a busy machine

  afterAll(async () => {
    await server?.stop();
    await podman?.cleanup();
  });

  test('GET answers 307 to a presigned URL valid for minutes; HEAD is answered directly', async () => {
    const credentials = server.credentialsOf(JSON.parse(await readFile(authfile, 'utf8')));
    const token = await registryToken(server, credentials, `repository:${registry}/app:pull`);
    const layer = image.layers.at(-1)!;
    const path = `/v2/${registry}/app/blobs/${layer}`;

    const head = await registryFetch(server, token, path, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(12 * 1024 * 1024);

    const get = await registryFetch(server, token, path, { redirect: 'manual' });
    expect(get.status).toBe(307);
    const location = new URL(get.headers.get('location')!);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('600');
    expect(location.pathname).toMatch(/\/blobs\/uploads\/[0-9a-f-]{36}$/); // the multipart upload's own key: no copy
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(layer.slice('sha256:'.length));

    // Unauthorised GETs get no URL.
    expect((await registryFetch(server, undefined, path, { redirect: 'manual' })).status).toBe(401);
  });

  test('skopeo pulls through the redirect', async () => {
    const out = await makeTempDir('redirect-out');
    expectSuccess(
      await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--authfile', authfile, dockerRef(server, `${registry}/app`, 'v1'), `oci:${out}:v1`]),
      server,
    );
    expect((await resolveTag(out, 'v1')).digest).toBe(image.digest);
    for (const digest of [image.config, ...image.layers]) {
      expect(sha256Digest(await readFile(join(out, 'blobs', 'sha256', digest.slice('sha256:'.length))))).toBe(digest);
    }
  });

  test('podman pulls through the redirect', async () => {
    const ref = `${server.registryHost}/${registry}/app:v1`;
    expectSuccess(await podman.run(['login', '--tls-verify=false', '--authfile', podman.authfile, '-u', 'x', '-p', password, server.registryHost]), server);
    expectSuccess(await podman.run(['pull', '--tls-verify=false', '--authfile', podman.authfile, ref]), server);
    const inspected = expectSuccess(await podman.run(['image', 'inspect', '--format', '{{.Digest}} {{.ID}}', ref]), server);
    expect(inspected.stdout.trim()).toBe(`${image.digest} ${image.config.slice('sha256:'.length)}`);
  });
});
