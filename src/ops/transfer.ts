/**
 * The copy engine behind `berth migrate-data` and `berth restore`: metadata from one database
 * to another (either dialect) and, when the storage changes, every blob from one BlobDriver to
 * another (filesystem or S3 either way), verified on arrival. Blobs go first (bytes before
 * rows, as everywhere in Berth).
 *
 * Nothing is written before every check has passed. An interrupted run resumes: the target's
 * `berth_data_copy` table records each blob copy as it starts and finishes (with the key the
 * target stored it under) and the metadata cursor commits with each batch of rows, so nothing
 * is copied twice and a copy cut short is removed before the run goes on.
 *
 * When the storage changes, blob rows name the keys the target chose (`storage_key`) and the
 * database is tied to the target storage (`settings.storage_identity`), so Berth starts on the
 * target at once; without a storage change both are copied as they are.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- copies rows generically */
import { sql, type Kysely } from 'kysely';
import type { Db } from '../db/index.js';
import { migrateToLatest } from '../db/index.js';
import { digestOfKey } from '../gc/sweeps.js';
import type { BlobDriver } from '../storage/index.js';
import { copyBlob, CorruptBlobError, discardCopy, forEachConcurrently, listBlobs, storageKeyColumn } from './blobs.js';
import { OperatorError } from './errors.js';
import {
  appliedMigrations,
  COPIED_TABLES,
  copyMetadata,
  countRows,
  CopyProgress,
  knownMigrations,
  nonEmptyTables,
  STORAGE_IDENTITY,
  unknownTables,
  type TableCopied,
} from './metadata.js';
import { formatBytes, Progress, type RateLimit, type Say } from './progress.js';

export interface SourceEndpoint {
  /** For messages, without credentials. */
  label: string;
  db: Db;
  dialect: 'sqlite' | 'postgres';
  /** Where the blobs are, when they are copied too. */
  driver?: BlobDriver;
  storageLabel?: string;
}

export interface TargetEndpoint {
  label: string;
  /** The database, or how to create it when it does not exist yet (a new SQLite file). */
  db: Db | (() => Db);
  driver?: BlobDriver;
  storageLabel?: string;
}

export interface TransferOptions {
  say: Say;
  /** One line per blob as well as the periodic progress. */
  verbose?: boolean;
  limit?: RateLimit;
  /** Proceed when the source lacks some blobs' bytes (they are listed); otherwise stop before any metadata. */
  allowMissingBlobs?: boolean;
  /** Re-hash blobs the target already has (restore), instead of trusting their size. */
  verifyPresent?: boolean;
  concurrency?: number;
  /**
   * The storage the target database is tied to (`settings.storage_identity`). Default: the
   * target storage's when the blobs are copied, else the source's row as it is.
   */
  storageIdentity?: string;
}

export interface TransferReport {
  resumed: boolean;
  blobs?: { total: number; bytes: number; copied: number; copiedBytes: number; present: number; missing: string[] };
  tables: TableCopied[];
  /** The target database, open; the caller closes it. */
  target: Db;
}

/** Identity of the source instance: its oldest signing key, made at its first start. */
export async function fingerprint(db: Kysely<any>): Promise<string> {
  const key = await db.selectFrom('signing_keys').select('kid').orderBy('created_at').orderBy('kid').limit(1).executeTakeFirst();
  return key ? `instance:${key.kid as string}` : 'instance:none';
}

/** Checks a source database: reachable, a Berth schema this version knows exactly, no tables it would leave behind. */
export async function checkSource(db: Kysely<any>, label: string): Promise<void> {
  let applied: string[];
  try {
    applied = await appliedMigrations(db);
  } catch (err) {
    throw new OperatorError(`cannot read the source database ${label}: ${describe(err)}`, { cause: err });
  }
  const known = knownMigrations();
  if (applied.length === 0) throw new OperatorError(`the source database ${label} holds no Berth data (no schema)`);
  const unknown = applied.filter((m) => !known.includes(m));
  if (unknown.length > 0) throw new OperatorError(`the source database ${label} was written by a newer Berth (migrations ${unknown.join(', ')}); use that version`);
  if (applied.length < known.length) {
    throw new OperatorError(`the source database ${label} is at an older schema; bring it up to date first: berth migrate --database-url <source>`);
  }
  const extra = await unknownTables(db);
  if (extra.length > 0) throw new OperatorError(`the source database ${label} has tables this copy does not know (${extra.join(', ')}); refusing to leave them behind`);
}

/**
 * Checks that the target holds nothing but, possibly, an interrupted copy of this same source.
 * Returns whether this run resumes one.
 */
export async function checkTarget(target: TargetEndpoint, source: string, sourceDb: Kysely<any>): Promise<boolean> {
  let resumed = false;
  if (typeof target.db !== 'function') {
    const db = target.db;
    const progress = new CopyProgress(db);
    let exists: boolean;
    try {
      exists = await progress.exists();
    } catch (err) {
      throw new OperatorError(`cannot reach the target database ${target.label}: ${describe(err)}`, { cause: err });
    }
    if (exists) {
      const from = await progress.source();
      if (from !== source) throw new OperatorError(`the target database ${target.label} holds an unfinished copy from another source (${from}); use an empty database`);
      resumed = true;
    } else {
      const rows = await nonEmptyTables(db);
      if (Object.keys(rows).length > 0) {
        const what = Object.entries(rows).map(([t, n]) => `${n} ${t}`).join(', ');
        throw new OperatorError(`the target database ${target.label} already holds data (${what}); refusing to mix it with the source. Use an empty database.`);
      }
      const applied = await appliedMigrations(db);
      const newer = applied.filter((m) => !knownMigrations().includes(m));
      if (newer.length > 0) throw new OperatorError(`the target database ${target.label} has a schema from a newer Berth (${newer.join(', ')})`);
    }
  }
  // A resumed copy's objects are its own (the first run found the storage empty).
  if (target.driver && !resumed) {
    let foreign = 0;
    let example = '';
    for await (const object of target.driver.list('blobs')) {
      const digest = digestOfKey(object.key);
      const known = digest ? await sourceDb.selectFrom('blobs').select('digest').where('digest', '=', digest).executeTakeFirst() : undefined;
      if (!known) {
        foreign++;
        example ||= object.key;
      }
    }
    if (foreign > 0) {
      throw new OperatorError(`the target storage ${target.storageLabel ?? ''} already holds ${foreign} object(s) that are not in the source (e.g. ${example}); use empty storage`);
    }
  }
  return resumed;
}

/** Copies everything; see the module comment. */
export async function transfer(source: SourceEndpoint, target: TargetEndpoint, options: TransferOptions): Promise<TransferReport> {
  const say = options.say;
  await checkSource(source.db, source.label);
  const identity = await fingerprint(source.db);
  const resumed = await checkTarget(target, identity, source.db);

  // Every check passed: from here on the target is written.
  const db = typeof target.db === 'function' ? target.db() : target.db;
  await migrateToLatest(db);
  const progress = new CopyProgress(db);
  await progress.create(identity);
  if (resumed) say(`resuming the unfinished copy into ${target.label}`);

  // One snapshot of the source for blobs and rows alike, so every row copied has its bytes.
  let snapshot = source.db.transaction();
  if (source.dialect === 'postgres') snapshot = snapshot.setIsolationLevel('repeatable read').setAccessMode('read only');
  const storageChanges = source.driver !== undefined && target.driver !== undefined;
  if (storageChanges && resumed) {
    const unfinished = await progress.blobs.unfinished();
    if (unfinished.length > 0) say(`removing what ${unfinished.length} blob cop${unfinished.length === 1 ? 'y' : 'ies'} cut short by the interruption left in ${target.storageLabel ?? 'the target storage'}`);
    for (const copy of unfinished) await discardCopy(target.driver!, copy.sessionId);
  }
  const targetIdentity = options.storageIdentity ?? (storageChanges ? await target.driver!.identity() : undefined);
  return snapshot.execute(async (from) => {
    const report: TransferReport = { resumed, tables: [], target: db };
    if (storageChanges) report.blobs = await copyBlobs(from, source, target, progress, options);

    const rowTotals: Record<string, number> = {};
    for (const t of COPIED_TABLES) rowTotals[t.name] = await countRows(from, t.name);
    const total = Object.values(rowTotals).reduce((a, b) => a + b, 0);
    const rows = new Progress('metadata rows', { items: total, bytes: 0 }, say);
    for (const t of COPIED_TABLES) rows.add(Math.min((await progress.table(t.name)).rows, rowTotals[t.name]!), 0);
    report.tables = await copyMetadata(from, db, {
      progress,
      rowsFor: storageChanges || targetIdentity !== undefined ? (table, batch) => rowsForTarget(table, batch, storageChanges ? progress : undefined, targetIdentity) : undefined,
      onBatch: (_table, n) => rows.add(n, 0),
    });
    rows.finish();

    for (const t of COPIED_TABLES) {
      const have = await countRows(db, t.name);
      if (have !== rowTotals[t.name]) {
        throw new OperatorError(
          `the target has ${have} ${t.name} rows but the source ${rowTotals[t.name]}: the source changed during the copy. Stop every Berth using it and start again with an empty target.`,
        );
      }
    }
    await progress.drop();
    return report;
  });
}

/**
 * Rows as the target storage needs them: each blob names the key its copy was finished under
 * (none when its bytes were missing in the source) when the blobs were copied, and the
 * database belongs to the target storage.
 */
async function rowsForTarget(table: string, batch: Record<string, unknown>[], copied: CopyProgress | undefined, identity: string | undefined): Promise<Record<string, unknown>[]> {
  if (table === 'settings' && identity !== undefined) return batch.map((row) => (row.key === STORAGE_IDENTITY ? { ...row, value: identity } : row));
  if (table !== 'blobs' || !copied) return batch;
  const progress = copied;
  const keys = await progress.blobs.keysOf(batch.map((row) => row.digest as string));
  return batch.map((row) => {
    const key = keys.get(row.digest as string);
    return { ...row, storage_key: key === undefined ? null : storageKeyColumn(row.digest as string, key) };
  });
}

async function copyBlobs(from: Kysely<any>, source: SourceEndpoint, target: TargetEndpoint, progress: CopyProgress, options: TransferOptions): Promise<NonNullable<TransferReport['blobs']>> {
  const say = options.say;
  const totals = await from
    .selectFrom('blobs')
    .select([sql<number>`count(*)`.as('count'), sql<number>`coalesce(sum(size), 0)`.as('bytes')])
    .executeTakeFirstOrThrow();
  const result = { total: Number(totals.count), bytes: Number(totals.bytes), copied: 0, copiedBytes: 0, present: 0, missing: [] as string[] };
  const meter = new Progress('blobs', { items: result.total, bytes: result.bytes }, say);
  await forEachConcurrently(listBlobs(from), options.concurrency ?? 4, async (blob) => {
    let outcome;
    try {
      ({ outcome } = await copyBlob(source.driver!, target.driver!, blob, {
        sourceName: source.storageLabel ?? 'the source',
        verifyPresent: options.verifyPresent,
        limit: options.limit,
        journal: progress.blobs,
      }));
    } catch (err) {
      if (err instanceof CorruptBlobError) throw new OperatorError(`${err.message}; nothing of it was written to the target`, { cause: err });
      throw err;
    }
    if (outcome === 'copied') {
      result.copied++;
      result.copiedBytes += blob.size;
    } else if (outcome === 'present') result.present++;
    else result.missing.push(blob.digest);
    if (options.verbose) say(`${outcome} ${blob.digest} (${formatBytes(blob.size)})`);
    meter.add(1, blob.size);
  });
  meter.finish(`${result.copied} copied, ${result.present} already there${result.missing.length ? `, ${result.missing.length} missing in the source` : ''}`);
  if (result.missing.length > 0 && !options.allowMissingBlobs) {
    throw new OperatorError(
      `${result.missing.length} blob(s) recorded in the source have no bytes in ${source.storageLabel ?? 'its storage'} (${result.missing.slice(0, 5).join(', ')}${result.missing.length > 5 ? ', …' : ''}); ` +
        'no metadata was copied. Re-run with --allow-missing-blobs to copy the rest anyway.',
    );
  }
  return result;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  return (cause as Error)?.message ?? String(cause);
}
