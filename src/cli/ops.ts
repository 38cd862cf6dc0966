import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, parseDatabaseUrl, parseStorageUrl, type Config, type DatabaseConfig, type StorageConfig } from '../config/index.js';
import { createDriver } from '../context.js';
import { connectDatabase, type Db } from '../db/index.js';
import { backup } from '../ops/backup.js';
import { describeDatabase, describeStorage } from '../ops/backup-index.js';
import { OperatorError } from '../ops/errors.js';
import { formatBytes, parseRate, RateLimit } from '../ops/progress.js';
import { restore } from '../ops/restore.js';
import { transfer, type TransferReport } from '../ops/transfer.js';

interface CommonFlags {
  verbose?: boolean;
  bwlimit?: string;
  allowMissingBlobs?: boolean;
}

interface InstanceFlags extends CommonFlags {
  dataDir?: string;
  databaseUrl?: string;
  storageUrl?: string;
}

const say = (line: string) => console.log(line);

function rateLimit(flags: CommonFlags): RateLimit | undefined {
  if (flags.bwlimit === undefined) return undefined;
  const rate = parseRate(flags.bwlimit);
  if (rate === undefined) throw new OperatorError(`--bwlimit: "${flags.bwlimit}" is not a rate such as 50M, 800k or 1G (bytes per second)`);
  return new RateLimit(rate);
}

function instanceOptions(cmd: Command, role: string): Command {
  return cmd
    .option('--data-dir <dir>', `data directory of the ${role} (env BERTH_DATA_DIR; default ./data)`)
    .option('--database-url <url>', `sqlite:PATH or postgres://… of the ${role} (env BERTH_DATABASE_URL; default SQLite in the data dir)`)
    .option('--storage-url <url>', `file:PATH of the ${role}'s blobs (env BERTH_STORAGE_URL; default the data dir)`);
}

function copyOptions(cmd: Command): Command {
  return cmd
    .option('--bwlimit <rate>', 'limit blob copying to this many bytes per second, e.g. 50M (default: unlimited)')
    .option('--allow-missing-blobs', 'carry on when the source records blobs whose bytes are gone (they are listed)')
    .option('--verbose', 'print a line per blob as well as the periodic progress');
}

export function registerOpsCommands(program: Command): void {
  copyOptions(
    instanceOptions(
      program
        .command('backup <dest>')
        .description('back up a running instance into the new or empty directory DEST: a consistent metadata snapshot and every blob it records, digest-verified')
        .option('--metadata-only', 'only the metadata snapshot (PostgreSQL + S3: the bucket keeps the bytes; see README)'),
      'instance to back up',
    ),
  ).action(async (dest: string, flags: InstanceFlags & { metadataOnly?: boolean }) => {
    const config = loadConfig({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, storageUrl: flags.storageUrl, logLevel: 'warn' });
    await backup(config, { dest, metadataOnly: flags.metadataOnly, allowMissingBlobs: flags.allowMissingBlobs, verbose: flags.verbose, limit: rateLimit(flags), say });
  });

  copyOptions(
    instanceOptions(
      program
        .command('restore <src>')
        .description('rebuild an instance from the backup in SRC into an empty database and storage; the whole backup is verified before anything is written'),
      'new instance',
    ),
  ).action(async (src: string, flags: InstanceFlags) => {
    const config = loadConfig({ dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, storageUrl: flags.storageUrl, logLevel: 'warn' });
    await restore(src, config, { allowMissingBlobs: flags.allowMissingBlobs, verbose: flags.verbose, limit: rateLimit(flags), say });
    say(`start it with: berth serve --database-url ${describeDatabase(config.database)} --storage-url ${describeStorage(config.storage)}`);
  });

  copyOptions(
    program
      .command('migrate-data')
      .description('copy an instance to another database (and storage), e.g. from the embedded SQLite to PostgreSQL; verifies every blob, resumes after an interruption')
      .requiredOption('--from-database <url>', 'source metadata: sqlite:PATH or postgres://…')
      .requiredOption('--to-database <url>', 'target metadata, empty: sqlite:PATH or postgres://…')
      .option('--from-storage <url>', 'source blobs, file:PATH (with --to-storage; without both the blobs stay where they are)')
      .option('--to-storage <url>', 'target blobs, empty: file:PATH'),
  ).action(migrateData);
}

interface MigrateFlags extends CommonFlags {
  fromDatabase: string;
  toDatabase: string;
  fromStorage?: string;
  toStorage?: string;
}

async function migrateData(flags: MigrateFlags): Promise<void> {
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
  try {
    const targetExists = toDb.dialect === 'postgres' || (await exists(toDb.file));
    if (targetExists) target = connectDatabase(toDb);
    const report = await transfer(
      {
        label: describeDatabase(fromDb),
        db: source,
        dialect: fromDb.dialect,
        driver: fromStorage ? createDriver(configFor(fromStorage)) : undefined,
        storageLabel: fromStorage ? describeStorage(fromStorage) : undefined,
      },
      {
        label: describeDatabase(toDb),
        db: target ?? (() => (target = connectDatabase(toDb))),
        driver: toStorage ? createDriver(configFor(toStorage)) : undefined,
        storageLabel: toStorage ? describeStorage(toStorage) : undefined,
      },
      { say, verbose: flags.verbose, limit: rateLimit(flags), allowMissingBlobs: flags.allowMissingBlobs },
    );
    printSummary(report);
    say(`start Berth on the target: berth serve --database-url ${describeDatabase(toDb)}${toStorage ? ` --storage-url ${describeStorage(toStorage)}` : ''}`);
  } finally {
    await target?.destroy();
    await source.destroy();
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

/** A full Config around one storage URL, for the driver table in context.ts. */
function configFor(storage: StorageConfig): Readonly<Config> {
  const url = storage.driver === 'filesystem' ? `file:${storage.root}` : `s3://${storage.bucket}/${storage.prefix}`;
  return loadConfig({ storageUrl: url, logLevel: 'warn' }, {});
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

function sameStorage(a: StorageConfig, b: StorageConfig): boolean {
  return a.driver === 'filesystem' && b.driver === 'filesystem' && path.resolve(a.root) === path.resolve(b.root);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
