/**
 * Crash safety: SIGKILL the server in the middle of a chunked blob upload and around manifest
 * PUTs, restart it on the same data dir and database, and check that nothing half-written is
 * visible, that the upload resumes from the offset the server recorded, and that pushes then
 * complete. Raw HTTP with a Bearer token from Berth's token service.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OCI_MANIFEST, sha256Digest } from '../support/images.js';
import { describeResponse, registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';

const MiB = 1024 * 1024;

/**
 * Sends a request whose body is only partly written (`sendBytes` of `body`; all of it ends the
 * request). Resolves `written` once those bytes are handed to the kernel; `settled` never
 * rejects (the server is about to die) and reports the status if one came back.
 */
function partialRequest(url: URL, method: string, headers: Record<string, string>, body: Buffer, sendBytes: number) {
  let settle!: (value: { status?: number; error?: string }) => void;
  const settled = new Promise<{ status?: number; error?: string }>((resolve) => (settle = resolve));
  const req = request(url, { method, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
    res.resume();
    res.on('end', () => settle({ status: res.statusCode }));
    res.on('error', (error) => settle({ status: res.statusCode, error: error.message }));
  });
  req.on('error', (error) => settle({ error: error.message }));
  const written = new Promise<void>((resolve) => {
    req.write(body.subarray(0, sendBytes), () => resolve());
    if (sendBytes >= body.length) req.end();
  });
  return { written, settled, abort: () => req.destroy() };
}

/** Parses `Range: 0-<end>` into the number of bytes the server holds. */
function receivedBytes(range: string | null): number {
  const match = /^(?:bytes=)?0-(\d+)$/.exec(range ?? '');
  if (!match) throw new Error(`unexpected Range header ${JSON.stringify(range)}`);
  return Number(match[1]) + 1;
}

describe('crash safety', { timeout: 120_000 }, () => {
  let server: TestServer;
  let registry: string;
  let credentials: Credentials;

  beforeAll(async () => {
    server = await startServer();
    registry = uniqueName('crash');
    await server.createRegistry(registry);
    credentials = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
  });

  afterAll(async () => {
    await server?.stop();
  });

  const pushToken = (repository: string) => registryToken(server, credentials, `repository:${registry}/${repository}:pull,push`);

  async function expectStatus(response: Response, method: string, path: string, expected: number): Promise<void> {
    if (response.status !== expected) {
      throw new Error(`expected ${expected}:\n${await describeResponse(method, path, response)}\n--- server logs (tail)\n${server.logs.slice(-3000)}`);
    }
  }

  /** Uploads a whole blob (POST, then PUT ?digest= with the bytes). */
  async function uploadBlob(token: string, repository: string, bytes: Buffer): Promise<string> {
    const digest = sha256Digest(bytes);
    const path = `/v2/${registry}/${repository}/blobs/uploads/`;
    const started = await registryFetch(server, token, path, { method: 'POST' });
    await expectStatus(started, 'POST', path, 202);
    const location = new URL(started.headers.get('location') ?? '', server.registryUrl);
    location.searchParams.set('digest', digest);
    const put = await registryFetch(server, token, location.toString(), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    await expectStatus(put, 'PUT', location.pathname, 201);
    return digest;
  }

  test('SIGTERM exits 0, and tokens issued before a restart stay valid', async () => {
    const token = await pushToken('restart');
    const status = await server.stop('SIGTERM');
    expect(status, server.logs.slice(-3000)).toEqual({ code: 0, signal: null });
    await server.restart();
    const base = await registryFetch(server, token, '/v2/');
    await expectStatus(base, 'GET', '/v2/', 200);
    const path = `/v2/${registry}/restart/blobs/uploads/`;
    const upload = await registryFetch(server, token, path, { method: 'POST' });
    await expectStatus(upload, 'POST', path, 202);
  });

  test('a chunked upload killed mid-PATCH is invisible after restart and resumes from the recorded offset', async () => {
    const repository = 'chunked';
    const blob = randomBytes(3 * MiB);
    const digest = sha256Digest(blob);
    const blobPath = `/v2/${registry}/${repository}/blobs/${digest}`;
    let token = await pushToken(repository);

    const startPath = `/v2/${registry}/${repository}/blobs/uploads/`;
    const started = await registryFetch(server, token, startPath, { method: 'POST' });
    await expectStatus(started, 'POST', startPath, 202);
    let location = new URL(started.headers.get('location') ?? '', server.registryUrl);

    // Two whole chunks.
    for (const offset of [0, MiB]) {
      const chunk = blob.subarray(offset, offset + MiB);
      const patched = await registryFetch(server, token, location.toString(), {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + MiB - 1}` },
        body: chunk,
      });
      await expectStatus(patched, 'PATCH', location.pathname, 202);
      expect(receivedBytes(patched.headers.get('range'))).toBe(offset + MiB);
      location = new URL(patched.headers.get('location') ?? '', server.registryUrl);
    }

    // The third chunk: half of it is on the wire when the server is killed.
    const third = blob.subarray(2 * MiB);
    const inflight = partialRequest(
      location,
      'PATCH',
      { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-range': `${2 * MiB}-${3 * MiB - 1}` },
      third,
      MiB / 2,
    );
    await inflight.written;
    await new Promise((r) => setTimeout(r, 300));
    const killed = await server.kill();
    expect(killed.signal).toBe('SIGKILL');
    const outcome = await inflight.settled;
    expect(outcome.status, `the interrupted PATCH must not have succeeded: ${JSON.stringify(outcome)}`).toBeUndefined();

    await server.restart();
    token = await pushToken(repository);

    const head = await registryFetch(server, token, blobPath, { method: 'HEAD' });
    await expectStatus(head, 'HEAD', blobPath, 404);

    const statusPath = location.pathname;
    const status = await registryFetch(server, token, statusPath);
    await expectStatus(status, 'GET', statusPath, 204);
    const recorded = receivedBytes(status.headers.get('range'));
    // Whole chunks survive; at most the bytes that were sent of the third one are kept.
    expect(recorded).toBeGreaterThanOrEqual(2 * MiB);
    expect(recorded).toBeLessThanOrEqual(2 * MiB + MiB / 2);
    expect(status.headers.get('docker-upload-uuid')).toBeTruthy();
    console.log(`upload offset recorded across the crash: ${recorded} of ${blob.length} bytes (${2 * MiB + MiB / 2} sent)`);
    location = new URL(status.headers.get('location') ?? statusPath, server.registryUrl);

    const rest = blob.subarray(recorded);
    const resumed = await registryFetch(server, token, location.toString(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${recorded}-${blob.length - 1}` },
      body: rest,
    });
    await expectStatus(resumed, 'PATCH', location.pathname, 202);
    expect(receivedBytes(resumed.headers.get('range'))).toBe(blob.length);

    const finish = new URL(resumed.headers.get('location') ?? '', server.registryUrl);
    finish.searchParams.set('digest', digest);
    const put = await registryFetch(server, token, finish.toString(), { method: 'PUT' });
    await expectStatus(put, 'PUT', finish.pathname, 201);
    expect(put.headers.get('docker-content-digest')).toBe(digest);

    const done = await registryFetch(server, token, blobPath, { method: 'HEAD' });
    await expectStatus(done, 'HEAD', blobPath, 200);
    expect(done.headers.get('content-length')).toBe(String(blob.length));
    expect(done.headers.get('docker-content-digest')).toBe(digest);
    const fetched = await registryFetch(server, token, blobPath);
    await expectStatus(fetched, 'GET', blobPath, 200);
    expect(createHash('sha256').update(Buffer.from(await fetched.arrayBuffer())).digest('hex')).toBe(digest.slice('sha256:'.length));
  });

  test('a manifest PUT interrupted by SIGKILL is either wholly there or absent, and the push then completes', async () => {
    const repository = 'manifests';
    let token = await pushToken(repository);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = randomBytes(4096);
    const configDigest = await uploadBlob(token, repository, config);
    const layerDigest = await uploadBlob(token, repository, layer);

    const manifestFor = (attempt: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
          annotations: { 'org.example.attempt': attempt },
        }),
      );

    const tagsOf = async (): Promise<string[]> => {
      const path = `/v2/${registry}/${repository}/tags/list`;
      const response = await registryFetch(server, token, path);
      if (response.status === 404) return [];
      await expectStatus(response, 'GET', path, 200);
      return ((await response.json()) as { tags: string[] | null }).tags ?? [];
    };

    /** Both views agree: the tag resolves exactly when the manifest can be fetched by digest. */
    const expectWholeOrAbsent = async (tag: string, manifest: Buffer): Promise<boolean> => {
      const digest = sha256Digest(manifest);
      const accept = { accept: OCI_MANIFEST };
      const byTag = await registryFetch(server, token, `/v2/${registry}/${repository}/manifests/${tag}`, { headers: accept });
      const byDigest = await registryFetch(server, token, `/v2/${registry}/${repository}/manifests/${digest}`, { headers: accept });
      const state = `tag ${tag}: ${await describeResponse('GET', 'by tag', byTag)}\n${await describeResponse('GET', 'by digest', byDigest)}`;
      expect([200, 404], state).toContain(byTag.status);
      expect(byDigest.status, `half-written manifest: ${state}`).toBe(byTag.status);
      expect((await tagsOf()).includes(tag), `tags/list disagrees: ${state}`).toBe(byTag.status === 200);
      if (byTag.status === 200) {
        for (const response of [byTag, byDigest]) {
          expect(Buffer.from(await response.arrayBuffer()).equals(manifest), state).toBe(true);
          expect(response.headers.get('docker-content-digest')).toBe(digest);
        }
        return true;
      }
      return false;
    };

    const putManifest = async (tag: string, manifest: Buffer) => {
      const path = `/v2/${registry}/${repository}/manifests/${tag}`;
      const response = await registryFetch(server, token, path, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: manifest });
      await expectStatus(response, 'PUT', path, 201);
      expect(response.headers.get('docker-content-digest')).toBe(sha256Digest(manifest));
    };

    // Killed with half the body sent: the manifest cannot exist.
    {
      const tag = 'half-body';
      const manifest = manifestFor(tag);
      const url = new URL(`/v2/${registry}/${repository}/manifests/${tag}`, server.registryUrl);
      const inflight = partialRequest(url, 'PUT', { authorization: `Bearer ${token}`, 'content-type': OCI_MANIFEST }, manifest, Math.floor(manifest.length / 2));
      await inflight.written;
      await new Promise((r) => setTimeout(r, 100));
      await server.kill();
      await inflight.settled;
      await server.restart();
      token = await pushToken(repository);
      expect(await expectWholeOrAbsent(tag, manifest)).toBe(false);
      await putManifest(tag, manifest);
      expect(await expectWholeOrAbsent(tag, manifest)).toBe(true);
    }

    // Whole body sent, killed after a growing delay: racing the server's write.
    const outcomes: string[] = [];
    for (const delayMs of [0, 2, 5, 10, 25]) {
      const tag = `race-${delayMs}`;
      const manifest = manifestFor(tag);
      const url = new URL(`/v2/${registry}/${repository}/manifests/${tag}`, server.registryUrl);
      const inflight = partialRequest(url, 'PUT', { authorization: `Bearer ${token}`, 'content-type': OCI_MANIFEST }, manifest, manifest.length);
      await inflight.written;
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      await server.kill();
      const answered = await inflight.settled;
      await server.restart();
      token = await pushToken(repository);
      const present = await expectWholeOrAbsent(tag, manifest);
      if (answered.status === 201) expect(present, `PUT answered 201 before the kill, so ${tag} must survive`).toBe(true);
      outcomes.push(`${delayMs} ms: ${present ? 'present' : 'absent'}${answered.status ? ` (answered ${answered.status})` : ''}`);
      // Complete the push (again, if it had landed: PUT is idempotent).
      await putManifest(tag, manifest);
      expect(await expectWholeOrAbsent(tag, manifest)).toBe(true);
    }
    console.log(`manifest PUT kill races: ${outcomes.join('; ')}`);
    expect((await tagsOf()).sort()).toEqual(['half-body', 'race-0', 'race-10', 'race-2', 'race-25', 'race-5']);
  });
});
