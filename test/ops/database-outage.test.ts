/**
 * PostgreSQL stopped and started again under load, with Berth running on a cluster of its own
 * (so this file stops only its own database, whichever project runs it): answers are 503 in
 * each listener's error shape, /healthz names the database, /readyz fails, /livez does not; a
 * push that fails leaves nothing half-visible; once the database is back the same process
 * serves everything again, including an upload interrupted by the outage. In process: a read
 * waits (retrying with backoff) for the database to return, a write fails at once.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createContext } from '../../src/context.js';
import { connectDatabase } from '../../src/db/index.js';
import { createMemoryDriver } from '../../src/storage/index.js';
import { makeTempDir } from '../support/tmp.js';
import { AppError } from '../../src/errors/index.js';
import { OCI_MANIFEST, sha256Digest } from '../support/images.js';
import { createPostgresDatabase } from '../support/database.js';
import { freePort, startPostgresCluster, type PostgresCluster } from '../support/postgres.js';
import { basicAuth, registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';
import { eventually, pushBlob, pushImage, scrape, startUpload, sleep, total } from './support.js';

let cluster: PostgresCluster;
/** Whether a test left the cluster stopped (it failed midway): the next one needs it running. */
let paused = false;

async function pause(): Promise<void> {
  await cluster.pause();
  paused = true;
}

async function resume(): Promise<void> {
  await cluster.resume();
  paused = false;
}

function newDatabase(): Promise<string> {
  return createPostgresDatabase(cluster.url, 'o');
}

interface Attempt {
  kind: 'read' | 'write';
  status: number;
  code?: string;
  digest?: string;
  bytes?: Buffer;
}

describe('database outage', { timeout: 180_000 }, () => {
  let server: TestServer;
  let metricsUrl: string;
  let registry: string;
  let repo: string;
  let credentials: Credentials;
  let token: string;

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    server = await startServer({ databaseUrl: await newDatabase(), args: ['--metrics-listen', `127.0.0.1:${port}`] });
    registry = uniqueName('outage');
    repo = `${registry}/app`;
    await server.createRegistry(registry);
    credentials = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
    token = await registryToken(server, credentials, `repository:${repo}:pull,push`);
  });

  afterEach(async () => {
    if (paused) await resume();
  });

  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  test('PostgreSQL stopped under load: 503s in both shapes, health names it, nothing partial; full service when it returns, same process', async () => {
    const pid = server.process.pid;
    const image = await pushImage(server, token, repo, 'before');
    // An upload with its first chunk recorded; its second chunk will meet the outage.
    const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024)];
    const uploadBytes = Buffer.concat(chunks);
    const uploadUrl = await startUpload(server, token, repo, chunks[0]!);

    // Load: one client reading a manifest, one pushing blobs, all the way through the outage.
    const attempts: Attempt[] = [];
    let stop = false;
    const record = async (kind: Attempt['kind'], res: Response, extra: Partial<Attempt> = {}) => {
      const text = await res.text();
      const attempt: Attempt = { kind, status: res.status, ...extra };
      if (res.status >= 500) attempt.code = (JSON.parse(text) as { errors: { code: string }[] }).errors[0]!.code;
      attempts.push(attempt);
    };
    const reader = (async () => {
      while (!stop) {
        await record('read', await registryFetch(server, token, `/v2/${repo}/manifests/before`, { headers: { accept: OCI_MANIFEST } }));
      }
    })();
    const writer = (async () => {
      while (!stop) {
        const bytes = randomBytes(16 * 1024);
        const digest = sha256Digest(bytes);
        const res = await registryFetch(server, token, `/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
        await record('write', res, { digest, bytes });
        await sleep(20);
      }
    })();
    // A failed assertion below must not leave the load running against a server being stopped.
    const load = Promise.all([reader, writer]);
    load.catch(() => undefined);
    onTestFinished(async () => {
      stop = true;
      await load.catch(() => undefined);
    });
    await sleep(300);
    await pause();
    const outageStarted = attempts.length;

    // The registry listener: OCI's shape.
    const manifest = await registryFetch(server, token, `/v2/${repo}/manifests/before`);
    expect(manifest.status).toBe(503);
    expect(manifest.headers.get('retry-after')).toBe('5');
    expect(await manifest.json()).toEqual({ errors: [{ code: 'UNAVAILABLE', message: 'the metadata database is unavailable; try again shortly' }] });
    const tokenRes = await fetch(`${server.registryUrl}/auth/token?service=${server.registryHost}&scope=repository:${repo}:pull`, { headers: { authorization: basicAuth(credentials) } });
    expect(tokenRes.status).toBe(503);
    expect(((await tokenRes.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('UNAVAILABLE');
    // The API listener: DigitalOcean's shape, with the request id.
    const api = await server.api('/v2/registries');
    expect(api.status).toBe(503);
    expect(await api.json()).toEqual({ id: 'server_error', message: 'the metadata database is unavailable; try again shortly', request_id: api.headers.get('x-request-id') });
    // The interrupted upload's second chunk.
    const second = await registryFetch(server, token, uploadUrl.toString(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${chunks[0]!.length}-${uploadBytes.length - 1}` },
      body: chunks[1],
    });
    expect(second.status).toBe(503);

    // Health: the database is named; not ready; still alive.
    for (const base of [server.apiUrl, server.registryUrl, metricsUrl]) {
      const health = await fetch(`${base}/healthz`);
      expect(health.status, `${base}/healthz`).toBe(503);
      const report = (await health.json()) as { status: string; checks: { database: { status: string; error: string }; storage: { status: string } } };
      expect(report.status).toBe('unavailable');
      expect(report.checks.database.status).toBe('down');
      expect(report.checks.database.error).toMatch(/ECONNREFUSED|terminat|shut/i);
      expect(report.checks.storage.status).toBe('ok');
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status, `${base}/readyz`).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/^database is down/);
      expect((await fetch(`${base}/livez`)).status, `${base}/livez`).toBe(200);
    }
    const during = await scrape(metricsUrl);
    expect(total(during, 'berth_dependency_up', { dependency: 'database' })).toBe(0);
    expect(total(during, 'berth_database_errors_total', { reason: 'unavailable' })).toBeGreaterThan(0);
    // Reads retried with backoff before they gave up; writes did not wait.
    expect(total(during, 'berth_database_retries_total')).toBeGreaterThan(0);
    await eventually(async () => expect(attempts.length).toBeGreaterThan(outageStarted + 4), 20_000);

    await resume();
    await eventually(async () => expect((await fetch(`${server.registryUrl}/readyz`)).status).toBe(200), 30_000, 200);
    const settled = attempts.length;
    await eventually(async () => expect(attempts.filter((a, i) => i >= settled && a.status < 300).length).toBeGreaterThan(4), 20_000);
    stop = true;
    await load;
    expect(server.process.pid, 'Berth was restarted').toBe(pid);

    // Every answer under load was a success or a clean 503 — never a 500, never a hang.
    const statuses = new Set(attempts.map((a) => `${a.kind} ${a.status}${a.code ? ` ${a.code}` : ''}`));
    for (const s of statuses) expect(['read 200', 'read 503 UNAVAILABLE', 'write 201', 'write 503 UNAVAILABLE']).toContain(s);
    expect(statuses).toContain('read 503 UNAVAILABLE');
    expect(statuses).toContain('write 503 UNAVAILABLE');
    // Nothing partial: a blob is visible only whole, and only when its push succeeded.
    for (const write of attempts.filter((a) => a.kind === 'write')) {
      const res = await registryFetch(server, token, `/v2/${repo}/blobs/${write.digest}`);
      const body = Buffer.from(await res.arrayBuffer());
      if (write.status === 201) expect(res.status, `${write.digest} was pushed`).toBe(200);
      else expect(res.status, `${write.digest} failed with 503`).toBe(404);
      if (res.status === 200) expect(body.equals(write.bytes!)).toBe(true);
    }

    // The interrupted upload resumes where the server says, and completes with the right digest.
    const status = await registryFetch(server, token, uploadUrl.toString());
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${chunks[0]!.length - 1}`);
    const again = await registryFetch(server, token, uploadUrl.toString(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${chunks[0]!.length}-${uploadBytes.length - 1}` },
      body: chunks[1],
    });
    expect(again.status).toBe(202);
    const done = new URL(again.headers.get('location')!, server.registryUrl);
    done.searchParams.set('digest', sha256Digest(uploadBytes));
    expect((await registryFetch(server, token, done.toString(), { method: 'PUT' })).status).toBe(201);
    const pulled = await registryFetch(server, token, `/v2/${repo}/blobs/${sha256Digest(uploadBytes)}`);
    expect(sha256Digest(Buffer.from(await pulled.arrayBuffer()))).toBe(sha256Digest(uploadBytes));

    // Everything else too: reads, new pushes, the API, health.
    const read = await registryFetch(server, token, `/v2/${repo}/manifests/before`, { headers: { accept: OCI_MANIFEST } });
    expect(sha256Digest(Buffer.from(await read.arrayBuffer()))).toBe(image.digest);
    await pushImage(server, token, repo, 'after');
    expect((await server.api('/v2/registries')).status).toBe(200);
    expect((await fetch(`${server.apiUrl}/healthz`)).status).toBe(200);
    await pushBlob(server, await registryToken(server, credentials, `repository:${repo}:pull,push`), repo, randomBytes(100));
  });

  test('in process: a read waits for the database to come back; a write fails at once', async () => {
    const db = connectDatabase({ dialect: 'postgres', url: await newDatabase() }, { availability: { readRetryBudgetMs: 120_000 } });
    try {
      await db.schema.createTable('things').addColumn('id', 'text').execute();
      await pause();
      const write = db.schema.createTable('other').addColumn('id', 'text').execute();
      await expect(write).rejects.toSatisfy((err) => err instanceof AppError && err.code === 'UNAVAILABLE');
      let settled = false;
      const read = db
        .selectFrom('things' as never)
        .selectAll()
        .execute()
        .finally(() => (settled = true));
      await sleep(1_000);
      expect(settled, 'the read gave up while the database was down').toBe(false);
      await resume();
      expect(await read).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  test('in process: a chunk whose bytes were stored but not recorded (database gone meanwhile) is sent again and the digest is right', async () => {
    const config = loadConfig({ dataDir: await makeTempDir('upload'), databaseUrl: await newDatabase(), logLevel: 'silent' }, {});
    const ctx = await createContext(config, { driver: createMemoryDriver() });
    try {
      const team = await ctx.teams.create('outage');
      const registry = await ctx.registries.create(team.id, { name: uniqueName('up'), tierSlug: 'professional' });
      const repository = await ctx.repositories.ensure(registry.id, 'app');
      const chunks = [randomBytes(10_000), randomBytes(10_000)];
      const upload = await ctx.uploads.start(repository.id);
      await ctx.uploads.append(repository.id, upload.id, [chunks[0]!][Symbol.iterator]() as never, 0);
      // The second chunk reaches storage; the database stops before its offset is recorded.
      async function* stopsTheDatabase(): AsyncIterable<Buffer> {
        yield chunks[1]!;
        await pause();
      }
      await expect(ctx.uploads.append(repository.id, upload.id, stopsTheDatabase(), 10_000)).rejects.toSatisfy((err) => err instanceof AppError && err.code === 'UNAVAILABLE');
      await resume();
      // The client asks where to continue and sends the chunk again.
      expect((await ctx.uploads.get(repository.id, upload.id)).received_bytes).toBe(10_000);
      await ctx.uploads.append(repository.id, upload.id, (async function* () {
        yield chunks[1]!;
      })(), 10_000);
      const whole = Buffer.concat(chunks);
      expect(await ctx.uploads.complete(repository.id, upload.id, sha256Digest(whole), undefined)).toEqual({ digest: sha256Digest(whole), size: 20_000 });
    } finally {
      await ctx.close();
    }
  });
});
