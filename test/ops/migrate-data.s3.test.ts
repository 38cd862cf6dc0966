/**
 * Moving off the embedded default in one run: an instance on SQLite and the filesystem is
 * migrated to PostgreSQL and S3 (radosgw). The first attempt is killed while blobs are on
 * their way, one of them large enough to be a multipart upload; the second resumes. Every
 * blob ends up in the bucket exactly once and whole (nothing copied twice, nothing left of the
 * attempt that was cut short), Berth starts on the target as it is and every image pulls
 * verified with skopeo.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerRef, expectSuccess, skopeo, SKOPEO_TOOLS } from '../support/clients.js';
import { testDatabaseUrl } from '../support/database.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, sha256Digest } from '../support/images.js';
import { MAIN_JS, REPO_ROOT, startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';
import { testS3, testStorageUrl } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { berthOk, cleanEnv, eventually, expectImagesPullVerified, tableCounts, withStorage, type PushedImage } from './support.js';

const skip = requireTools([...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

/** Multipart uploads in progress under `prefix/` of the run's bucket. */
async function multipartUploads(prefix: string): Promise<number> {
  const s3 = testS3();
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  try {
    return (await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}/` }))).Uploads?.length ?? 0;
  } finally {
    client.destroy();
  }
}

/** Digest of every object under blobs/ (bytes hashed), by key. */
async function objectDigests(storageUrl: string): Promise<Map<string, string>> {
  return withStorage(storageUrl, async (driver) => {
    const digests = new Map<string, string>();
    for await (const object of driver.list('blobs')) {
      const chunks: Buffer[] = [];
      for await (const chunk of await driver.read(object.key)) chunks.push(chunk as Buffer);
      digests.set(object.key, sha256Digest(Buffer.concat(chunks)));
    }
    return digests;
  });
}

describe.skipIf(skip)('migrate-data: SQLite and the filesystem to PostgreSQL and S3', { timeout: 300_000 }, () => {
  let sourceDir: string;
  let sourceDb: string;
  let registry: string;
  let credentials: Credentials;
  const images: PushedImage[] = [];
  const servers: TestServer[] = [];
  const sourceDigests: string[] = [];

  beforeAll(async () => {
    sourceDir = join(await makeTempDir('embedded'), 'data');
    sourceDb = `sqlite:${join(sourceDir, 'berth.db')}`;
    const source = await startServer({ dataDir: sourceDir, databaseUrl: sourceDb, storageUrl: `file:${sourceDir}` });
    servers.push(source);
    registry = uniqueName('tos3');
    await source.createRegistry(registry);
    const config = await source.dockerCredentials(registry, { readWrite: true });
    const authfile = await source.writeAuthFile(config);
    credentials = source.credentialsOf(config);
    // 12 MiB of layer: more than one 8 MiB part, so its copy is a multipart upload.
    const large = await buildImage({ randomLayerBytes: 12 * 1024 * 1024 });
    const small = await buildImage();
    const multi = await buildMultiArchImage();
    for (const [image, repo, all] of [[large, `${registry}/large`, false], [small, `${registry}/small`, false], [multi, `${registry}/multi`, true]] as const) {
      expectSuccess(await skopeo(['copy', '--dest-tls-verify=false', '--authfile', authfile, ...(all ? ['--all'] : []), '--preserve-digests', image.ref, dockerRef(source, repo, 'v1')]), source);
      images.push({ repo, tag: 'v1', digest: image.digest, multi: all });
    }
    await source.stop();
    for (const prefix of await readdir(join(sourceDir, 'blobs', 'sha256'))) {
      for (const name of await readdir(join(sourceDir, 'blobs', 'sha256', prefix))) sourceDigests.push(`sha256:${name}`);
    }
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  test('interrupted once, resumed without copying anything twice; Berth starts on the target and every image pulls verified', async () => {
    const targetDb = await testDatabaseUrl();
    const prefix = `moved-${Date.now().toString(36)}`;
    const targetStorage = testStorageUrl(prefix)!;
    const args = ['migrate-data', '--from-database', sourceDb, '--to-database', targetDb, '--from-storage', `file:${sourceDir}`, '--to-storage', targetStorage];

    // First attempt, slowed down, killed while the large blob is half-way into a multipart
    // upload (at 1 MiB/s its copy takes twelve seconds) and a few others have arrived.
    const child = spawn(process.execPath, [MAIN_JS, ...args, '--bwlimit', '1M', '--verbose'], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    await eventually(async () => {
      expect(child.exitCode, output).toBeNull();
      expect((output.match(/^copied sha256:/gm) ?? []).length).toBeGreaterThanOrEqual(2);
      expect(await multipartUploads(prefix)).toBeGreaterThan(0);
    }, 60_000, 200);
    child.kill('SIGKILL');
    await closed;
    expect(output, 'the first attempt finished before it could be interrupted').not.toMatch(/migrate-data complete/);
    const copiedFirst = (output.match(/^copied sha256:/gm) ?? []).length;
    // What arrived is whole: every object in the bucket hashes to one of the source's blobs.
    const arrived = await objectDigests(targetStorage);
    expect(arrived.size).toBeGreaterThanOrEqual(4);
    expect(arrived.size).toBeLessThan(sourceDigests.length);
    for (const [key, digest] of arrived) expect(sourceDigests, key).toContain(digest);

    // Second attempt: resumes, cleans up the copy that was cut short, copies only the rest.
    const resumed = await berthOk(args, 240_000);
    expect(resumed).toContain('resuming the unfinished copy');
    // The large one at least was cut short: what it left is removed before anything else.
    expect(resumed).toMatch(/^removing what [1-9]\d* blob cop(y|ies) cut short by the interruption left in s3:\/\//m);
    const blobs = /blobs: (\d+) .*copied now: (\d+) .*already in the target: (\d+); missing in the source: (\d+)/.exec(resumed);
    expect(blobs, resumed).not.toBeNull();
    const [totalBlobs, copiedNow, present, missing] = blobs!.slice(1).map(Number) as [number, number, number, number];
    expect(totalBlobs).toBe(sourceDigests.length);
    expect(present).toBeGreaterThanOrEqual(copiedFirst);
    expect(copiedNow + present).toBe(totalBlobs);
    expect(missing).toBe(0);
    const sourceCounts = await tableCounts(sourceDb);
    expect(await tableCounts(targetDb)).toEqual(sourceCounts);

    // Exactly one whole object per blob in the bucket: nothing twice, nothing partial.
    const stored = await objectDigests(targetStorage);
    expect([...stored.values()].sort()).toEqual([...sourceDigests].sort());
    // The large blob is a finished multipart upload, named by the row that points at it.
    expect([...stored.keys()].some((k) => k.startsWith('blobs/uploads/'))).toBe(true);
    // And no multipart upload or tail object of the interrupted attempt is left behind.
    expect(await multipartUploads(prefix)).toBe(0);
    expect(await withStorage(targetStorage, (driver) => driver.sessions.sweep(Date.now() + 60_000, async () => false))).toBe(0);

    // Berth starts on the target as the migration left it and serves every image.
    const target = await startServer({ databaseUrl: targetDb, storageUrl: targetStorage });
    servers.push(target);
    await expectImagesPullVerified(target, credentials, images);
  });
});
