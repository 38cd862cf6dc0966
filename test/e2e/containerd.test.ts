/**
 * containerd (Debian's 1.6, the runtime under most Kubernetes nodes) against a real Berth
 * server, through `ctr`: it authenticates with the token protocol from basic credentials,
 * pulls and unpacks an image (which checks every layer against the config's diff IDs), pulls
 * by digest, one platform or all of an index, pushes into another repository (mounting the
 * layers it already has there), is refused a push on read-only credentials, and trusts
 * Berth's TLS through a hosts.toml as a node's /etc/containerd/certs.d would. On S3 storage
 * the server redirects blob GETs, so containerd pulls the bytes from the object store.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerRef, expectFailure, expectSuccess, skopeo, SKOPEO_TOOLS, skopeoInspectRaw, skopeoPush } from '../support/clients.js';
import { CONTAINERD_TOOLS, startContainerd, type Containerd } from '../support/containerd.js';
import type { RunResult } from '../support/exec.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, sha256Digest, type MultiArchImage, type SingleImage } from '../support/images.js';
import { createPki, PKI_TOOLS } from '../support/pki.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { testStorage } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

const skip = requireTools([...CONTAINERD_TOOLS, ...SKOPEO_TOOLS, ...IMAGE_TOOLS, ...PKI_TOOLS]);

describe.skipIf(skip)('containerd', { timeout: 180_000 }, () => {
  let server: TestServer;
  let containerd: Containerd;
  let registry: string;
  let authfile: string;
  /** `user:password` of read/write and read-only docker credentials, as `ctr --user` takes them. */
  let readWrite: string;
  let readOnly: string;
  let image: SingleImage;
  let multi: MultiArchImage;

  const ref = (repository: string, reference: string) =>
    `${server.registryHost}/${registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
  const ok = (result: RunResult) => {
    if (result.code !== 0) throw new Error(`${result.command} failed (${result.code}):\n${result.stdout}\n${result.stderr}\n--- containerd\n${containerd.logs.slice(-3000)}\n--- server\n${server.logs.slice(-3000)}`);
    return result;
  };

  beforeAll(async () => {
    // Request lines are logged at info: the push test reads them for containerd's mounts.
    server = await startServer({ args: ['--log-level', 'info', ...(testStorage() === 's3' ? ['--storage-redirect'] : [])] });
    registry = uniqueName('ctr');
    await server.createRegistry(registry);
    const rw = await server.dockerCredentials(registry, { readWrite: true });
    const ro = await server.dockerCredentials(registry, { readWrite: false });
    authfile = await server.writeAuthFile(rw);
    const userPassword = ({ username, password }: { username: string; password: string }) => `${username}:${password}`;
    readWrite = userPassword(server.credentialsOf(rw));
    readOnly = userPassword(server.credentialsOf(ro));
    [image, multi, containerd] = await Promise.all([buildImage(), buildMultiArchImage(), startContainerd()]);
    await skopeoPush(server, authfile, image.ref, `${registry}/app`, 'v1');
    await skopeoPush(server, authfile, multi.ref, `${registry}/multi`, 'v1', { all: true });
  }, 180_000);

  afterAll(async () => {
    await containerd?.stop();
    await server?.stop();
  });

  test('pulls and unpacks an image on read-only credentials, by tag and by digest', async () => {
    const pulled = ok(await containerd.ctr(['images', 'pull', '--plain-http', '--user', readOnly, ref('app', 'v1')], 'by-tag'));
    expect(pulled.stdout).toContain(`unpacking linux/amd64 ${image.digest}`);
    expect(await containerd.imageDigest(ref('app', 'v1'), 'by-tag')).toBe(image.digest);
    if (testStorage() === 's3') {
      // The layer's bytes came from radosgw: Berth answered its GET with the redirect.
      const get = server.logs.split('\n').find((line) => line.includes('"method":"GET"') && line.includes(`/v2/${registry}/app/blobs/${image.layers[0]}`));
      expect(get, 'no blob GET in the server log').toContain('"status":307');
    }

    ok(await containerd.ctr(['images', 'pull', '--plain-http', '--user', readOnly, ref('app', image.digest)], 'by-digest'));
    expect(await containerd.imageDigest(ref('app', image.digest), 'by-digest')).toBe(image.digest);
  });

  test('pulls one platform of an index, or all of them', async () => {
    const arm = multi.platforms.find((p) => p.architecture === 'arm64')!;
    ok(await containerd.ctr(['images', 'pull', '--plain-http', '--user', readOnly, '--platform', 'linux/arm64', ref('multi', 'v1')], 'one-platform'));
    expect(await containerd.imageDigest(ref('multi', 'v1'), 'one-platform')).toBe(multi.digest);
    const content = ok(await containerd.ctr(['content', 'ls', '--quiet'], 'one-platform')).stdout;
    expect(content).toContain(arm.digest);
    for (const other of multi.platforms.filter((p) => p !== arm)) expect(content).not.toContain(other.digest);

    ok(await containerd.ctr(['images', 'pull', '--plain-http', '--user', readOnly, '--all-platforms', ref('multi', 'v1')], 'all-platforms'));
    const all = ok(await containerd.ctr(['content', 'ls', '--quiet'], 'all-platforms')).stdout;
    for (const platform of multi.platforms) expect(all).toContain(platform.digest);
  });

  test('pushes into another repository; the registry then holds the same manifest', async () => {
    ok(await containerd.ctr(['images', 'pull', '--plain-http', '--user', readWrite, ref('app', 'v1')], 'push'));
    ok(await containerd.ctr(['images', 'tag', ref('app', 'v1'), ref('copy', 'v2')], 'push'));
    ok(await containerd.ctr(['images', 'push', '--plain-http', '--user', readWrite, ref('copy', 'v2')], 'push'));
    expect(sha256Digest(await skopeoInspectRaw(server, authfile, `${registry}/copy`, 'v2'))).toBe(image.digest);
    // containerd remembered where it pulled each blob from and mounted them instead of uploading.
    for (const blob of [image.config, ...image.layers]) {
      const mount = server.logs.split('\n').find((line) => line.includes(`/v2/${registry}/copy/blobs/uploads/?mount=${blob}&from=${registry}/app`));
      expect(mount, `no cross-repository mount of ${blob} in the server log`).toContain('"status":201');
    }
  });

  test('a push on read-only credentials is refused and leaves nothing behind', async () => {
    ok(await containerd.ctr(['images', 'pull', '--plain-http', '--user', readOnly, ref('app', 'v1')], 'refused'));
    ok(await containerd.ctr(['images', 'tag', ref('app', 'v1'), ref('not-allowed', 'v1')], 'refused'));
    const refused = expectFailure(await containerd.ctr(['images', 'push', '--plain-http', '--user', readOnly, ref('not-allowed', 'v1')], 'refused'));
    expect(refused.stderr).toMatch(/denied|unauthorized|forbidden|403|401/i);
    const inspect = expectFailure(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, dockerRef(server, `${registry}/not-allowed`, 'v1')]));
    expect(inspect.stderr).toMatch(/manifest unknown|not found/i);
  });

  test('trusts Berth over HTTPS through a hosts.toml naming its CA', async () => {
    const pki = await createPki();
    const certificate = await pki.issue('berth-containerd');
    const secure = await startServer({ tls: { ...certificate, ca: pki.ca } });
    try {
      const name = uniqueName('ctrtls');
      await secure.createRegistry(name);
      const rw = await secure.dockerCredentials(name, { readWrite: true });
      const credentials = secure.credentialsOf(rw);
      const secureAuth = await secure.writeAuthFile(rw);
      expectSuccess(
        await skopeo(['copy', '--preserve-digests', '--dest-cert-dir', pki.certDir, '--authfile', secureAuth, image.ref, `docker://${secure.registryHost}/${name}/app:v1`]),
        secure,
      );
      const hostsDir = await makeTempDir('containerd-hosts');
      await mkdir(join(hostsDir, secure.registryHost));
      await writeFile(
        join(hostsDir, secure.registryHost, 'hosts.toml'),
        `server = "https://${secure.registryHost}"\n\n[host."https://${secure.registryHost}"]\n  capabilities = ["pull", "resolve", "push"]\n  ca = "${join(pki.certDir, 'ca.crt')}"\n`,
      );
      const secureRef = `${secure.registryHost}/${name}/app:v1`;
      ok(await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, '--user', `${credentials.username}:${credentials.password}`, secureRef], 'tls'));
      expect(await containerd.imageDigest(secureRef, 'tls')).toBe(image.digest);
    } finally {
      await secure.stop();
    }
  });
});
