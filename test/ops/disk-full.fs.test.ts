/**
 * A full disk under the filesystem driver: the blob store on a small tmpfs, filled almost to
 * the brim. Pushes are answered 507 with a clear message (monolithic and chunked), nothing
 * half-written becomes visible or stays behind, pulls keep working, /healthz says the store is
 * full while /readyz stays ready; once space is freed the same pushes succeed. Mounting needs
 * root: elsewhere the file is skipped, under CI it fails.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Digest } from '../support/images.js';
import { freePort } from '../support/postgres.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { isCI } from '../support/tools.js';
import { pushImage, scrape, total } from './support.js';

const MiB = 1024 * 1024;

/** Whether this machine lets us mount a tmpfs (root, and mount(8) present); why not otherwise. */
function mountProblem(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'mounting a size-limited tmpfs needs root';
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'mount(8) is missing';
  }
  return undefined;
}

const problem = mountProblem();
if (problem && isCI()) throw new Error(`disk-full tests: ${problem}; CI=true, so this is a failure, not a skip`);

describe.skipIf(problem !== undefined)('a full disk', { timeout: 120_000 }, () => {
  let mountpoint: string;
  let mounted = false;
  let server: TestServer;
  let metricsUrl: string;
  let repo: string;
  let token: string;

  beforeAll(async () => {
    mountpoint = await makeTempDir('tmpfs');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m,mode=0755', 'berth-test', mountpoint], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(`cannot mount a 12 MiB tmpfs on ${mountpoint}: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
    }
    mounted = true;
    // Whatever happens, the mount goes when the test process ends.
    process.once('exit', () => {
      if (mounted) execFileSync('umount', ['-l', mountpoint], { stdio: 'ignore' });
    });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    server = await startServer({ storageUrl: `file:${join(mountpoint, 'store')}`, args: ['--metrics-listen', `127.0.0.1:${port}`] });
    const registry = uniqueName('full');
    repo = `${registry}/app`;
    await server.createRegistry(registry);
    const credentials = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
    token = await registryToken(server, credentials, `repository:${repo}:pull,push`);
  });

  afterAll(async () => {
    await server?.stop();
    if (mounted) {
      execFileSync('umount', [mountpoint]);
      mounted = false;
      rmSync(mountpoint, { recursive: true, force: true });
    }
  });

  /** Leaves about `free` bytes on the tmpfs; returns the filler's path. */
  async function fill(free: number): Promise<string> {
    const filler = join(mountpoint, 'filler');
    const fs = await statfs(mountpoint);
    const available = fs.bavail * fs.bsize;
    await writeFile(filler, Buffer.alloc(Math.max(0, available - free)));
    return filler;
  }

  const upload = (path: string, init: RequestInit) => registryFetch(server, token, path, init);

  test('pushes get 507 and leave nothing behind, pulls keep working; after freeing space the pushes succeed', async () => {
    const image = await pushImage(server, token, repo, 'kept', 64 * 1024);
    const filler = await fill(512 * 1024);
    const big = randomBytes(3 * MiB);
    const bigDigest = sha256Digest(big);

    // A monolithic push.
    const mono = await upload(`/v2/${repo}/blobs/uploads/?digest=${bigDigest}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: big });
    expect(mono.status).toBe(507);
    const body = (await mono.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]!.code).toBe('UNAVAILABLE');
    expect(body.errors[0]!.message).toMatch(/^the blob store at .* is full \(no space left on the device\); free space and push again$/);
    expect((await upload(`/v2/${repo}/blobs/${bigDigest}`, { method: 'HEAD' })).status).toBe(404);

    // A chunked push: the failed chunk is not recorded, so the client resumes from where it was.
    const started = await upload(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, server.registryUrl);
    const patch = await upload(location.toString(), { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${big.length - 1}` }, body: big });
    expect(patch.status).toBe(507);
    const status = await upload(location.toString(), {});
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-0');
    // Nothing half-written stays behind: the session's file holds no byte, no temporary file is left.
    const uploadsDir = join(mountpoint, 'store', 'uploads');
    const leftovers = await readdir(uploadsDir);
    for (const name of leftovers) expect((await stat(join(uploadsDir, name))).size, name).toBe(0);
    expect(leftovers.length).toBeLessThanOrEqual(1);

    // Reads still work; health says what is wrong; the node stays ready.
    const pulled = await upload(`/v2/${repo}/manifests/kept`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(sha256Digest(Buffer.from(await pulled.arrayBuffer()))).toBe(image.digest);
    const health = await fetch(`${server.apiUrl}/healthz`);
    expect(health.status).toBe(503);
    const report = (await health.json()) as { checks: { storage: { status: string; error: string }; database: { status: string } } };
    expect(report.checks.storage.status).toBe('full');
    expect(report.checks.storage.error).toMatch(/ran out of space/);
    expect(report.checks.database.status).toBe('ok');
    expect((await fetch(`${server.registryUrl}/readyz`)).status).toBe(200);
    const metrics = await scrape(metricsUrl);
    expect(total(metrics, 'berth_storage_errors_total', { reason: 'full' })).toBeGreaterThanOrEqual(2);
    expect(total(metrics, 'berth_registry_requests_total', { status_class: '5xx' })).toBeGreaterThanOrEqual(2);

    // Free the space: the same pushes go through, intact.
    await rm(filler);
    const resumed = await upload(location.toString(), { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${big.length - 1}` }, body: big });
    expect(resumed.status).toBe(202);
    const finish = new URL(resumed.headers.get('location')!, server.registryUrl);
    finish.searchParams.set('digest', bigDigest);
    expect((await upload(finish.toString(), { method: 'PUT' })).status).toBe(201);
    const other = randomBytes(2 * MiB);
    expect((await upload(`/v2/${repo}/blobs/uploads/?digest=${sha256Digest(other)}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: other })).status).toBe(201);
    for (const [digest, bytes] of [[bigDigest, big], [sha256Digest(other), other]] as const) {
      const res = await upload(`/v2/${repo}/blobs/${digest}`, {});
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
    expect((await fetch(`${server.apiUrl}/healthz`)).status).toBe(200);
  });
});
