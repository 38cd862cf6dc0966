/**
 * Bytes of a push that fails inside its recording transaction are removed at once, not left
 * for the next garbage collection, unless another row references them. The real server runs
 * as a child process; the test holds the team's lock in the database (a transaction of its
 * own) while the push passes its early checks and writes its bytes, and commits a link that
 * uses up the storage allowance just before the push's transaction can look: the early check
 * passed, the check inside the transaction refuses. Deterministic on both dialects.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/index.js';
import { blobKey } from '../../src/storage/index.js';
import { startServer, type TestServer } from '../support/server.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const STRANGER = 4000;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A transaction of the test's own on the server's database: holds the team's lock until commit. */
interface HeldLock {
  /** Links a blob into a repository, inside the held transaction. */
  link(repositoryId: string, digest: string): Promise<void>;
  commit(): Promise<void>;
}

async function holdTeamLock(databaseUrl: string): Promise<HeldLock> {
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new SqliteDatabase(databaseUrl.slice('sqlite:'.length));
    db.pragma('busy_timeout = 10000');
    // SQLite has one write lock: holding it holds every team's.
    db.exec('BEGIN IMMEDIATE');
    return {
      link: async (repositoryId, digest) => void db.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)').run(repositoryId, digest, Date.now()),
      commit: async () => {
        db.exec('COMMIT');
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query("UPDATE teams SET tier = tier WHERE name = 'default'");
  return {
    link: async (repositoryId, digest) => void (await client.query('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3)', [repositoryId, digest, Date.now()])),
    commit: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

async function repositoryId(databaseUrl: string, registry: string, name: string): Promise<string> {
  const query = 'SELECT r.id FROM repositories r JOIN registries g ON g.id = r.registry_id WHERE g.name = $1 AND r.name = $2';
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new SqliteDatabase(databaseUrl.slice('sqlite:'.length), { readonly: true });
    try {
      return (db.prepare(query.replace('$1', '?').replace('$2', '?')).get(registry, name) as { id: string }).id;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return ((await client.query(query, [registry, name])).rows[0] as { id: string }).id;
  } finally {
    await client.end();
  }
}

/** A server whose default team (professional) has exactly `limit` bytes and no overage. */
async function serverWithAllowance(limit: number): Promise<TestServer> {
  server = await startServer({ args: ['--tiers', JSON.stringify({ professional: { included_storage_bytes: limit, allow_storage_overage: false } })] });
  return server;
}

async function jwtFor(s: TestServer, ...repositories: string[]): Promise<string> {
  const query = new URLSearchParams({ service: s.registryHost });
  for (const r of repositories) query.append('scope', `repository:${r}:pull,push`);
  const res = await fetch(`${s.registryUrl}/auth/token?${query}`, { headers: { authorization: `Basic ${Buffer.from(`x:${s.token}`).toString('base64')}` } });
  return ((await res.json()) as { token: string }).token;
}

async function pushBlob(s: TestServer, jwt: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const res = await fetch(`${s.registryUrl}/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` }, body: bytes });
  expect(res.status, await res.text()).toBe(201);
  return digest;
}

function manifestOf(config: Buffer, layer: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }],
    }),
  );
}

function storedAt(s: TestServer, digest: string): string {
  return join(s.dataDir, blobKey(digest));
}

/**
 * Longer than the server's SQLite busy timeout (10 s): should one of its background jobs try
 * to write while the test holds the lock, it gives up after that, and the push goes on.
 */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Pushes in r2 while the test holds the lock; once the push's bytes are at `watch`, links the
 * stranger blob into r2 (which r2's allowance cannot also hold) and commits. Returns the answer.
 */
async function pushRefusedInTransaction(s: TestServer, watch: string, strangerDigest: string, push: () => Promise<Response>): Promise<Response> {
  const target = await repositoryId(s.databaseUrl, 'r2', 'app');
  await settled(s);
  const lock = await holdTeamLock(s.databaseUrl);
  let answer: Promise<Response>;
  try {
    answer = push();
    await until(() => existsSync(watch), 'the push to write its bytes');
    await lock.link(target, strangerDigest);
  } finally {
    await lock.commit();
  }
  return answer;
}

/**
 * Lets the server's background writers finish what the setup gave them (the usage refresh a
 * push schedules half a second later, the sizes of new layers), so that, on SQLite, none of
 * them waits on the test's lock while the push under test runs.
 */
async function settled(s: TestServer): Promise<void> {
  await until(() => {
    const db = s.databaseUrl.startsWith('sqlite:') ? new SqliteDatabase(s.databaseUrl.slice('sqlite:'.length), { readonly: true }) : undefined;
    if (!db) return true;
    try {
      return (db.prepare('SELECT count(*) AS n FROM blobs WHERE uncompressed_size IS NULL').get() as { n: number }).n === 0;
    } finally {
      db.close();
    }
  }, 'the layer sizes to be measured');
  await new Promise((resolve) => setTimeout(resolve, 800));
}

async function expectStorageDenied(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(403);
  expect(text).toMatch(/"code":"DENIED".*storage limit reached/);
}

describe('a push refused inside its transaction', () => {
  it('a manifest: its bytes are gone by the time the refusal arrives', { timeout: 60_000 }, async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(4).toString('hex') }));
    const layer = randomBytes(1000);
    const manifest = manifestOf(config, layer);
    const s = await serverWithAllowance(STRANGER + config.length + layer.length + manifest.length + 100);
    await s.createRegistry('r1');
    await s.createRegistry('r2');
    const jwt = await jwtFor(s, 'r1/app', 'r2/app');
    const stranger = await pushBlob(s, jwt, 'r1/app', randomBytes(STRANGER));
    await pushBlob(s, jwt, 'r2/app', config);
    await pushBlob(s, jwt, 'r2/app', layer);

    const digest = digestOf(manifest);
    const res = await pushRefusedInTransaction(s, storedAt(s, digest), stranger, () =>
      fetch(`${s.registryUrl}/v2/r2/app/manifests/v1`, { method: 'PUT', headers: { authorization: `Bearer ${jwt}`, 'content-type': OCI_MANIFEST }, body: manifest }),
    );
    await expectStorageDenied(res);
    expect(existsSync(storedAt(s, digest))).toBe(false);
    expect((await fetch(`${s.registryUrl}/v2/r2/app/manifests/v1`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(404);
  });

  it('a manifest whose bytes another repository already holds: they stay', { timeout: 60_000 }, async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(4).toString('hex') }));
    const layer = randomBytes(1000);
    const manifest = manifestOf(config, layer);
    const s = await serverWithAllowance(STRANGER + 2 * (config.length + layer.length + manifest.length) + 100);
    await s.createRegistry('r1');
    await s.createRegistry('r2');
    const jwt = await jwtFor(s, 'r1/app', 'r2/app');
    const stranger = await pushBlob(s, jwt, 'r1/app', randomBytes(STRANGER));
    for (const repository of ['r1/app', 'r2/app']) {
      await pushBlob(s, jwt, repository, config);
      await pushBlob(s, jwt, repository, layer);
    }
    const headers = { authorization: `Bearer ${jwt}`, 'content-type': OCI_MANIFEST };
    expect((await fetch(`${s.registryUrl}/v2/r1/app/manifests/v1`, { method: 'PUT', headers, body: manifest })).status).toBe(201);

    const digest = digestOf(manifest);
    const res = await pushRefusedInTransaction(s, storedAt(s, digest), stranger, () => fetch(`${s.registryUrl}/v2/r2/app/manifests/v1`, { method: 'PUT', headers, body: manifest }));
    await expectStorageDenied(res);
    expect(existsSync(storedAt(s, digest))).toBe(true);
    const pulled = await fetch(`${s.registryUrl}/v2/r1/app/manifests/v1`, { headers: { authorization: `Bearer ${jwt}`, accept: OCI_MANIFEST } });
    expect(Buffer.from(await pulled.arrayBuffer()).equals(manifest)).toBe(true);
  });

  it('a blob upload: the bytes it moved into place are gone, the session ends', { timeout: 60_000 }, async () => {
    const blob = randomBytes(2000);
    const s = await serverWithAllowance(STRANGER + blob.length + 100);
    await s.createRegistry('r1');
    await s.createRegistry('r2');
    const jwt = await jwtFor(s, 'r1/app', 'r2/app');
    const stranger = await pushBlob(s, jwt, 'r1/app', randomBytes(STRANGER));
    const started = await fetch(`${s.registryUrl}/v2/r2/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } });
    expect(started.status).toBe(202);
    const patched = await fetch(`${s.registryUrl}${started.headers.get('location')}`, { method: 'PATCH', headers: { authorization: `Bearer ${jwt}` }, body: blob });
    expect(patched.status).toBe(202);

    const digest = digestOf(blob);
    const location = patched.headers.get('location')!;
    const res = await pushRefusedInTransaction(s, storedAt(s, digest), stranger, () =>
      fetch(`${s.registryUrl}${location}&digest=${digest}`, { method: 'PUT', headers: { authorization: `Bearer ${jwt}` } }),
    );
    await expectStorageDenied(res);
    expect(existsSync(storedAt(s, digest))).toBe(false);
    expect((await fetch(`${s.registryUrl}/v2/r2/app/blobs/${digest}`, { method: 'HEAD', headers: { authorization: `Bearer ${jwt}` } })).status).toBe(404);
    // Its bytes have left uploads/, so the session is over: a retry is told to start again.
    expect((await fetch(`${s.registryUrl}${location}`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(404);
    expect(existsSync(join(s.dataDir, 'uploads', started.headers.get('docker-upload-uuid')!))).toBe(false);
  });
});
