/**
 * `berth backup DEST`: a consistent snapshot of a running instance without stopping it.
 *
 *   DEST/berth.db                          the metadata at one instant (SQLite, one file)
 *   DEST/blobs/<algorithm>/<2 hex>/<hex>   every blob that snapshot records, digest-verified
 *   DEST/blobs.tsv                         --metadata-only instead: digest, size and storage
 *                                          key of every blob the snapshot needs
 *   DEST/backup.json                       the index, written last: what the backup holds,
 *                                          with the snapshot's sha256; no index = incomplete
 *
 * The layout is a Berth data directory, so a backup is also inspectable with Berth's own tools.
 * SQLite sources are snapshotted with SQLite's online backup API; PostgreSQL sources are read
 * in one REPEATABLE READ transaction into a new SQLite file. Blobs are then copied through the
 * BlobDriver seam (filesystem or S3), hashed on the way; a metadata-only backup checks that the
 * storage holds each of them instead (a HEAD each on S3, no download). Pushes continue
 * meanwhile; what they add after the snapshot instant is simply not in the backup. Everything
 * is written owner-only (0700/0600): the snapshot holds the token service's signing key.
 */
import { chmod, mkdir, readdir, rename, rm, rmdir, stat, writeFile, open } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { connectDatabase, migrateToLatest } from '../db/index.js';
import { createFilesystemDriver, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, type BlobDriver } from '../storage/index.js';
import { copyBlob, CorruptBlobError, forEachConcurrently, listBlobs, storageKeyOf } from './blobs.js';
import { OperatorError } from './errors.js';
import { appliedMigrations, copyMetadata, STORAGE_IDENTITY } from './metadata.js';
import { formatBytes, Progress, type RateLimit, type Say } from './progress.js';
import { hashFile, openSnapshot, sealSnapshot, snapshotSqlite } from './snapshot.js';
import { checkSource } from './transfer.js';
import { BERTH_VERSION, BACKUP_BLOB_LIST, BACKUP_INDEX, BACKUP_METADATA, describeDatabase, describeStorage, type BackupIndex } from './backup-index.js';

export interface BackupOptions {
  dest: string;
  /** The instance's blob storage (`config.storage`), opened by the caller. */
  driver: BlobDriver;
  /** Only the metadata snapshot and the list of blobs it needs (PostgreSQL + S3: the bucket's versioning keeps the bytes). */
  metadataOnly?: boolean;
  allowMissingBlobs?: boolean;
  verbose?: boolean;
  limit?: RateLimit;
  say: Say;
}

/** Refuses anything but a missing path or an empty directory. */
async function checkDestination(dest: string): Promise<'missing' | 'empty'> {
  let s;
  try {
    s = await stat(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new OperatorError(`cannot use ${dest} as the backup destination: ${(err as Error).message}`);
  }
  if (!s.isDirectory()) throw new OperatorError(`the backup destination ${dest} exists and is not a directory; choose a new path`);
  const entries = await readdir(dest);
  if (entries.length > 0) throw new OperatorError(`the backup destination ${dest} exists and is not empty (${entries.length} entries); choose a new or empty directory`);
  return 'empty';
}

export async function backup(config: Readonly<Config>, options: BackupOptions): Promise<BackupIndex> {
  const say = options.say;
  const dest = path.resolve(options.dest);
  const existed = (await checkDestination(dest)) === 'empty';
  const source = config.database;
  if (source.dialect === 'sqlite' && source.file === ':memory:') throw new OperatorError('an in-memory database cannot be backed up');
  if (source.dialect === 'sqlite') {
    try {
      await stat(source.file);
    } catch {
      throw new OperatorError(`there is no database at ${source.file}; pass --data-dir or --database-url of the instance to back up`);
    }
  }
  const sourceDb = source.dialect === 'postgres' ? connectDatabase(source) : undefined;
  try {
    if (sourceDb) await checkSource(sourceDb, describeDatabase(source));

    // Everything checked: from here on DEST is written, and removed again if the backup fails.
    await mkdir(dest, { recursive: true, mode: PRIVATE_DIR_MODE });
    await chmod(dest, PRIVATE_DIR_MODE);
    try {
      return await writeBackup(config, dest, sourceDb, options);
    } catch (err) {
      if (existed) {
        for (const entry of await readdir(dest)) await rm(path.join(dest, entry), { recursive: true, force: true });
      } else {
        await rm(dest, { recursive: true, force: true });
      }
      say(`backup failed; removed what it had written to ${dest}`);
      throw err;
    }
  } finally {
    await sourceDb?.destroy();
  }
}

async function writeBackup(
  config: Readonly<Config>,
  dest: string,
  sourceDb: ReturnType<typeof connectDatabase> | undefined,
  options: BackupOptions,
): Promise<BackupIndex> {
  const say = options.say;
  const included = !options.metadataOnly;
  const metadataFile = path.join(dest, BACKUP_METADATA);
  const partial = `${metadataFile}.partial`;
  const takenAt = new Date();
  if (config.database.dialect === 'sqlite') {
    await snapshotSqlite(config.database.file, partial);
  } else {
    // One REPEATABLE READ transaction: every table as of the same instant.
    const snapshot = connectDatabase({ dialect: 'sqlite', file: partial });
    try {
      await migrateToLatest(snapshot);
      await sourceDb!
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute((tx) => copyMetadata(tx, snapshot));
    } finally {
      await snapshot.destroy();
    }
  }
  await chmod(partial, PRIVATE_FILE_MODE);
  // Upload sessions and the rate-limit log describe the moment, not content the backup holds.
  await sealSnapshot(partial, (db) => {
    db.exec('delete from uploads; delete from rate_limit_keys; delete from rate_limit_hits;');
  });
  await rename(partial, metadataFile);
  const where = describeStorage(config.storage);
  const { counts, blobBytes, missing, schema } = await blobsOfSnapshot(metadataFile, dest, where, `metadata snapshot of ${describeDatabase(config.database)} taken at ${takenAt.toISOString()}`, options);
  if (included) {
    // Every blob is now at its digest's key in DEST, and the database no longer belongs to the
    // instance's storage (restore ties it to the target's).
    await sealSnapshot(metadataFile, (db) => {
      db.prepare('update blobs set storage_key = null where storage_key is not null').run();
      db.prepare('delete from settings where key = ?').run(STORAGE_IDENTITY);
    });
  }

  const file = await hashFile(metadataFile);
  const index: BackupIndex = {
    format: 'berth-backup',
    version: 1,
    created_at: takenAt.toISOString(),
    berth_version: BERTH_VERSION,
    source: { database: config.database.dialect, storage: config.storage.driver, ...(included ? {} : { storage_url: where }) },
    schema,
    metadata: { file: BACKUP_METADATA, bytes: file.bytes, sha256: file.sha256 },
    blobs: { included, count: counts.blobs!, bytes: blobBytes, missing, ...(included ? {} : { list: BACKUP_BLOB_LIST }) },
    counts,
  };
  await writeDurably(path.join(dest, BACKUP_INDEX), `${JSON.stringify(index, null, 2)}\n`);
  say(
    `backup complete in ${dest}: ${counts.registries} registries, ${counts.repositories} repositories, ${counts.manifests} manifests` +
      (included
        ? `, ${counts.blobs! - missing.length} blobs (${formatBytes(blobBytes)}) verified`
        : ` (metadata only: the ${counts.blobs! - missing.length} blobs it needs stay in ${where}, listed in ${BACKUP_BLOB_LIST})`),
  );
  return index;
}

/**
 * The blobs the snapshot records: copied into DEST and verified, or (metadata only) checked
 * in the instance's storage by size, without a download, and listed in DEST/blobs.tsv.
 */
async function blobsOfSnapshot(
  metadataFile: string,
  dest: string,
  where: string,
  heading: string,
  options: BackupOptions,
): Promise<{ counts: Record<string, number>; blobBytes: number; missing: string[]; schema: string[] }> {
  const say = options.say;
  const driver = options.driver;
  const { db: snapshot, raw } = openSnapshot(metadataFile);
  try {
    await checkSource(snapshot, 'the snapshot');
    const counts: Record<string, number> = {};
    for (const table of ['registries', 'repositories', 'manifests', 'tags', 'blobs']) {
      counts[table] = Number((raw.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n);
    }
    const blobBytes = Number((raw.prepare('select coalesce(sum(size), 0) as n from blobs').get() as { n: number }).n);
    say(`${heading}: ${counts.registries} registries, ${counts.repositories} repositories, ${counts.manifests} manifests, ${counts.blobs} blobs (${formatBytes(blobBytes)})`);

    const missing: string[] = [];
    if (!options.metadataOnly) {
      const target = createFilesystemDriver(dest);
      const progress = new Progress('blobs', { items: counts.blobs!, bytes: blobBytes }, say);
      await forEachConcurrently(listBlobs(snapshot), 4, async (blob) => {
        let outcome;
        try {
          ({ outcome } = await copyBlob(driver, target, blob, { sourceName: where, limit: options.limit }));
        } catch (err) {
          if (err instanceof CorruptBlobError) throw new OperatorError(err.message, { cause: err });
          throw err;
        }
        if (outcome === 'missing') missing.push(blob.digest);
        if (options.verbose) say(`${outcome} ${blob.digest} (${formatBytes(blob.size)})`);
        progress.add(1, blob.size);
      });
      progress.finish(missing.length > 0 ? `${missing.length} missing in the source` : 'all verified');
      await rmdir(path.join(dest, 'uploads')).catch(() => undefined);
    } else {
      const progress = new Progress(`checking blobs in ${where}`, { items: counts.blobs!, bytes: blobBytes }, say);
      const lines: string[] = [];
      await forEachConcurrently(listBlobs(snapshot), 8, async (blob) => {
        const key = storageKeyOf(blob);
        const stored = await driver.stat(key);
        if (!stored || stored.size !== blob.size) missing.push(blob.digest);
        lines.push(`${blob.digest}\t${blob.size}\t${key}\n`);
        progress.add(1, blob.size);
      });
      progress.finish(missing.length > 0 ? `${missing.length} missing or of another size` : 'all present');
      lines.sort();
      await writeDurably(path.join(dest, BACKUP_BLOB_LIST), `# digest\tsize\tkey (relative to ${where})\n${lines.join('')}`);
    }
    if (missing.length > 0 && !options.allowMissingBlobs) {
      throw new OperatorError(
        `${missing.length} blob(s) recorded in the snapshot have no bytes in ${where} (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}). ` +
          'Were they removed by garbage collection during the backup? Run it again, or pass --allow-missing-blobs to keep a backup without them.',
      );
    }
    return { counts, blobBytes, missing, schema: await appliedMigrations(snapshot) };
  } finally {
    await snapshot.destroy();
  }
}

/** temp file → fsync → rename → fsync the directory. */
export async function writeDurably(file: string, content: string): Promise<void> {
  const temp = `${file}.tmp`;
  await writeFile(temp, content, { mode: PRIVATE_FILE_MODE });
  const handle = await open(temp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
