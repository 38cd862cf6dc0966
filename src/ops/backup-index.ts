import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OperatorError } from './errors.js';

/** backup.json: what a backup holds. Written last, so a backup without it is incomplete. */
export interface BackupIndex {
  format: 'berth-backup';
  version: 1;
  /** The instant of the metadata snapshot. */
  created_at: string;
  berth_version: string;
  /** `storage_url`: where the blobs of a metadata-only backup are (they are not in it). */
  source: { database: 'sqlite' | 'postgres'; storage: string; storage_url?: string };
  /** Migrations applied in the snapshot. */
  schema: string[];
  metadata: { file: string; bytes: number; sha256: string };
  /**
   * `included: false` for --metadata-only, whose `list` file names every blob's digest, size and
   * key in the storage; `missing` lists blobs the source had no bytes for.
   */
  blobs: { included: boolean; count: number; bytes: number; missing: string[]; list?: string };
  /** Rows per table, for people reading the index. */
  counts: Record<string, number>;
}

export const BACKUP_INDEX = 'backup.json';
export const BACKUP_METADATA = 'berth.db';
export const BACKUP_BLOB_LIST = 'blobs.tsv';

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

export { describeDatabase, describeStorage } from '../config/index.js';
