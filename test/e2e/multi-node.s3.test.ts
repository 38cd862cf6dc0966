/**
 * Scale-out, end to end: PostgreSQL, radosgw, three Berth nodes (`dist/main.js`) started at
 * once on an empty database, and HAProxy balancing them round-robin with no stickiness. Real
 * clients push and pull through HAProxy; a chunked push spreads its PATCHes over the nodes; a
 * node dies in the middle of a push; garbage collection runs on one node while pushes go
 * through the others; rate limits, revocations and read-only mode hold across nodes; and
 * `--role api|registry` nodes join. Runs in the postgres-s3 project (README "Scaling out").
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrations } from '../../src/db/migrations/index.js';
import { dockerRef, expectSuccess, isolatedPodman, PODMAN_TOOLS, skopeo, SKOPEO_TOOLS, type Podman } from '../support/clients.js';
import { testDatabaseUrl } from '../support/database.js';
import { run } from '../support/exec.js';
import { startHaproxy, HAPROXY_TOOLS, type Haproxy } from '../support/haproxy.js';
import { buildImage, IMAGE_TOOLS, resolveTag, sha256Digest, type SingleImage } from '../support/images.js';
import { freePort } from '../support/postgres.js';
import { MAIN_JS, startServer, uniqueName, type TestServer } from '../support/server.js';
import { testS3Env, testStorage, testStorageUrl } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

if (testStorage() !== 's3') throw new Error('*.s3.test.ts files run in the postgres-s3 project only');
const skip = requireTools([...SKOPEO_TOOLS, ...PODMAN_TOOLS, ...IMAGE_TOOLS, ...HAPROXY_TOOLS]);

const MiB = 1024 * 1024;
const RATE_LIMIT_PER_MINUTE = 40;

const portOf = (address: string) => Number(new URL(address.includes('://') ? address : `http://${address}`).port);

describe.skipIf(skip)('three nodes behind HAProxy', { timeout: 240_000 }, () => {
  const token = `dop_v1_${randomBytes(32).toString('hex')}`;
  let databaseUrl: string;
  let storageUrl: string;
  let nodeArgs: string[];
  let nodes: TestServer[] = [];
  const extra: TestServer[] = [];
  let lb: Haproxy;
  let db: pg.Client;
  let registry: string;
  let authfile: string;
  let password: string;
  let first: SingleImage;

  const backends = (servers: TestServer[]) => servers.map((n, i) => ({ name: `n${i + 1}`, registryPort: portOf(n.registryHost), apiPort: portOf(n.apiUrl) }));
  const lbServer = () => ({ registryHost: lb.registryHost }) as TestServer;
  const api = (path: string, init: RequestInit = {}, bearer = token) =>
    fetch(`${lb.apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${bearer}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    });
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  /** A JWT from the token service behind HAProxy, with the node that issued it. */
  async function jwt(scope: string, secret = password): Promise<{ status: number; token?: string; node: string | null }> {
    const query = new URLSearchParams({ service: lb.registryHost, scope });
    const res = await fetch(`http://${lb.registryHost}/auth/token?${query}`, { headers: { authorization: basic('x', secret) } });
    const body = res.status === 200 ? ((await res.json()) as { token: string }) : (await res.arrayBuffer(), undefined);
    return { status: res.status, token: body?.token, node: res.headers.get('x-node') };
  }
  const actionsOf = (jwtToken: string) =>
    (JSON.parse(Buffer.from(jwtToken.split('.')[1]!, 'base64url').toString('utf8')) as { access: { actions: string[] }[] }).access.flatMap((a) => a.actions);
  const skopeoCopy = (from: string, to: string) =>
    skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', '--authfile', authfile, from, to]);
  async function gcStatus(id: string): Promise<{ status: string; blobs_deleted: number }> {
    return (await db.query('SELECT status, blobs_deleted::int AS blobs_deleted FROM gc_runs WHERE id = $1', [id])).rows[0];
  }
  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** POST, PATCHes of `chunk` bytes (retried while HAProxy notices a dead node), PUT; all through HAProxy. */
  async function chunkedPush(repo: string, bytes: Buffer, chunk: number, afterPatch?: (index: number, node: string) => Promise<void>): Promise<string[]> {
    const push = (await jwt(`repository:${registry}/${repo}:pull,push`)).token!;
    const call = async (url: string, init: RequestInit): Promise<Response> => {
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(new URL(url, `http://${lb.registryHost}`), { ...init, headers: { authorization: `Bearer ${push}`, ...init.headers } }).catch(() => undefined);
        if (res && res.status !== 502 && res.status !== 503) return res;
        await res?.arrayBuffer();
        if (attempt >= 20) throw new Error(`${init.method} ${url}: no node answered`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const start = await call(`/v2/${registry}/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    let location = start.headers.get('location')!;
    const served: string[] = [];
    for (let at = 0, i = 0; at < bytes.length; at += chunk, i++) {
      const part = bytes.subarray(at, at + chunk);
      const res = await call(location, { method: 'PATCH', body: part, headers: { 'content-range': `${at}-${at + part.length - 1}`, 'content-type': 'application/octet-stream' } });
      expect(res.status, await res.clone().text()).toBe(202);
      served.push(res.headers.get('x-node')!);
      location = res.headers.get('location')!;
      await afterPatch?.(i, served.at(-1)!);
    }
    const digest = sha256Digest(bytes);
    const done = await call(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
    expect(done.status, await done.clone().text()).toBe(201);
    const back = await call(`/v2/${registry}/${repo}/blobs/${digest}`, { method: 'GET' });
    expect(createHash('sha256').update(Buffer.from(await back.arrayBuffer())).digest('hex')).toBe(digest.slice('sha256:'.length));
    return served;
  }

  beforeAll(async () => {
    databaseUrl = await testDatabaseUrl();
    storageUrl = testStorageUrl()!;
    const ports = { registry: await freePort(), api: await freePort() };
    nodeArgs = [
      '--registry-host', `127.0.0.1:${ports.registry}`,
      '--api-url', `http://127.0.0.1:${ports.api}`,
      '--gc-grace', '5s',
      '--rate-limit-per-minute', String(RATE_LIMIT_PER_MINUTE),
    ];
    // Three nodes at once on an empty database: migrations, bootstrap and signing keys race.
    nodes = await Promise.all([0, 1, 2].map(() => startServer({ token, databaseUrl, storageUrl, args: nodeArgs })));
    lb = await startHaproxy(backends(nodes), ports);
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    registry = uniqueName('scale');
    expect((await api('/v2/registries', { method: 'POST', body: JSON.stringify({ name: registry, subscription_tier_slug: 'professional' }) })).status).toBe(201);
    const config = (await (await api(`/v2/registries/${registry}/docker-credentials?read_write=true`)).json()) as { auths: Record<string, { auth: string }> };
    password = Buffer.from(config.auths[lb.registryHost]!.auth, 'base64').toString('utf8').split(':')[1]!;
    authfile = join(await makeTempDir('lb-auth'), 'auth.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(authfile, JSON.stringify(config)));
    first = await buildImage({ randomLayerBytes: 12 * MiB });
  }, 180_000); // servers, an image and its push: slow on a busy machine

  afterAll(async () => {
    await lb?.stop();
    await db?.end();
    await Promise.all([...nodes, ...extra].map((n) => n.stop().catch(() => undefined)));
  });

  test('nodes started at once on an empty database share one bootstrap team, one schema and their keys', async () => {
    expect((await db.query("SELECT count(*)::int AS n FROM teams WHERE name = 'default'")).rows[0].n).toBe(1);
    expect((await db.query('SELECT count(*)::int AS n FROM kysely_migration')).rows[0].n).toBe(Object.keys(migrations).length);
    // A JWT issued by any node is accepted by every node.
    const issued = await jwt(`repository:${registry}/app:pull`);
    for (const node of nodes) {
      const res = await fetch(`${node.registryUrl}/v2/${registry}/app/tags/list`, { headers: { authorization: `Bearer ${issued.token}` } });
      expect([200, 404]).toContain(res.status);
      expect((await fetch(`${node.apiUrl}/v2/registries/${registry}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
  });

  test('skopeo pushes and skopeo and podman pull through HAProxy', async () => {
    expectSuccess(await skopeoCopy(first.ref, dockerRef(lbServer(), `${registry}/app`, 'v1')));
    const out = await makeTempDir('lb-out');
    expectSuccess(await skopeoCopy(dockerRef(lbServer(), `${registry}/app`, 'v1'), `oci:${out}:v1`));
    expect((await resolveTag(out, 'v1')).digest).toBe(first.digest);
    for (const digest of [first.config, ...first.layers]) {
      expect(sha256Digest(await readFile(join(out, 'blobs', 'sha256', digest.slice('sha256:'.length))))).toBe(digest);
    }
    const podman: Podman = await isolatedPodman();
    try {
      expectSuccess(await podman.run(['login', '--tls-verify=false', '--authfile', podman.authfile, '-u', 'x', '-p', password, lb.registryHost]));
      expectSuccess(await podman.run(['pull', '--tls-verify=false', '--authfile', podman.authfile, `${lb.registryHost}/${registry}/app:v1`]));
      const inspected = expectSuccess(await podman.run(['image', 'inspect', '--format', '{{.Digest}}', `${lb.registryHost}/${registry}/app:v1`]));
      expect(inspected.stdout.trim()).toBe(first.digest);
    } finally {
      await podman.cleanup();
    }
  });

  test('a chunked push of 1 MiB PATCHes lands on every node', async () => {
    const served = await chunkedPush('chunked', randomBytes(9 * MiB + 17), MiB);
    expect(new Set(served)).toEqual(new Set(['n1', 'n2', 'n3']));
  });

  test('a node killed in the middle of a push: the client finishes through the others', async () => {
    let victim: TestServer | undefined;
    const served = await chunkedPush('killed', randomBytes(10 * MiB), MiB, async (index, node) => {
      if (index === 3) {
        victim = nodes[Number(node.slice(1)) - 1]!;
        await victim.kill();
      }
    });
    expect(victim).toBeDefined();
    const victimName = `n${nodes.indexOf(victim!) + 1}`;
    expect(served.slice(4)).not.toContain(victimName);
    await victim!.restart();
    // HAProxy brings it back after its next health check.
    await waitFor('the restarted node in rotation', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await fetch(`${lb.apiUrl}/healthz`)).headers.get('x-node')!);
      return seen.has(victimName) ? true : undefined;
    });
  });

  test('garbage collection on one node while pushes go through the others loses no image', async () => {
    const doomed = await buildImage();
    expectSuccess(await skopeoCopy(doomed.ref, dockerRef(lbServer(), `${registry}/doomed`, 'v1')));
    expect((await api(`/v2/registries/${registry}/repositories/doomed/tags/v1`, { method: 'DELETE' })).status).toBe(204);
    const fresh = await Promise.all([0, 1, 2].map(() => buildImage({ randomLayerBytes: 3 * MiB })));
    await new Promise((resolve) => setTimeout(resolve, 5_500)); // past the grace period

    const started = await fetch(`${nodes[0]!.apiUrl}/v2/registries/${registry}/garbage-collection`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'untagged manifests and unreferenced blobs' }),
    });
    expect(started.status).toBe(201);
    const run = ((await started.json()) as { garbage_collection: { uuid: string } }).garbage_collection;
    const pushes = fresh.map((image, i) => skopeoCopy(image.ref, dockerRef(lbServer(), `${registry}/fresh${i}`, 'v1')));
    const finished = await waitFor('the collection to end', async () => {
      const s = await gcStatus(run.uuid);
      return ['succeeded', 'failed', 'cancelled'].includes(s.status) ? s : undefined;
    });
    for (const result of await Promise.all(pushes)) expectSuccess(result);
    expect(finished.status).toBe('succeeded');
    expect(finished.blobs_deleted).toBeGreaterThanOrEqual(2); // the doomed image's manifest, config and layer
    for (const [repo, image] of [['app', first], ...fresh.map((image, i) => [`fresh${i}`, image] as const)] as const) {
      const out = await makeTempDir('gc-out');
      expectSuccess(await skopeoCopy(dockerRef(lbServer(), `${registry}/${repo}`, 'v1'), `oci:${out}:v1`));
      expect((await resolveTag(out, 'v1')).digest).toBe(image.digest);
    }
  });

  test('rate limits hold across nodes', async () => {
    const admin = await run(process.execPath, [MAIN_JS, 'admin', 'team', 'create', uniqueName('rate'), '--data-dir', await makeTempDir('admin'), '--database-url', databaseUrl], {
      env: { ...process.env, ...testS3Env() },
    });
    expect(admin.code, admin.stderr).toBe(0);
    const limited = admin.stdout.trim().split('\n').at(-1)!;
    const served = new Set<string>();
    for (let i = 0; i < RATE_LIMIT_PER_MINUTE; i++) {
      const res = await api('/v2/registries', {}, limited);
      expect(res.status).toBe(200);
      served.add(res.headers.get('x-node')!);
    }
    expect(served.size).toBe(3); // no node saw more than a third of them
    expect((await api('/v2/registries', {}, limited)).status).toBe(429);
  });

  test('a revoked credential is refused by every node at once', async () => {
    const config = (await (await api(`/v2/registries/${registry}/docker-credentials?read_write=false`)).json()) as { auths: Record<string, { auth: string }> };
    const secret = Buffer.from(config.auths[lb.registryHost]!.auth, 'base64').toString('utf8').split(':')[1]!;
    const before = await Promise.all([0, 1, 2].map(() => jwt(`repository:${registry}/app:pull`, secret)));
    expect(before.map((r) => r.status)).toEqual([200, 200, 200]);
    const revoked = await run(process.execPath, [MAIN_JS, 'admin', 'token', 'revoke', secret, '--data-dir', await makeTempDir('admin'), '--database-url', databaseUrl], {
      env: { ...process.env, ...testS3Env() },
    });
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = [];
    for (let i = 0; i < 3; i++) after.push(await jwt(`repository:${registry}/app:pull`, secret));
    expect(after.map((r) => r.status)).toEqual([401, 401, 401]);
    expect(new Set(after.map((r) => r.node)).size).toBe(3);
  });

  test('read-only mode holds across nodes', async () => {
    // Every node must run collections the same way: a new generation of nodes in read-only mode.
    const readOnlyArgs = [...nodeArgs, '--gc-mode', 'read-only', '--write-token-ttl', '6s'];
    const next = await Promise.all([0, 1, 2].map(() => startServer({ token, databaseUrl, storageUrl, args: readOnlyArgs })));
    await lb.reconfigure(backends(next));
    await Promise.all(nodes.map((n) => n.stop()));
    nodes = next;

    const started = await api(`/v2/registries/${registry}/garbage-collection`, { method: 'POST', body: JSON.stringify({ type: 'unreferenced blobs only' }) });
    expect(started.status).toBe(201);
    const run = ((await started.json()) as { garbage_collection: { uuid: string } }).garbage_collection;
    await waitFor('the read-only wait', async () => ((await gcStatus(run.uuid)).status === 'waiting for write JWTs to expire' ? true : undefined));
    const during = [];
    for (let i = 0; i < 3; i++) during.push(await jwt(`repository:${registry}/app:pull,push`));
    expect(during.map((r) => actionsOf(r.token!))).toEqual([['pull'], ['pull'], ['pull']]);
    expect(new Set(during.map((r) => r.node)).size).toBe(3);
    await waitFor('the collection to end', async () => ((await gcStatus(run.uuid)).status === 'succeeded' ? true : undefined));
    expect(actionsOf((await jwt(`repository:${registry}/app:pull,push`)).token!).sort()).toEqual(['pull', 'push']);
  });

  test('--role registry and --role api nodes join the same database and bucket', async () => {
    const [registryNode, apiNode] = await Promise.all([
      startServer({ token, databaseUrl, storageUrl, args: [...nodeArgs, '--role', 'registry'] }),
      startServer({ token, databaseUrl, storageUrl, args: [...nodeArgs, '--role', 'api'] }),
    ]);
    extra.push(registryNode, apiNode);
    const query = new URLSearchParams({ service: lb.registryHost, scope: `repository:${registry}/app:pull` });
    const issued = await fetch(`${registryNode.registryUrl}/auth/token?${query}`, { headers: { authorization: basic('x', password) } });
    const pull = ((await issued.json()) as { token: string }).token;
    const manifest = await fetch(`${registryNode.registryUrl}/v2/${registry}/app/manifests/v1`, {
      headers: { authorization: `Bearer ${pull}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(first.digest);
    await expect(fetch(`${registryNode.apiUrl}/healthz`)).rejects.toThrow();

    const repos = await fetch(`${apiNode.apiUrl}/v2/registries/${registry}/repositoriesV2`, { headers: { authorization: `Bearer ${token}` } });
    expect(repos.status).toBe(200);
    expect(((await repos.json()) as { repositories: { name: string }[] }).repositories.map((r) => r.name)).toContain('app');
    await expect(fetch(`${apiNode.registryUrl}/v2/`)).rejects.toThrow();
  });
});
