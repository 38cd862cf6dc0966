/**
 * `berth backup DEST`: a consistent snapshot of a running instance without stopping it.
 *
 *   DEST/berth.db                          the metadata at one instant (SQLite, one file)
 *   DEST/blobs/<algorithm>/<2 hex>/<hex>   every blob that snapshot records, digest-verified
 *   DEST/backup.json                       the index, written last: what the backup holds,
 *                                          with the snapshot's sha256; no index = incomplete
 *
 * The layout is a Berth data directory, so a backup is also inspectable with Berth's own tools.
 * SQLite sources are snapshotted with SQLite's online backup API; PostgreSQL sources are read
 * in one REPEATABLE READ transaction into a new SQLite file. Blobs are then copied through the
 * BlobDriver seam (any driver), hashed on the way. Pushes continue meanwhile; what they add
 * after the snapshot instant is simply not in the backup.
 */
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile, open } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { createDriver } from '../context.js';
import { connectDatabase, migrateToLatest } from '../db/index.js';
import { createFilesystemDriver } from '../storage/index.js';
import { copyBlob, CorruptBlobError, forEachConcurrently, listBlobs } from './blobs.js';
import { OperatorError } from './errors.js';
import { appliedMigrations, copyMetadata } from './metadata.js';
import { formatBytes, Progress, type RateLimit, type Say } from './progress.js';
import { hashFile, openSnapshot, sealSnapshot, snapshotSqlite } from './snapshot.js';
import { checkSource } from './transfer.js';
import { BERTH_VERSION, BACKUP_INDEX, BACKUP_METADATA, describeDatabase, describeStorage, type BackupIndex } from './backup-index.js';

export interface BackupOptions {
  dest: string;
  /** Only the metadata snapshot (PostgreSQL + S3: the bucket's own versioning keeps the bytes). */
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
    const driver = options.metadataOnly ? undefined : createDriver(config);

    // Everything checked: from here on DEST is written, and removed again if the backup fails.
    await mkdir(dest, { recursive: true });
    try {
      return await writeBackup(config, dest, sourceDb, driver, options);
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
  driver: ReturnType<typeof createDriver> | undefined,
  options: BackupOptions,
): Promise<BackupIndex> {
  const say = options.say;
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
  // Upload sessions and rate-limit counters describe the moment, not content the backup holds.
  await sealSnapshot(partial, (db) => {
    db.exec('delete from uploads; delete from rate_limits;');
  });
  await rename(partial, metadataFile);
  const { db: snapshot, raw } = openSnapshot(metadataFile);
  try {
    await checkSource(snapshot, 'the snapshot');
    const counts: Record<string, number> = {};
    for (const table of ['registries', 'repositories', 'manifests', 'tags', 'blobs']) {
      counts[table] = Number((raw.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n);
    }
    const blobBytes = Number((raw.prepare('select coalesce(sum(size), 0) as n from blobs').get() as { n: number }).n);
    say(`metadata snapshot of ${describeDatabase(config.database)} taken at ${takenAt.toISOString()}: ${counts.registries} registries, ${counts.repositories} repositories, ${counts.manifests} manifests, ${counts.blobs} blobs (${formatBytes(blobBytes)})`);

    const missing: string[] = [];
    if (driver) {
      const target = createFilesystemDriver(dest);
      const progress = new Progress('blobs', { items: counts.blobs!, bytes: blobBytes }, say);
      await forEachConcurrently(listBlobs(snapshot), 4, async (blob) => {
        let outcome;
        try {
          outcome = await copyBlob(driver, target, blob, { sourceName: describeStorage(config.storage), limit: options.limit });
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
      if (missing.length > 0 && !options.allowMissingBlobs) {
        throw new OperatorError(
          `${missing.length} blob(s) recorded in the snapshot have no bytes in ${describeStorage(config.storage)} (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}). ` +
            'Were they removed by garbage collection during the backup? Run it again, or pass --allow-missing-blobs to keep a backup without them.',
        );
      }
    }

    const file = await hashFile(metadataFile);
    const index: BackupIndex = {
      format: 'berth-backup',
      version: 1,
      created_at: takenAt.toISOString(),
      berth_version: BERTH_VERSION,
      source: { database: config.database.dialect, storage: config.storage.driver },
      schema: await appliedMigrations(snapshot),
      metadata: { file: BACKUP_METADATA, bytes: file.bytes, sha256: file.sha256 },
      blobs: { included: driver !== undefined, count: counts.blobs!, bytes: blobBytes, missing },
      counts,
    };
    await writeDurably(path.join(dest, BACKUP_INDEX), `${JSON.stringify(index, null, 2)}\n`);
    say(
      `backup complete in ${dest}: ${counts.registries} registries, ${counts.repositories} repositories, ${counts.manifests} manifests` +
        (driver ? `, ${counts.blobs! - missing.length} blobs (${formatBytes(blobBytes)}) verified` : ' (metadata only: the blobs stay in your storage)'),
    );
    return index;
  } finally {
    await snapshot.destroy();
  }
}

/** temp file → fsync → rename → fsync the directory. */
export async function writeDurably(file: string, content: string): Promise<void> {
  const temp = `${file}.tmp`;
  await writeFile(temp, content);
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
