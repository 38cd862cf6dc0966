/**
 * `berth restore SRC`: rebuilds an instance from a backup into an empty database and storage
 * of either kind. The whole backup is verified first (index, snapshot checksum and integrity,
 * every blob's digest), so a corrupt or partial backup is refused before anything is written.
 * The copy itself is the migrate-data engine (transfer.ts) from the snapshot, which verifies
 * every blob again on arrival and resumes if interrupted.
 */
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { connectDatabase, migrateToLatest, type Db } from '../db/index.js';
import { createFilesystemDriver, type BlobDriver } from '../storage/index.js';
import { forEachConcurrently, listBlobs, storageKeyOf, verifyBlob } from './blobs.js';
import { describeDatabase, describeStorage, readBackupIndex, type BackupIndex } from './backup-index.js';
import { OperatorError } from './errors.js';
import { knownMigrations } from './metadata.js';
import { formatBytes, Progress, type RateLimit, type Say } from './progress.js';
import { checkSnapshot, hashFile, openSnapshot } from './snapshot.js';
import { checkTarget, fingerprint, transfer } from './transfer.js';

export interface RestoreOptions {
  /** The target's blob storage (`target.storage`), opened by the caller. */
  driver: BlobDriver;
  say: Say;
  verbose?: boolean;
  allowMissingBlobs?: boolean;
  limit?: RateLimit;
}

/** Checks the index and the metadata snapshot of the backup in `src` (checksum, integrity, schema). */
export async function verifyMetadata(src: string, say: Say): Promise<BackupIndex> {
  const index = await readBackupIndex(src);
  const metadataFile = path.join(src, index.metadata.file);
  let file;
  try {
    file = await hashFile(metadataFile);
  } catch {
    throw new OperatorError(`the backup in ${src} is corrupt: its metadata snapshot ${index.metadata.file} is missing`);
  }
  if (file.bytes !== index.metadata.bytes || file.sha256 !== index.metadata.sha256) {
    throw new OperatorError(`the backup in ${src} is corrupt: ${index.metadata.file} is ${file.bytes} bytes with sha256 ${file.sha256}, the index says ${index.metadata.bytes} bytes with sha256 ${index.metadata.sha256}`);
  }
  const integrity = checkSnapshot(metadataFile);
  if (integrity !== 'ok') throw new OperatorError(`the backup in ${src} is corrupt: its snapshot fails SQLite's integrity check (${integrity})`);
  const newer = index.schema.filter((m) => !knownMigrations().includes(m));
  if (newer.length > 0) throw new OperatorError(`the backup in ${src} was made by a newer Berth (schema ${newer.join(', ')}); restore it with that version`);
  say(`backup of ${index.created_at}: ${index.counts.registries ?? '?'} registries, ${index.counts.repositories ?? '?'} repositories, ${index.counts.manifests ?? '?'} manifests; metadata checksum ok`);
  return index;
}

/**
 * Checks every blob the snapshot records: re-hashed in the backup, or (metadata-only backup)
 * present with the right size in the target storage. Writes nothing.
 */
export async function verifyBlobs(src: string, index: BackupIndex, target: Readonly<Config>, options: RestoreOptions): Promise<void> {
  const say = options.say;
  const { db: snapshot } = openSnapshot(path.join(src, index.metadata.file));
  try {
    const expectedMissing = new Set(index.blobs.missing);
    const problems: string[] = [];
    let count = 0;
    // Blobs in the backup are re-hashed; for a metadata-only backup the target storage must already hold them.
    const where = index.blobs.included ? createFilesystemDriver(src) : options.driver;
    const whereName = index.blobs.included ? `the backup in ${src}` : describeStorage(target.storage);
    const progress = new Progress(index.blobs.included ? 'verifying blobs' : 'checking blobs in the target storage', { items: index.blobs.count, bytes: index.blobs.bytes }, say);
    await forEachConcurrently(listBlobs(snapshot), 4, async (blob) => {
      count++;
      if (index.blobs.included) {
        const result = await verifyBlob(where, blob);
        if (result === 'missing' && !expectedMissing.has(blob.digest)) problems.push(`${blob.digest} is missing`);
        else if (typeof result === 'object') problems.push(`${blob.digest} is corrupt (its ${result.size} bytes hash to ${result.actual})`);
      } else {
        const key = storageKeyOf(blob);
        const stored = await where.stat(key);
        if (!stored || stored.size !== blob.size) problems.push(`${blob.digest} (${key}) is ${stored ? `${stored.size} bytes, not ${blob.size}` : 'missing'}`);
      }
      progress.add(1, blob.size);
    });
    progress.finish(problems.length === 0 ? 'all ok' : `${problems.length} problem(s)`);
    if (count !== index.blobs.count) problems.push(`the snapshot records ${count} blobs, the index ${index.blobs.count}`);
    if (problems.length > 0) {
      if (options.verbose) for (const problem of problems) say(`problem: ${problem}`);
      const list = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; … (${problems.length} in all${options.verbose ? '' : ', --verbose lists them'})` : '');
      if (index.blobs.included) throw new OperatorError(`the backup in ${src} is corrupt: ${list}. Nothing was restored.`);
      if (!options.allowMissingBlobs) {
        throw new OperatorError(`${whereName} does not hold every blob this metadata-only backup records: ${list}. Nothing was restored; restore the bucket or directory first, or pass --allow-missing-blobs.`);
      }
    }
  } finally {
    await snapshot.destroy();
  }
}

export async function restore(src: string, target: Readonly<Config>, options: RestoreOptions): Promise<void> {
  const say = options.say;
  src = path.resolve(src);
  const index = await verifyMetadata(src, say);
  // The target before the blobs: a restore into a database that holds data is refused at once.
  await checkRestoreTarget(src, index, target, options.driver);
  await verifyBlobs(src, index, target, options);

  // Old backups restore into the current schema: migrate a private copy of the snapshot.
  const work = await mkdtemp(path.join(tmpdir(), 'berth-restore-'));
  let source: Db | undefined;
  let targetDb: Db | undefined;
  let report;
  try {
    const copy = path.join(work, 'snapshot.db');
    await copyFile(path.join(src, index.metadata.file), copy);
    source = connectDatabase({ dialect: 'sqlite', file: copy });
    await migrateToLatest(source);

    const database = target.database;
    const exists = database.dialect === 'postgres' || (await stat(database.file).then(() => true, () => false));
    if (exists) targetDb = connectDatabase(database);
    report = await transfer(
      { label: `the backup in ${src}`, db: source, dialect: 'sqlite', driver: index.blobs.included ? createFilesystemDriver(src) : undefined, storageLabel: `the backup in ${src}` },
      {
        label: describeDatabase(database),
        db: targetDb ?? (() => (targetDb = connectDatabase(database))),
        driver: index.blobs.included ? options.driver : undefined,
        storageLabel: describeStorage(target.storage),
      },
      {
        say,
        verbose: options.verbose,
        limit: options.limit,
        verifyPresent: true,
        allowMissingBlobs: true,
        // A metadata-only backup's blobs were found in the target storage: the database is its.
        storageIdentity: index.blobs.included ? undefined : await options.driver.identity(),
      },
    );
  } finally {
    await targetDb?.destroy();
    await source?.destroy();
    await rm(work, { recursive: true, force: true });
  }
  const blobs = report.blobs;
  say(
    `restored into ${describeDatabase(target.database)} and ${describeStorage(target.storage)}: ` +
      `${index.counts.registries ?? 0} registries, ${index.counts.repositories ?? 0} repositories, ${index.counts.manifests ?? 0} manifests` +
      (blobs ? `, ${blobs.copied + blobs.present} blobs (${formatBytes(blobs.bytes)}) verified` : ''),
  );
}

/** Refuses a target database or storage that holds anything but an unfinished restore of this backup. */
async function checkRestoreTarget(src: string, index: BackupIndex, target: Readonly<Config>, driver: BlobDriver): Promise<void> {
  const database = target.database;
  const exists = database.dialect === 'postgres' || (await stat(database.file).then(() => true, () => false));
  const { db: snapshot } = openSnapshot(path.join(src, index.metadata.file));
  const targetDb = exists ? connectDatabase(database) : undefined;
  try {
    await checkTarget(
      {
        label: describeDatabase(database),
        db: targetDb ?? (() => connectDatabase(database)),
        driver: index.blobs.included ? driver : undefined,
        storageLabel: describeStorage(target.storage),
      },
      await fingerprint(snapshot),
      snapshot,
    );
  } catch (err) {
    if (err instanceof OperatorError) throw err;
    throw new OperatorError(`the backup in ${src} is corrupt: its snapshot cannot be read (${(err as Error).message})`, { cause: err });
  } finally {
    await targetDb?.destroy();
    await snapshot.destroy();
  }
}
