/**
 * Moving off the embedded default on the filesystem (migrate-data.s3.test.ts moves to S3):
 * push to an instance on SQLite and the filesystem, migrate it to PostgreSQL and another
 * directory while killing the first attempt midway, resume (the counts prove nothing was
 * copied twice), start Berth on the target and pull every image verified with skopeo; then
 * back to SQLite. Refusals leave everything as it was. Metadata resume is also checked batch
 * by batch, in process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectDatabase, migrateToLatest, type Db } from '../../src/db/index.js';
import { copyMetadata, CopyProgress, COPIED_TABLES } from '../../src/ops/metadata.js';
import { dockerRef, expectSuccess, skopeo, SKOPEO_TOOLS } from '../support/clients.js';
import { createPostgresDatabase, testDatabaseUrl, testDialect } from '../support/database.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, OCI_MANIFEST, sha256Digest } from '../support/images.js';
import { startPostgresCluster, type PostgresCluster } from '../support/postgres.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { MAIN_JS, REPO_ROOT, startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { berthOk, berthRefuses, cleanEnv, expectImagesPullVerified, pushImage, tableCounts, type PushedImage } from './support.js';

const skip = requireTools([...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

let cluster: PostgresCluster | undefined;

/** A new, empty PostgreSQL database: the run's shared cluster, or (SQLite project) one of our own. */
async function newPostgresDatabase(): Promise<string> {
  if (testDialect() === 'postgres') return testDatabaseUrl();
  cluster ??= await startPostgresCluster();
  return createPostgresDatabase(cluster.url, 'm');
}

/** Blob objects under a storage root, by key. */
async function storedBlobs(root: string): Promise<string[]> {
  const base = join(root, 'blobs', 'sha256');
  if (!existsSync(base)) return [];
  const keys: string[] = [];
  for (const prefix of await readdir(base)) for (const name of await readdir(join(base, prefix))) keys.push(`sha256:${name}`);
  return keys.sort();
}

describe.skipIf(skip)('migrate-data', { timeout: 300_000 }, () => {
  let source: TestServer;
  let sourceDir: string;
  let sourceDb: string;
  let registry: string;
  let credentials: Credentials;
  const images: PushedImage[] = [];
  const servers: TestServer[] = [];

  beforeAll(async () => {
    sourceDir = join(await makeTempDir('embedded'), 'data');
    sourceDb = `sqlite:${join(sourceDir, 'berth.db')}`;
    // The embedded default in every project: SQLite and the filesystem in one data dir.
    source = await startServer({ dataDir: sourceDir, databaseUrl: sourceDb, storageUrl: `file:${sourceDir}` });
    servers.push(source);
    registry = uniqueName('move');
    await source.createRegistry(registry);
    const config = await source.dockerCredentials(registry, { readWrite: true });
    const authfile = await source.writeAuthFile(config);
    credentials = source.credentialsOf(config);
    const single = await buildImage({ randomLayerBytes: 256 * 1024 });
    const multi = await buildMultiArchImage();
    for (const [image, repo, all] of [[single, `${registry}/app`, false], [multi, `${registry}/multi`, true]] as const) {
      expectSuccess(await skopeo(['copy', '--dest-tls-verify=false', '--authfile', authfile, ...(all ? ['--all'] : []), '--preserve-digests', image.ref, dockerRef(source, repo, 'v1')]), source);
      images.push({ repo, tag: 'v1', digest: image.digest, multi: all });
    }
    const token = await registryToken(source, credentials, `repository:${registry}/many:pull,push`);
    for (let i = 0; i < 12; i++) {
      const image = await pushImage(source, token, `${registry}/many`, `n${i}`, 24 * 1024);
      images.push({ repo: `${registry}/many`, tag: `n${i}`, digest: image.digest });
    }
    // 600 tags on one manifest: more than one metadata batch (500 rows).
    const manyTags = Array.from({ length: 600 }, (_, i) => `tag-${i}`);
    const first = images.at(-1)!;
    const bytes = Buffer.from(await (await registryFetch(source, token, `/v2/${first.repo}/manifests/${first.tag}`, { headers: { accept: OCI_MANIFEST } })).arrayBuffer());
    const res = await registryFetch(source, token, `/v2/${first.repo}/manifests/${first.digest}?${manyTags.map((t) => `tag=${t}`).join('&')}`, {
      method: 'PUT',
      headers: { 'content-type': OCI_MANIFEST },
      body: bytes,
    });
    expect(res.status).toBe(201);
    // A migration reads a quiet source: stop the embedded instance first (the README says so).
    await source.stop();
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await cluster?.stop();
  });

  test('SQLite → PostgreSQL and another directory: interrupted once, resumed without copying anything twice, then pulls verified', async () => {
    const targetDb = await newPostgresDatabase();
    const targetStorage = join(await makeTempDir('moved'), 'blobs-root');
    const sourceBlobs = await storedBlobs(sourceDir);
    const args = ['migrate-data', '--from-database', sourceDb, '--to-database', targetDb, '--from-storage', `file:${sourceDir}`, '--to-storage', `file:${targetStorage}`];

    // First attempt, slowed down and killed once a few blobs have arrived.
    const child = spawn(process.execPath, [MAIN_JS, ...args, '--bwlimit', '256k', '--verbose'], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const closed = new Promise((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString('utf8');
        if ((output.match(/^copied sha256:/gm) ?? []).length >= 4) resolve();
      });
      child.once('close', () => resolve());
    });
    child.kill('SIGKILL');
    await closed;
    expect(output, 'the first attempt finished before it could be interrupted').not.toMatch(/migrate-data complete/);
    const copiedBefore = await storedBlobs(targetStorage);
    expect(copiedBefore.length).toBeGreaterThanOrEqual(4);
    expect(copiedBefore.length).toBeLessThan(sourceBlobs.length);
    // Every blob that arrived is whole: named by the digest of its content.
    for (const digest of copiedBefore) {
      const bytes = await readFile(join(targetStorage, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)));
      expect(sha256Digest(bytes)).toBe(digest);
    }

    // Second attempt: resumes; counts prove every blob was copied exactly once overall.
    const resumed = await berthOk(args, 180_000);
    expect(resumed).toContain('resuming the unfinished copy');
    const blobs = /blobs: (\d+) .*copied now: (\d+) .*already in the target: (\d+); missing in the source: (\d+)/.exec(resumed);
    expect(blobs, resumed).not.toBeNull();
    const [total, copiedNow, present, missing] = blobs!.slice(1).map(Number) as [number, number, number, number];
    expect(total).toBe(sourceBlobs.length);
    expect(present).toBe(copiedBefore.length);
    expect(copiedNow).toBe(total - copiedBefore.length);
    expect(missing).toBe(0);
    expect(await storedBlobs(targetStorage)).toEqual(sourceBlobs);
    const rows = /rows: copied now: (\d+); copied by an earlier run: (\d+); duplicates: (\d+)/.exec(resumed);
    expect(rows, resumed).not.toBeNull();
    const sourceCounts = await tableCounts(sourceDb);
    expect(Number(rows![1]) + Number(rows![2])).toBe(Object.values(sourceCounts).reduce((a, b) => a + b, 0));
    expect(Number(rows![3])).toBe(0);
    expect(await tableCounts(targetDb)).toEqual(sourceCounts);

    // A third run finds the target full and refuses.
    expect(await berthRefuses(args)).toMatch(/already holds data/);

    const target = await startServer({ databaseUrl: targetDb, storageUrl: `file:${targetStorage}` });
    servers.push(target);
    await expectImagesPullVerified(target, credentials, images);
    await target.stop();

    // And back to the embedded default, into yet another directory.
    const backDir = join(await makeTempDir('back'), 'data');
    const back = await berthOk(['migrate-data', '--from-database', targetDb, '--to-database', `sqlite:${join(backDir, 'berth.db')}`, '--from-storage', `file:${targetStorage}`, '--to-storage', `file:${backDir}`]);
    expect(back).toMatch(new RegExp(`copied now: ${sourceBlobs.length} `));
    const embedded = await startServer({ dataDir: backDir, databaseUrl: `sqlite:${join(backDir, 'berth.db')}`, storageUrl: `file:${backDir}` });
    servers.push(embedded);
    await expectImagesPullVerified(embedded, credentials, images);
  });

  test('refusals: a wrong URL, the same database, storage flags alone, a target with other data or objects; nothing is written', async () => {
    const targetDb = await newPostgresDatabase();
    const base = ['migrate-data', '--from-database', sourceDb];
    expect(await berthRefuses([...base, '--to-database', 'mysql://h/db'])).toMatch(/--to-database: "mysql:\/\/h\/db" must start with sqlite: or postgres:\/\//);
    expect(await berthRefuses([...base, '--to-database', sourceDb])).toMatch(/name the same database/);
    expect(await berthRefuses([...base, '--to-database', targetDb, '--from-storage', `file:${sourceDir}`])).toMatch(/--from-storage and --to-storage go together/);
    expect(await berthRefuses(['migrate-data', '--from-database', 'sqlite:/nonexistent/berth.db', '--to-database', targetDb])).toMatch(/there is no database at \/nonexistent\/berth\.db/);
    expect(await berthRefuses([...base, '--to-database', 'postgres://postgres@127.0.0.1:1/none'])).toMatch(/cannot reach the target database postgres:\/\/postgres@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
    expect(await tableCounts(targetDb)).toEqual({});

    // Target storage holding objects that are not the source's.
    const foreign = await makeTempDir('foreign');
    const stranger = randomBytes(100);
    const digest = sha256Digest(stranger);
    await mkdir(join(foreign, 'blobs', 'sha256', digest.slice(7, 9)), { recursive: true });
    await writeFile(join(foreign, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)), stranger);
    expect(await berthRefuses([...base, '--to-database', targetDb, '--from-storage', `file:${sourceDir}`, '--to-storage', `file:${foreign}`])).toMatch(
      /target storage file:.* already holds 1 object\(s\) that are not in the source/,
    );
    expect(await tableCounts(targetDb)).toEqual({});
    expect(await storedBlobs(foreign)).toEqual([digest]);

    // A target database that holds another instance's data.
    const other = await startServer({ databaseUrl: await newPostgresDatabase() });
    servers.push(other);
    await other.stop();
    const before = await tableCounts(other.databaseUrl);
    expect(await berthRefuses([...base, '--to-database', other.databaseUrl])).toMatch(/already holds data \(1 teams, 1 tokens, .*1 signing_keys, 1 settings\)/);
    expect(await tableCounts(other.databaseUrl)).toEqual(before);
  });

  test('metadata resumes after the last committed batch and inserts no row twice', async () => {
    const from = connectDatabase({ dialect: 'sqlite', file: join(sourceDir, 'berth.db') });
    const to = connectDatabase({ dialect: 'postgres', url: await newPostgresDatabase() });
    try {
      await migrateToLatest(to);
      const progress = new CopyProgress(to);
      await progress.create('test');
      let batches = 0;
      await expect(
        copyMetadata(from, to, {
          progress,
          onBatch: (table) => {
            if (table === 'tags' && ++batches === 1) throw new Error('interrupted');
          },
        }),
      ).rejects.toThrow('interrupted');
      expect(await countTags(to)).toBe(500);
      const results = await copyMetadata(from, to, { progress });
      const tags = results.find((r) => r.table === 'tags')!;
      expect(tags).toEqual({ table: 'tags', before: 500, inserted: (await countTags(from)) - 500, duplicates: 0 });
      for (const r of results) expect(r.duplicates, r.table).toBe(0);
      expect(results.map((r) => r.table)).toEqual(COPIED_TABLES.map((t) => t.name));
    } finally {
      await from.destroy();
      await to.destroy();
    }
  });
});

async function countTags(db: Db): Promise<number> {
  const row = await db.selectFrom('tags').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
