/**
 * Read-only docker credentials (read_write=false): pulls work, pushes and deletes are refused
 * with a message the user can act on, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerRef, expectFailure, expectSuccess, isolatedPodman, type Podman, PODMAN_TOOLS, skopeo, SKOPEO_TOOLS, skopeoPush } from '../support/clients.js';
import { buildImage, IMAGE_TOOLS, resolveTag, type SingleImage } from '../support/images.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

const skip = requireTools([...SKOPEO_TOOLS, ...PODMAN_TOOLS, ...IMAGE_TOOLS]);

/** What a client prints when the registry refuses a write for lack of rights. */
const DENIED = /denied|read-only|read only/i;

describe.skipIf(skip)('read-only credentials', { timeout: 120_000 }, () => {
  let server: TestServer;
  let registry: string;
  let writer: string;
  let reader: string;
  let readerPassword: string;
  let image: SingleImage;
  let podman: Podman;

  beforeAll(async () => {
    server = await startServer();
    registry = uniqueName('ro');
    await server.createRegistry(registry);
    writer = await server.writeAuthFile(await server.dockerCredentials(registry, { readWrite: true }));
    const readOnly = await server.dockerCredentials(registry, { readWrite: false });
    reader = await server.writeAuthFile(readOnly);
    readerPassword = server.credentialsOf(readOnly).password;
    podman = await isolatedPodman();
    image = await buildImage();
    await skopeoPush(server, writer, image.ref, `${registry}/app`, 'v1');
  });

  afterAll(async () => {
    await server?.stop();
    await podman?.cleanup();
  });

  test('skopeo pulls with them', async () => {
    const out = await makeTempDir('ro-out');
    expectSuccess(
      await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--authfile', reader, dockerRef(server, `${registry}/app`, 'v1'), `oci:${out}:v1`]),
      server,
    );
    expect((await resolveTag(out, 'v1')).digest).toBe(image.digest);
  });

  test('skopeo push is refused with a denied message, and nothing is written', async () => {
    const fresh = await buildImage();
    const failed = expectFailure(
      await skopeo(['copy', '--dest-tls-verify=false', '--authfile', reader, fresh.ref, dockerRef(server, `${registry}/app`, 'ro-push')]),
    );
    expect(failed.stderr, failed.stderr).toMatch(DENIED);
    // Neither the tag nor any of the new blobs arrived.
    expectFailure(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', writer, dockerRef(server, `${registry}/app`, 'ro-push')]));
    const tags = expectSuccess(
      await skopeo(['list-tags', '--tls-verify=false', '--authfile', writer, `docker://${server.registryHost}/${registry}/app`]),
      server,
    );
    expect((JSON.parse(tags.stdout) as { Tags: string[] }).Tags).toEqual(['v1']);
  });

  test('skopeo push to a new repository is refused too', async () => {
    const failed = expectFailure(
      await skopeo(['copy', '--dest-tls-verify=false', '--authfile', reader, image.ref, dockerRef(server, `${registry}/brand-new`, 'v1')]),
    );
    expect(failed.stderr, failed.stderr).toMatch(DENIED);
  });

  test('skopeo delete is refused', async () => {
    const failed = expectFailure(await skopeo(['delete', '--tls-verify=false', '--authfile', reader, dockerRef(server, `${registry}/app`, 'v1')]));
    expect(failed.stderr, failed.stderr).toMatch(DENIED);
    const still = expectSuccess(
      await skopeo(['inspect', '--tls-verify=false', '--authfile', writer, '--format', '{{.Digest}}', dockerRef(server, `${registry}/app`, 'v1')]),
      server,
    );
    expect(still.stdout.trim()).toBe(image.digest);
  });

  test('podman logs in and pulls with them, but its push is refused', async () => {
    const ref = `${server.registryHost}/${registry}/app:v1`;
    expectSuccess(
      await podman.run(['login', '--tls-verify=false', '--authfile', podman.authfile, '-u', 'x', '-p', readerPassword, server.registryHost]),
      server,
    );
    expectSuccess(await podman.run(['pull', '--tls-verify=false', '--authfile', podman.authfile, ref]), server);
    const failed = expectFailure(
      await podman.run(['push', '--tls-verify=false', '--authfile', podman.authfile, ref, `docker://${server.registryHost}/${registry}/podman-copy:v1`]),
    );
    expect(failed.stderr, failed.stderr).toMatch(DENIED);
  });
});
