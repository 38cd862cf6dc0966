/**
 * S3 taken away from a running Berth and given back. Berth runs on a radosgw of its own (one
 * more gateway on the run's cluster, so the shared one keeps serving the other tests), which is
 * killed under load and started again: blob reads and pushes answer 503 UNAVAILABLE in the
 * OCI shape with Retry-After, /healthz names the blob store as down, /readyz fails on both
 * listeners, /livez does not, the API and the token service keep answering from the database;
 * nothing a failed push wrote becomes visible; once the gateway is back the same process
 * serves everything again, including the upload the outage interrupted. In process, through a
 * relay whose connections the test resets: a read that meets a short network failure is
 * retried with backoff and succeeds; a longer one ends, after a bounded number of tries, in
 * UNAVAILABLE.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AppError } from '../../src/errors/index.js';
import { createS3Driver } from '../../src/storage/s3.js';
import { S3_ATTEMPTS } from '../../src/storage/s3-bucket.js';
import { blobKey } from '../../src/storage/index.js';
import { startGateway, type Gateway } from '../support/ceph.js';
import { OCI_MANIFEST, sha256Digest } from '../support/images.js';
import { freePort } from '../support/postgres.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';
import { testS3, testS3Options } from '../support/storage.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { eventually, pushImage, scrape, sleep, total, withStorage } from './support.js';

interface Attempt {
  kind: 'read' | 'write';
  status: number | 'aborted';
  code?: string;
  retryAfter?: string | null;
  digest?: string;
  bytes?: Buffer;
}

interface Health {
  status: string;
  checks: Record<'database' | 'storage', { status: string; kind?: string; error?: string }>;
}

describe('S3 outage', { timeout: 240_000 }, () => {
  let gateway: Gateway;
  let server: TestServer;
  let prefix: string;
  let storageUrl: string;
  let metricsUrl: string;
  let registry: string;
  let repo: string;
  let credentials: Credentials;
  let token: string;

  beforeAll(async () => {
    const s3 = testS3();
    if (!s3.cephConf) throw new Error('the S3 outage test starts a gateway of its own on the run\'s Ceph cluster: set BERTH_TEST_CEPH_CONF with BERTH_TEST_S3_ENDPOINT');
    gateway = await startGateway(s3.cephConf);
    prefix = `outage-${randomBytes(6).toString('hex')}`;
    storageUrl = `s3://${s3.bucket}/${prefix}?endpoint=${encodeURIComponent(gateway.endpoint)}&region=us-east-1&force-path-style=true`;
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    server = await startServer({ storageUrl, args: ['--metrics-listen', `127.0.0.1:${port}`] });
    registry = uniqueName('s3out');
    repo = `${registry}/app`;
    await server.createRegistry(registry);
    credentials = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
    token = await registryToken(server, credentials, `repository:${repo}:pull,push`);
  });

  afterAll(async () => {
    await server?.stop();
    await gateway?.stop();
  });

  /** The run's own gateway, untouched by the outage: what the bucket really holds under our prefix. */
  const bucketObject = (key: string) =>
    withStorage(`s3://${testS3().bucket}/${prefix}?endpoint=${encodeURIComponent(testS3().endpoint)}&region=us-east-1&force-path-style=true`, async (driver) => {
      const stat = await driver.stat(key);
      if (!stat) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of await driver.read(key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    });

  const health = async (base: string): Promise<{ status: number; body: Health }> => {
    const res = await fetch(`${base}/healthz`);
    return { status: res.status, body: (await res.json()) as Health };
  };

  test('radosgw killed under load: 503s in the OCI shape, health names the blob store, nothing partial; full service when it returns, same process', async () => {
    const pid = server.process.pid;
    const image = await pushImage(server, token, repo, 'before', 64 * 1024);
    // An upload with its first chunk stored (an S3 tail object); its second meets the outage.
    const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024)];
    const started = await registryFetch(server, token, `/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const first = await registryFetch(server, token, new URL(started.headers.get('location')!, server.registryUrl).toString(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${chunks[0]!.length - 1}` },
      body: chunks[0],
    });
    expect(first.status).toBe(202);
    const uploadUrl = new URL(first.headers.get('location')!, server.registryUrl);

    // Load all the way through the outage: one client pulling the layer, one pushing blobs.
    const attempts: Attempt[] = [];
    let stop = false;
    const record = async (kind: Attempt['kind'], res: Response, extra: Partial<Attempt> = {}) => {
      const attempt: Attempt = { kind, status: res.status, retryAfter: res.headers.get('retry-after'), ...extra };
      try {
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status >= 500) attempt.code = (JSON.parse(body.toString('utf8')) as { errors: { code: string }[] }).errors[0]!.code;
        if (kind === 'read' && res.status === 200) attempt.bytes = body;
      } catch {
        attempt.status = 'aborted'; // the gateway died while the bytes were on their way
      }
      attempts.push(attempt);
    };
    const reader = (async () => {
      while (!stop) await record('read', await registryFetch(server, token, `/v2/${repo}/blobs/${image.layer}`));
    })();
    const writer = (async () => {
      while (!stop) {
        const bytes = randomBytes(16 * 1024);
        const digest = sha256Digest(bytes);
        const res = await registryFetch(server, token, `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: bytes,
        });
        await record('write', res, { digest, bytes });
      }
    })();
    const failures = (kind: Attempt['kind']) => attempts.filter((a) => a.kind === kind && a.status === 503).length;
    await eventually(async () => expect(attempts.filter((a) => a.status === 201).length).toBeGreaterThanOrEqual(3), 30_000);

    await gateway.kill();
    try {
      await eventually(async () => {
        expect(failures('read')).toBeGreaterThanOrEqual(2);
        expect(failures('write')).toBeGreaterThanOrEqual(2);
      }, 60_000);

      // The interrupted upload: its next chunk is refused and not recorded.
      const second = await registryFetch(server, token, uploadUrl.toString(), {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${chunks[0]!.length}-${chunks[0]!.length + chunks[1]!.length - 1}` },
        body: chunks[1],
      });
      expect(second.status).toBe(503);
      expect(((await second.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('UNAVAILABLE');
      const status = await registryFetch(server, token, uploadUrl.toString());
      expect([status.status, status.headers.get('range')]).toEqual([204, `0-${chunks[0]!.length - 1}`]);

      // Health names the blob store; readiness fails on both listeners; liveness does not.
      const down = await eventually(async () => {
        const h = await health(server.apiUrl);
        expect(h.status).toBe(503);
        expect(h.body.checks.storage.status).toBe('down');
        return h.body;
      });
      expect(down.status).toBe('unavailable');
      expect(down.checks.storage.kind).toBe('s3');
      expect(down.checks.storage.error).toMatch(/ECONNREFUSED|unavailable|no answer/);
      expect(down.checks.database.status).toBe('ok');
      for (const base of [server.apiUrl, server.registryUrl, metricsUrl]) {
        const ready = await fetch(`${base}/readyz`);
        expect(ready.status, `${base}/readyz`).toBe(503);
        expect(((await ready.json()) as { reason: string }).reason).toMatch(/^storage is down: /);
        expect((await fetch(`${base}/livez`)).status, `${base}/livez`).toBe(200);
      }
      // What needs only the database keeps working: the API, and the token service.
      expect((await server.api(`/v2/registries/${registry}/repositoriesV2`)).status).toBe(200);
      expect(await registryToken(server, credentials, `repository:${repo}:pull`)).toMatch(/^eyJ/);
      const metrics = await scrape(metricsUrl);
      expect(total(metrics, 'berth_dependency_up', { dependency: 'storage' })).toBe(0);
      expect(total(metrics, 'berth_storage_errors_total', { reason: 'unavailable' })).toBeGreaterThan(0);
    } finally {
      await gateway.restart();
    }

    // Back: the same process serves everything again, without a restart.
    await eventually(async () => expect((await health(server.apiUrl)).status).toBe(200), 30_000);
    for (const base of [server.apiUrl, server.registryUrl]) expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const before = attempts.length;
    await eventually(async () => expect(attempts.slice(before).filter((a) => a.status === 201).length).toBeGreaterThanOrEqual(2), 30_000);
    stop = true;
    await Promise.all([reader, writer]);
    expect(server.process.pid).toBe(pid);
    expect(server.process.exitCode).toBeNull();

    // Every answer was a success or a clean 503 (never another 5xx); each 503 said when to retry.
    const refused = attempts.filter((a) => a.status !== 200 && a.status !== 201 && a.status !== 'aborted');
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect([a.kind, a.status, a.code, a.retryAfter]).toEqual([a.kind, 503, 'UNAVAILABLE', '5']);
    // Reads that succeeded carried the right bytes.
    for (const a of attempts.filter((x) => x.kind === 'read' && x.status === 200)) expect(sha256Digest(a.bytes!)).toBe(image.layer);
    // Pushes that succeeded are there, whole; pushes that failed left nothing visible, nothing partial.
    const pull = await registryToken(server, credentials, `repository:${repo}:pull`);
    for (const a of attempts.filter((x) => x.kind === 'write')) {
      const head = await registryFetch(server, pull, `/v2/${repo}/blobs/${a.digest}`, { method: 'HEAD' });
      if (a.status === 201) {
        expect(head.status, a.digest).toBe(200);
        const res = await registryFetch(server, pull, `/v2/${repo}/blobs/${a.digest}`);
        expect(Buffer.from(await res.arrayBuffer()).equals(a.bytes!)).toBe(true);
      } else if (a.status === 503) {
        expect(head.status, `${a.digest} was refused but is visible`).toBe(404);
        // Bytes S3 took just before the crash may sit unreferenced (garbage collection removes
        // them); they are whole or absent, never part of a blob.
        const stored = await bucketObject(blobKey(a.digest!));
        if (stored) expect(sha256Digest(stored)).toBe(a.digest);
      }
    }

    // The interrupted upload continues where the outage left it.
    const resumed = await registryFetch(server, token, uploadUrl.toString(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${chunks[0]!.length}-${chunks[0]!.length + chunks[1]!.length - 1}` },
      body: chunks[1],
    });
    expect(resumed.status).toBe(202);
    const finish = new URL(resumed.headers.get('location')!, server.registryUrl);
    const whole = Buffer.concat(chunks);
    finish.searchParams.set('digest', sha256Digest(whole));
    expect((await registryFetch(server, token, finish.toString(), { method: 'PUT' })).status).toBe(201);
    const pulled = await registryFetch(server, pull, `/v2/${repo}/blobs/${sha256Digest(whole)}`);
    expect(Buffer.from(await pulled.arrayBuffer()).equals(whole)).toBe(true);
    const manifest = await registryFetch(server, pull, `/v2/${repo}/manifests/before`, { headers: { accept: OCI_MANIFEST } });
    expect(sha256Digest(Buffer.from(await manifest.arrayBuffer()))).toBe(image.digest);
    expect(total(await scrape(metricsUrl), 'berth_dependency_up', { dependency: 'storage' })).toBe(1);
  });

  describe('reads through a failing network', () => {
    let relay: TcpRelay;
    const key = `blobs/sha256/00/${'0'.repeat(62)}ff`;
    const bytes = randomBytes(32 * 1024);

    beforeAll(async () => {
      const shared = new URL(testS3().endpoint);
      relay = await startTcpRelay({ host: shared.hostname, port: Number(shared.port) });
    });

    afterAll(async () => {
      await relay?.close();
    });

    const driverThroughRelay = (p: string) => createS3Driver({ ...testS3Options(p), endpoint: `http://127.0.0.1:${relay.port}` });

    test('a short failure is retried with backoff and never seen; a long one ends in UNAVAILABLE after a bounded number of tries', async () => {
      const p = `relay-${randomBytes(6).toString('hex')}`;
      const driver = driverThroughRelay(p);
      try {
        await driver.put(key, bytes);

        // Two connections reset, then the network is back: the read succeeds.
        const failedBefore = relay.failed;
        relay.failNext(2);
        const chunks: Buffer[] = [];
        for await (const chunk of await driver.read(key)) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
        expect(relay.failed - failedBefore).toBe(2);
        expect(await driver.stat(key)).toEqual({ size: bytes.length });

        // Longer than the retries: one clear error after at most S3_ATTEMPTS tries.
        const failedAt = relay.failed;
        relay.failNext(1_000);
        const startedAt = Date.now();
        const err = await driver.read(key).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AppError);
        expect([(err as AppError).code, (err as AppError).status, (err as AppError).headers['Retry-After']]).toEqual(['UNAVAILABLE', 503, '5']);
        expect((err as AppError).message).toBe('the blob store is unavailable; try again shortly');
        const tries = relay.failed - failedAt;
        expect(tries).toBeGreaterThan(1);
        expect(tries).toBeLessThanOrEqual(S3_ATTEMPTS);
        expect(Date.now() - startedAt).toBeLessThan(30_000);
        relay.failNext(0);
        await sleep(10);
        expect(await driver.stat(key)).toEqual({ size: bytes.length });
      } finally {
        await driver.delete(key).catch(() => undefined);
        await driver.close?.();
      }
    });
  });
});
