/**
 * What `berth backup`, `restore` and `migrate-data` do once their flags are parsed: read the
 * configuration, open the blob stores through the composition root, run the operation from
 * src/ops and print what happened. Every store opened here is closed again.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  describeDatabase,
  describeStorage,
  loadConfig,
  parseDatabaseUrl,
  parseStorageUrl,
  type DatabaseConfig,
  type StorageConfig,
} from '../config/index.js';
import { createDriver } from '../context.js';
import { connectDatabase, type Db } from '../db/index.js';
import { backup } from '../ops/backup.js';
import { OperatorError } from '../ops/errors.js';
import { formatBytes, parseRate, RateLimit } from '../ops/progress.js';
import { restore } from '../ops/restore.js';
import { transfer, type TransferReport } from '../ops/transfer.js';
import type { BlobDriver } from '../storage/index.js';
import type { BackupFlags, CommonFlags, InstanceFlags, MigrateFlags } from './ops.js';

const say = (line: string) => console.log(line);

function rateLimit(flags: CommonFlags): RateLimit | undefined {
  if (flags.bwlimit === undefined) return undefined;
  const rate = parseRate(flags.bwlimit);
  if (rate === undefined) throw new OperatorError(`--bwlimit: "${flags.bwlimit}" is not a rate such as 50M, 800k or 1G (bytes per second)`);
  return new RateLimit(rate);
}

/** Runs `work` with the blob store `storage` names open, and closes it afterwards. */
async function withDriver<T>(storage: StorageConfig, work: (driver: BlobDriver) => Promise<T>): Promise<T> {
  const driver = await createDriver(storage);
  try {
    return await work(driver);
  } finally {
    await driver.close?.();
  }
}

export async function backupCommand(dest: string, flags: BackupFlags): Promise<void> {
  const config = loadConfig({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, storageUrl: flags.storageUrl, logLevel: 'warn' });
  await withDriver(config.storage, (driver) =>
    backup(config, { dest, driver, metadataOnly: flags.metadataOnly, allowMissingBlobs: flags.allowMissingBlobs, verbose: flags.verbose, limit: rateLimit(flags), say }),
  );
}

export async function restoreCommand(src: string, flags: InstanceFlags): Promise<void> {
  const config = loadConfig({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, storageUrl: flags.storageUrl, logLevel: 'warn' });
  await withDriver(config.storage, (driver) => restore(src, config, { driver, allowMissingBlobs: flags.allowMissingBlobs, verbose: flags.verbose, limit: rateLimit(flags), say }));
  say(`start it with: berth serve --database-url '${describeDatabase(config.database)}' --storage-url '${describeStorage(config.storage)}'`);
}

export async function migrateDataCommand(flags: MigrateFlags): Promise<void> {
  const problems: string[] = [];
  const fromDb = parseDatabaseUrl(flags.fromDatabase, '.', '--from-database', problems);
  const toDb = parseDatabaseUrl(flags.toDatabase, '.', '--to-database', problems);
  let fromStorage: StorageConfig | undefined;
  let toStorage: StorageConfig | undefined;
  if ((flags.fromStorage === undefined) !== (flags.toStorage === undefined)) {
    problems.push('--from-storage and --to-storage go together: give both to copy the blobs, or neither to leave them where they are');
  } else if (flags.fromStorage !== undefined && flags.toStorage !== undefined) {
    fromStorage = parseStorageUrl(flags.fromStorage, '.', '--from-storage', problems);
    toStorage = parseStorageUrl(flags.toStorage, '.', '--to-storage', problems);
  }
  if (problems.length > 0) throw new OperatorError(problems.join('\n  '));
  if (sameDatabase(fromDb, toDb)) throw new OperatorError('--from-database and --to-database name the same database');
  if (fromStorage && toStorage && sameStorage(fromStorage, toStorage)) throw new OperatorError('--from-storage and --to-storage name the same storage');
  if (fromDb.dialect === 'sqlite' && !(await exists(fromDb.file))) throw new OperatorError(`there is no database at ${fromDb.file} (--from-database)`);

  const source = connectDatabase(fromDb);
  let target: Db | undefined;
  const drivers: BlobDriver[] = [];
  try {
    const targetExists = toDb.dialect === 'postgres' || (await exists(toDb.file));
    if (targetExists) target = connectDatabase(toDb);
    const fromDriver = fromStorage ? await createDriver(fromStorage) : undefined;
    if (fromDriver) drivers.push(fromDriver);
    const toDriver = toStorage ? await createDriver(toStorage) : undefined;
    if (toDriver) drivers.push(toDriver);
    const report = await transfer(
      { label: describeDatabase(fromDb), db: source, dialect: fromDb.dialect, driver: fromDriver, storageLabel: fromStorage ? describeStorage(fromStorage) : undefined },
      {
        label: describeDatabase(toDb),
        db: target ?? (() => (target = connectDatabase(toDb))),
        driver: toDriver,
        storageLabel: toStorage ? describeStorage(toStorage) : undefined,
      },
      { say, verbose: flags.verbose, limit: rateLimit(flags), allowMissingBlobs: flags.allowMissingBlobs },
    );
    printSummary(report);
    say(`start Berth on the target: berth serve --database-url '${describeDatabase(toDb)}'${toStorage ? ` --storage-url '${describeStorage(toStorage)}'` : ''}`);
  } finally {
    await target?.destroy();
    await source.destroy();
    for (const d of drivers) await d.close?.();
  }
}

function printSummary(report: TransferReport): void {
  const rows = report.tables.reduce((n, t) => n + t.inserted, 0);
  const before = report.tables.reduce((n, t) => n + t.before, 0);
  const duplicates = report.tables.reduce((n, t) => n + t.duplicates, 0);
  say(`migrate-data complete${report.resumed ? ' (resumed)' : ''}`);
  if (report.blobs) {
    const b = report.blobs;
    say(`blobs: ${b.total} (${formatBytes(b.bytes)}); copied now: ${b.copied} (${formatBytes(b.copiedBytes)}); already in the target: ${b.present}; missing in the source: ${b.missing.length}`);
  }
  say(`rows: copied now: ${rows}; copied by an earlier run: ${before}; duplicates: ${duplicates}`);
}

function sameDatabase(a: DatabaseConfig, b: DatabaseConfig): boolean {
  if (a.dialect === 'sqlite' && b.dialect === 'sqlite') return path.resolve(a.file) === path.resolve(b.file);
  if (a.dialect === 'postgres' && b.dialect === 'postgres') {
    const ua = new URL(a.url);
    const ub = new URL(b.url);
    return ua.hostname === ub.hostname && (ua.port || '5432') === (ub.port || '5432') && ua.pathname === ub.pathname;
  }
  return false;
}

/** One directory, or one bucket and prefix (whatever endpoint reaches it). */
function sameStorage(a: StorageConfig, b: StorageConfig): boolean {
  if (a.driver === 'filesystem' && b.driver === 'filesystem') return path.resolve(a.root) === path.resolve(b.root);
  if (a.driver === 's3' && b.driver === 's3') return a.bucket === b.bucket && a.prefix === b.prefix;
  return false;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
