import type { Command } from 'commander';

// The work is loaded on use: the client commands in the same binary start without it.
const actions = () => import('./ops-actions.js');

export interface CommonFlags {
  verbose?: boolean;
  bwlimit?: string;
  allowMissingBlobs?: boolean;
}

export interface InstanceFlags extends CommonFlags {
  dataDir?: string;
  databaseUrl?: string;
  storageUrl?: string;
}

export interface BackupFlags extends InstanceFlags {
  metadataOnly?: boolean;
}

export interface MigrateFlags extends CommonFlags {
  fromDatabase: string;
  toDatabase: string;
  fromStorage?: string;
  toStorage?: string;
}

function instanceOptions(cmd: Command, role: string): Command {
  return cmd
    .option('--data-dir <dir>', `data directory of the ${role} (env BERTH_DATA_DIR; default ./data)`)
    .option('--database-url <url>', `sqlite:PATH or postgres://… of the ${role} (env BERTH_DATABASE_URL; default SQLite in the data dir)`)
    .option('--storage-url <url>', `file:PATH or s3://BUCKET/PREFIX?… of the ${role}'s blobs (env BERTH_STORAGE_URL; default the data dir)`);
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
        .option('--metadata-only', 'only the metadata snapshot and the list of blobs it needs, each checked in the storage (PostgreSQL + S3: bucket versioning keeps the bytes; see README)'),
      'instance to back up',
    ),
  ).action(async (dest: string, flags: BackupFlags) => (await actions()).backupCommand(dest, flags));

  copyOptions(
    instanceOptions(
      program
        .command('restore <src>')
        .description('rebuild an instance from the backup in SRC into an empty database and storage; the whole backup is verified before anything is written'),
      'new instance',
    ),
  ).action(async (src: string, flags: InstanceFlags) => (await actions()).restoreCommand(src, flags));

  copyOptions(
    program
      .command('migrate-data')
      .description('copy an instance to another database (and storage), e.g. from the embedded SQLite to PostgreSQL; verifies every blob, resumes after an interruption')
      .requiredOption('--from-database <url>', 'source metadata: sqlite:PATH or postgres://…')
      .requiredOption('--to-database <url>', 'target metadata, empty: sqlite:PATH or postgres://…')
      .option('--from-storage <url>', 'source blobs, file:PATH or s3://BUCKET/PREFIX?… (with --to-storage; without both the blobs stay where they are)')
      .option('--to-storage <url>', 'target blobs, empty: file:PATH or s3://BUCKET/PREFIX?…'),
  ).action(async (flags: MigrateFlags) => (await actions()).migrateDataCommand(flags));
}
