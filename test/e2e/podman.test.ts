/**
 * podman (root, isolated vfs storage) against a real Berth server: login through the token
 * service, pull an image skopeo pushed, push it to another repository, pull by digest, and pull
 * one platform of a multi-arch index. `podman run` cannot work in this sandbox, so no running.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectSuccess, isolatedPodman, type Podman, PODMAN_TOOLS, SKOPEO_TOOLS, skopeoInspectRaw, skopeoPush } from '../support/clients.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, sha256Digest, type MultiArchImage, type SingleImage } from '../support/images.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

const skip = requireTools([...PODMAN_TOOLS, ...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

describe.skipIf(skip)('podman', { timeout: 120_000 }, () => {
  let server: TestServer;
  let registry: string;
  let authfile: string;
  let password: string;
  let podman: Podman;
  let image: SingleImage;
  let multi: MultiArchImage;

  beforeAll(async () => {
    server = await startServer();
    registry = uniqueName('podman');
    await server.createRegistry(registry);
    const config = await server.dockerCredentials(registry, { readWrite: true });
    authfile = await server.writeAuthFile(config);
    password = server.credentialsOf(config).password;
    podman = await isolatedPodman();
    [image, multi] = await Promise.all([buildImage(), buildMultiArchImage()]);
    await skopeoPush(server, authfile, image.ref, `${registry}/app`, 'v1');
    await skopeoPush(server, authfile, multi.ref, `${registry}/multi`, 'v1', { all: true });
  });

  afterAll(async () => {
    await server?.stop();
    await podman?.cleanup();
  });

  /** The config digest (podman's image ID) of a platform manifest in the registry. */
  const configDigestOf = async (digest: string) =>
    (JSON.parse((await skopeoInspectRaw(server, authfile, `${registry}/multi`, digest)).toString('utf8')) as { config: { digest: string } }).config.digest;
  const ref = (repository: string, reference: string) =>
    `${server.registryHost}/${registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
  const inspect = async (reference: string, format: string) =>
    expectSuccess(await podman.run(['image', 'inspect', '--format', format, reference]), server).stdout.trim();

  test('logs in, pulls, pushes to another repository and pulls by digest', async () => {
    const login = expectSuccess(
      await podman.run(['login', '--tls-verify=false', '--authfile', podman.authfile, '-u', 'x', '-p', password, server.registryHost]),
      server,
    );
    expect(login.stdout).toMatch(/Login Succeeded/i);

    expectSuccess(await podman.run(['pull', '--tls-verify=false', '--authfile', podman.authfile, ref('app', 'v1')]), server);
    expect(await inspect(ref('app', 'v1'), '{{.Digest}}')).toBe(image.digest);

    const digestFile = join(await makeTempDir('podman-digest'), 'digest');
    expectSuccess(
      await podman.run(['push', '--tls-verify=false', '--authfile', podman.authfile, '--digestfile', digestFile, ref('app', 'v1'), `docker://${ref('copy', 'v1')}`]),
      server,
    );
    const pushed = (await readFile(digestFile, 'utf8')).trim();
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(sha256Digest(await skopeoInspectRaw(server, authfile, `${registry}/copy`, 'v1'))).toBe(pushed);

    // A second, empty storage pulls the pushed image by digest.
    const fresh = await isolatedPodman();
    expectSuccess(
      await fresh.run(['login', '--tls-verify=false', '--authfile', fresh.authfile, '-u', 'x', '-p', password, server.registryHost]),
      server,
    );
    expectSuccess(await fresh.run(['pull', '--tls-verify=false', '--authfile', fresh.authfile, ref('copy', pushed)]), server);
    const pulled = expectSuccess(await fresh.run(['image', 'inspect', '--format', '{{.Digest}} {{.Architecture}}', ref('copy', pushed)]), server);
    expect(pulled.stdout.trim()).toBe(`${pushed} amd64`);
    await fresh.cleanup();
  });

  test('pulls one platform of a multi-arch index', async () => {
    const arm = multi.platforms.find((p) => p.architecture === 'arm64');
    expectSuccess(
      await podman.run(['pull', '--tls-verify=false', '--authfile', authfile, '--arch', 'arm64', ref('multi', 'v1')]),
      server,
    );
    expect(await inspect(ref('multi', 'v1'), '{{.Architecture}}')).toBe('arm64');
    // podman records the index it resolved as the image digest and both as repo digests.
    expect(await inspect(ref('multi', 'v1'), '{{.Digest}}')).toBe(multi.digest);
    expect(await inspect(ref('multi', 'v1'), '{{.RepoDigests}}')).toContain(`${registry}/multi@${arm?.digest}`);
    expect(await inspect(ref('multi', 'v1'), '{{.ID}}')).toBe((await configDigestOf(arm?.digest ?? '')).slice('sha256:'.length));
  });
});
