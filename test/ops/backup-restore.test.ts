/**
 * `berth backup` of a running instance while pushes continue, `berth restore` into a new data
 * dir, database and storage, Berth started on the result: every image in the snapshot pulls
 * verified with skopeo, what was pushed after the snapshot is cleanly absent. Then every
 * refusal: a destination that exists, a missing or foreign database, a partial backup, a
 * corrupt blob or snapshot, a target that holds data — each exit 2 with a clear message and
 * nothing written. The instance uses the project's storage: in the postgres-s3 project that is
 * a full backup out of S3 and a restore into a fresh S3 prefix.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dockerRef, expectFailure, expectSuccess, skopeo, SKOPEO_TOOLS } from '../support/clients.js';
import { testDatabaseUrl } from '../support/database.js';
import { buildImage, buildMultiArchImage, IMAGE_TOOLS, resolveTag, sha256Digest } from '../support/images.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { MAIN_JS, REPO_ROOT, startServer, uniqueName, type Credentials, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { testStorageUrl } from '../support/storage.js';
import { berthOk, berthRefuses, cleanEnv, pushImage, sleep, storageUrlOf, storedKeys, tableCounts } from './support.js';

const skip = requireTools([...SKOPEO_TOOLS, ...IMAGE_TOOLS]);

interface BackgroundPush {
  tag: string;
  started: number;
  finished?: number;
  digest?: string;
  layer?: string;
  error?: string;
}

describe.skipIf(skip)('backup and restore', { timeout: 300_000 }, () => {
  let server: TestServer;
  let registry: string;
  let credentials: Credentials;
  let authfile: string;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    server = await startServer();
    servers.push(server);
    registry = uniqueName('backup');
    await server.createRegistry(registry);
    const config = await server.dockerCredentials(registry, { readWrite: true });
    authfile = await server.writeAuthFile(config);
    credentials = server.credentialsOf(config);
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  /** The flags that name the running instance: its data dir, database and storage. */
  const instanceArgs = () => ['--data-dir', server.dataDir, '--database-url', server.databaseUrl, '--storage-url', storageUrlOf(server)];

  const copy = async (target: TestServer, file: string, args: string[]) =>
    expectSuccess(await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--authfile', file, ...args]), target);

  /** An auth file for another server holding the same credentials. */
  const authFileFor = (target: TestServer) =>
    target.writeAuthFile({ auths: { [target.registryHost]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') } } });

  /** Pulls with skopeo into a new layout and checks the digest and every blob's hash. */
  async function expectPullsVerified(target: TestServer, file: string, repo: string, tag: string, digest: string, multi = false): Promise<void> {
    const out = await makeTempDir('pull');
    await copy(target, file, [...(multi ? ['--all'] : []), '--preserve-digests', dockerRef(target, repo, tag), `oci:${out}:${tag}`]);
    expect((await resolveTag(out, tag)).digest, `${repo}:${tag}`).toBe(digest);
    for (const name of await readdir(join(out, 'blobs', 'sha256'))) {
      expect(sha256Digest(await readFile(join(out, 'blobs', 'sha256', name))), `blob ${name} of ${repo}:${tag}`).toBe(`sha256:${name}`);
    }
  }

  test('a backup taken during pushes restores into a new instance; every image in it pulls verified, later pushes are absent', async () => {
    const single = await buildImage();
    const multi = await buildMultiArchImage();
    await copy(server, authfile, ['--preserve-digests', single.ref, dockerRef(server, `${registry}/app`, 'v1')]);
    await copy(server, authfile, ['--all', '--preserve-digests', multi.ref, dockerRef(server, `${registry}/multi`, 'v1')]);

    // Pushes that keep going while the backup runs.
    const token = await registryToken(server, credentials, `repository:${registry}/during:pull,push`);
    const pushes: BackgroundPush[] = [];
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const push: BackgroundPush = { tag: `t${i}`, started: Date.now() };
        pushes.push(push);
        try {
          const image = await pushImage(server, token, `${registry}/during`, push.tag, 32 * 1024);
          push.digest = image.digest;
          push.layer = image.layer;
        } catch (err) {
          push.error = (err as Error).message;
        }
        push.finished = Date.now();
      }
    })();
    const finishedCount = () => pushes.filter((p) => p.finished !== undefined).length;
    while (finishedCount() < 3) await sleep(20);

    const dest = join(await makeTempDir('backup'), 'snapshot');
    const backupStarted = Date.now();
    const output = await berthOk(['backup', dest, ...instanceArgs()]);
    const backupEnded = Date.now();
    const countAtEnd = finishedCount();
    while (finishedCount() < countAtEnd + 3) await sleep(20);
    stop = true;
    await loop;
    expect(pushes.filter((p) => p.error), 'pushes failed during the backup').toEqual([]);
    expect(output).toMatch(/metadata snapshot of .* taken at/);
    expect(output).toMatch(/backup complete in .*blobs \(.*\) verified/);
    const index = JSON.parse(await readFile(join(dest, 'backup.json'), 'utf8')) as { blobs: { count: number; included: boolean; missing: string[] } };
    expect(index.blobs.included).toBe(true);
    expect(index.blobs.missing).toEqual([]);

    // An image pushed after the backup.
    const later = await buildImage();
    await copy(server, authfile, ['--preserve-digests', later.ref, dockerRef(server, `${registry}/app`, 'later')]);

    // Restore into a new data dir, database and storage, and start Berth on them.
    const { dataDir, databaseUrl, storageUrl, args } = await newTarget();
    const restoreOutput = await berthOk(['restore', dest, ...args]);
    expect(restoreOutput).toMatch(/verifying blobs: \d+\/\d+ .*all ok/);
    expect(restoreOutput).toMatch(/restored into/);
    const restored = await startServer({ dataDir, databaseUrl, storageUrl });
    servers.push(restored);
    const restoredAuth = await authFileFor(restored);

    await expectPullsVerified(restored, restoredAuth, `${registry}/app`, 'v1', single.digest);
    await expectPullsVerified(restored, restoredAuth, `${registry}/multi`, 'v1', multi.digest, true);
    const absent = expectFailure(await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', restoredAuth, dockerRef(restored, `${registry}/app`, 'later')]));
    expect(absent.stderr).toMatch(/manifest unknown/i);

    const restoredToken = await registryToken(restored, credentials, `repository:${registry}/during:pull`);
    let present = 0;
    for (const push of pushes) {
      const res = await registryFetch(restored, restoredToken, `/v2/${registry}/during/manifests/${push.tag}`);
      if (push.finished! < backupStarted) {
        expect(res.status, `${push.tag}, pushed before the backup`).toBe(200);
      } else if (push.started > backupEnded) {
        expect(res.status, `${push.tag}, pushed after the backup`).toBe(404);
      }
      if (res.status === 200) {
        // In the snapshot: the whole image, pulled and verified by a real client.
        present++;
        expect(sha256Digest(Buffer.from(await res.arrayBuffer()))).toBe(push.digest);
        await expectPullsVerified(restored, restoredAuth, `${registry}/during`, push.tag, push.digest!);
      } else {
        // Not in the snapshot: cleanly absent, no partial image.
        expect(res.status).toBe(404);
        expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('MANIFEST_UNKNOWN');
      }
    }
    expect(present).toBeGreaterThanOrEqual(3);
    // Every blob recorded in the restored metadata is there and intact: the instance says so.
    const health = (await (await fetch(`${restored.apiUrl}/healthz`)).json()) as { status: string };
    expect(health.status).toBe('ok');
  });

  test('refusals: destination exists, no database, a wrong URL; nothing is written', async () => {
    const existing = await makeTempDir('exists');
    await writeFile(join(existing, 'keep.txt'), 'mine');
    const args = instanceArgs();
    expect(await berthRefuses(['backup', existing, ...args])).toMatch(/exists and is not empty/);
    expect(await readdir(existing)).toEqual(['keep.txt']);

    const emptyDir = await makeTempDir('nodb');
    const dest = join(await makeTempDir('dest'), 'b');
    expect(await berthRefuses(['backup', dest, '--data-dir', emptyDir])).toMatch(/there is no database at .*berth\.db/);
    expect(await readdir(emptyDir)).toEqual([]);
    expect(existsSync(dest)).toBe(false);

    expect(await berthRefuses(['backup', dest, '--database-url', 'mysql://db/berth'])).toMatch(/--database-url.*must start with sqlite: or postgres:\/\//);
    expect(await berthRefuses(['backup', dest, '--database-url', 'postgres://postgres@127.0.0.1:1/nothing', '--data-dir', emptyDir])).toMatch(/cannot read the source database postgres:\/\/postgres@127\.0\.0\.1:1\/nothing.*ECONNREFUSED/);
    expect(existsSync(dest)).toBe(false);
  });

  describe('a backup', () => {
    let backup: string;

    beforeAll(async () => {
      backup = join(await makeTempDir('backup'), 'b');
      await berthOk(['backup', backup, ...instanceArgs()]);
    });

    /** A copy of the backup to damage. */
    async function copyOfBackup(): Promise<string> {
      const dir = join(await makeTempDir('damaged'), 'b');
      await cp(backup, dir, { recursive: true });
      return dir;
    }

    async function expectNothingWritten(target: { dataDir: string; databaseUrl: string; storageUrl?: string }): Promise<void> {
      expect(existsSync(target.dataDir), 'the target data dir was created').toBe(false);
      expect(await tableCounts(target.databaseUrl)).toEqual({});
      if (target.storageUrl) expect(await storedKeys(target.storageUrl), 'objects in the target storage').toEqual([]);
    }

    test('without its index (interrupted) is refused before anything is written', async () => {
      const partial = await copyOfBackup();
      await rm(join(partial, 'backup.json'));
      const target = await newTarget();
      expect(await berthRefuses(['restore', partial, ...target.args])).toMatch(/is not a complete Berth backup: it has no backup\.json/);
      await expectNothingWritten(target);
    });

    test('with a corrupt blob is refused before anything is written, naming the blob', async () => {
      const damaged = await copyOfBackup();
      const dir = join(damaged, 'blobs', 'sha256');
      const prefix = (await readdir(dir))[0]!;
      const name = (await readdir(join(dir, prefix)))[0]!;
      const handle = await open(join(dir, prefix, name), 'r+');
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 0);
      await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, 0);
      await handle.close();
      const target = await newTarget();
      expect(await berthRefuses(['restore', damaged, ...target.args])).toMatch(new RegExp(`is corrupt: sha256:${name} is corrupt`));
      await expectNothingWritten(target);
    });

    test('with a missing blob or a changed snapshot is refused before anything is written', async () => {
      const missing = await copyOfBackup();
      const dir = join(missing, 'blobs', 'sha256');
      const prefix = (await readdir(dir))[0]!;
      const name = (await readdir(join(dir, prefix)))[0]!;
      await rm(join(dir, prefix, name));
      const target = await newTarget();
      expect(await berthRefuses(['restore', missing, ...target.args])).toMatch(new RegExp(`sha256:${name} is missing`));
      await expectNothingWritten(target);

      const changed = await copyOfBackup();
      const handle = await open(join(changed, 'berth.db'), 'r+');
      await handle.write(Buffer.from('x'), 0, 1, 5000);
      await handle.close();
      expect(await berthRefuses(['restore', changed, ...target.args])).toMatch(/is corrupt: berth\.db is \d+ bytes with sha256 [0-9a-f]{64}, the index says/);
      await expectNothingWritten(target);
    });

    test('into a target that already holds data is refused, and the target is unchanged', async () => {
      const before = await tableCounts(server.databaseUrl);
      const blobsBefore = await storedKeys(storageUrlOf(server));
      const stderr = await berthRefuses(['restore', backup, ...instanceArgs()]);
      expect(stderr).toMatch(/already holds data \(\d+ teams, .*\); refusing to mix it/);
      expect(await tableCounts(server.databaseUrl)).toEqual(before);
      expect(await storedKeys(storageUrlOf(server))).toEqual(blobsBefore);
    });

    test('--metadata-only: no blobs in the backup but a list of them, each checked; restore needs a storage that holds them', async () => {
      const meta = join(await makeTempDir('meta'), 'b');
      const out = await berthOk(['backup', meta, '--metadata-only', ...instanceArgs()]);
      expect(out).toMatch(/checking blobs in .*: (\d+)\/\1 .*all present/);
      expect(out).toMatch(/metadata only: the \d+ blobs it needs stay in .*, listed in blobs\.tsv/);
      expect(await readdir(meta)).toEqual(['backup.json', 'berth.db', 'blobs.tsv']);
      const index = JSON.parse(await readFile(join(meta, 'backup.json'), 'utf8')) as { blobs: { included: boolean; count: number; list: string }; source: { storage_url: string } };
      expect(index.blobs).toMatchObject({ included: false, list: 'blobs.tsv' });
      expect(index.source.storage_url).toMatch(/^(file:|s3:\/\/)/);
      // One line per blob: digest, size and the key it has in the storage, every one of them there.
      const lines = (await readFile(join(meta, 'blobs.tsv'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
      expect(lines).toHaveLength(index.blobs.count);
      const stored = new Set(await storedKeys(storageUrlOf(server)));
      for (const line of lines) {
        const [digest, size, key] = line.split('\t');
        expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(Number(size)).toBeGreaterThanOrEqual(0);
        expect(stored.has(key!), `${key} in the storage`).toBe(true);
      }

      // Restoring next to storage that lacks the blobs is refused.
      const empty = await newTarget();
      expect(await berthRefuses(['restore', meta, ...empty.args])).toMatch(/does not hold every blob this metadata-only backup records/);
      await expectNothingWritten(empty);

      // Next to the storage that has them (PostgreSQL + S3: the same bucket), it restores and serves.
      const target = await newTarget();
      await berthOk(['restore', meta, '--database-url', target.databaseUrl, '--storage-url', storageUrlOf(server), '--data-dir', target.dataDir]);
      const restored = await startServer({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, storageUrl: storageUrlOf(server) });
      servers.push(restored);
      const token = await registryToken(restored, credentials, `repository:${registry}/app:pull`);
      const manifest = await registryFetch(restored, token, `/v2/${registry}/app/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(manifest.status).toBe(200);
      const parsed = JSON.parse(Buffer.from(await manifest.arrayBuffer()).toString('utf8')) as { layers: { digest: string }[] };
      const layer = await registryFetch(restored, token, `/v2/${registry}/app/blobs/${parsed.layers[0]!.digest}`);
      expect(sha256Digest(Buffer.from(await layer.arrayBuffer()))).toBe(parsed.layers[0]!.digest);
    });
  });

  test('a backup killed midway leaves no index, and restore refuses it', async () => {
    const dest = join(await makeTempDir('killed'), 'b');
    const child = spawn(process.execPath, [MAIN_JS, 'backup', dest, ...instanceArgs(), '--bwlimit', '64k', '--verbose'], {
      cwd: REPO_ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const closed = new Promise((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString('utf8');
        if (/^copied /m.test(output)) resolve();
      });
      child.once('close', () => resolve());
    });
    child.kill('SIGKILL');
    await closed;
    expect(output, 'the backup finished before it could be interrupted').not.toMatch(/backup complete/);
    expect(existsSync(join(dest, 'backup.json'))).toBe(false);
    const target = await newTarget();
    expect(await berthRefuses(['restore', dest, ...target.args])).toMatch(/not a complete Berth backup/);
  });
});

/** A new instance's place: data dir, database of the project's dialect, storage of the project's kind. */
async function newTarget(): Promise<{ dataDir: string; databaseUrl: string; storageUrl?: string; args: string[] }> {
  const dataDir = join(await makeTempDir('target'), 'data');
  const databaseUrl = databaseUrlIn(await testDatabaseUrl(), dataDir);
  const storageUrl = testStorageUrl();
  return { dataDir, databaseUrl, storageUrl, args: ['--data-dir', dataDir, '--database-url', databaseUrl, ...(storageUrl ? ['--storage-url', storageUrl] : [])] };
}

/** A new database URL of the project's dialect; SQLite files live inside `dataDir` as they would in production. */
function databaseUrlIn(fresh: string, dataDir: string): string {
  return fresh.startsWith('sqlite:') ? `sqlite:${join(dataDir, 'berth.db')}` : fresh;
}
