/**
 * SQLite files as snapshots: taking one from a live database with SQLite's online backup API,
 * opening one for reading, and checking one. A snapshot is a complete Berth database in a
 * single file (rollback journal, not WAL), the metadata half of every backup.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- snapshots may be at any schema version */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { OperatorError } from './errors.js';

/**
 * Copies a live SQLite database to `dest` with the online backup API, on a connection of its
 * own. The first step copies 100 pages; every later step takes all that remain, so the copy is
 * one read transaction: a consistent snapshot however many pushes commit meanwhile (in WAL
 * mode they are not blocked, and a write between steps at worst restarts the copy once).
 */
export async function snapshotSqlite(source: string, dest: string, onPages?: (total: number, remaining: number) => void): Promise<void> {
  let db: SqliteDatabase.Database;
  try {
    db = new SqliteDatabase(source, { fileMustExist: true });
  } catch (err) {
    throw new OperatorError(`cannot open the SQLite database ${source}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('busy_timeout = 10000');
    const isBerth = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'").get();
    if (!isBerth) throw new OperatorError(`${source} is not a Berth database (it has no schema)`);
    await db.backup(dest, {
      progress: ({ totalPages, remainingPages }) => {
        onPages?.(totalPages, remainingPages);
        return Math.max(totalPages, 100);
      },
    });
  } finally {
    db.close();
  }
}

/**
 * Makes a snapshot file self-contained and checks it: rollback journal instead of WAL (one
 * file), the integrity check passed, then fsynced. `prepare` edits it first (e.g. drops rows
 * that describe bytes the backup does not hold).
 */
export async function sealSnapshot(file: string, prepare?: (db: SqliteDatabase.Database) => void): Promise<void> {
  const db = new SqliteDatabase(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    prepare?.(db);
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new Error(`the snapshot failed SQLite's integrity check: ${String(result)}`);
  } finally {
    db.close();
  }
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Opens a snapshot for Kysely queries (read-only unless told otherwise). */
export function openSnapshot(file: string, options: { readonly?: boolean } = {}): { db: Kysely<any>; raw: SqliteDatabase.Database } {
  const raw = new SqliteDatabase(file, { fileMustExist: true, readonly: options.readonly ?? true });
  return { db: new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) }), raw };
}

/** SQLite's integrity check of a snapshot, without changing it. */
export function checkSnapshot(file: string): string {
  const db = new SqliteDatabase(file, { fileMustExist: true, readonly: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** sha256 and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
