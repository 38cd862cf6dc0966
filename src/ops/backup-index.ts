import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DatabaseConfig, StorageConfig } from '../config/index.js';
import { OperatorError } from './errors.js';

/** backup.json: what a backup holds. Written last, so a backup without it is incomplete. */
export interface BackupIndex {
  format: 'berth-backup';
  version: 1;
  /** The instant of the metadata snapshot. */
  created_at: string;
  berth_version: string;
  source: { database: 'sqlite' | 'postgres'; storage: string };
  /** Migrations applied in the snapshot. */
  schema: string[];
  metadata: { file: string; bytes: number; sha256: string };
  /** `included: false` for --metadata-only; `missing` lists blobs the source had no bytes for. */
  blobs: { included: boolean; count: number; bytes: number; missing: string[] };
  /** Rows per table, for people reading the index. */
  counts: Record<string, number>;
}

export const BACKUP_INDEX = 'backup.json';
export const BACKUP_METADATA = 'berth.db';

export { BERTH_VERSION } from '../version.js';

/** Reads and checks the index of a backup directory. */
export async function readBackupIndex(src: string): Promise<BackupIndex> {
  const file = path.join(src, BACKUP_INDEX);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OperatorError(`${src} is not a complete Berth backup: it has no ${BACKUP_INDEX} (the backup was interrupted, failed, or this is another directory)`);
    }
    throw new OperatorError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let index: BackupIndex;
  try {
    index = JSON.parse(text) as BackupIndex;
  } catch {
    throw new OperatorError(`${file} is not valid JSON: the backup is corrupt`);
  }
  if (index?.format !== 'berth-backup') throw new OperatorError(`${file} does not describe a Berth backup`);
  if (index.version !== 1) throw new OperatorError(`${file} has format version ${String(index.version)}; this Berth reads version 1`);
  const valid =
    typeof index.metadata?.file === 'string' &&
    !index.metadata.file.includes('/') &&
    typeof index.metadata.sha256 === 'string' &&
    typeof index.metadata.bytes === 'number' &&
    typeof index.blobs?.included === 'boolean' &&
    typeof index.blobs.count === 'number' &&
    Array.isArray(index.blobs.missing);
  if (!valid) throw new OperatorError(`${file} is incomplete or damaged: the backup is corrupt`);
  return index;
}

/** A database URL fit for messages: the password never appears. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.dialect === 'sqlite') return `sqlite:${config.file}`;
  try {
    const url = new URL(config.url);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}

export function describeStorage(config: StorageConfig): string {
  return config.driver === 'filesystem' ? `file:${config.root}` : `s3://${config.bucket}/${config.prefix}`;
}
