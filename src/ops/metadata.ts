/**
 * Copying metadata between databases of either dialect, table by table in foreign-key order,
 * in keyset-paged batches. With a progress table in the target, each batch commits together
 * with its cursor, so an interrupted copy resumes after the last committed batch and never
 * inserts a row twice.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- rows are copied generically, table by table */
import { sql, type Kysely } from 'kysely';
import { migrations } from '../db/migrations/index.js';
import type { Database } from '../db/index.js';
import type { CopyJournal } from './blobs.js';

export interface TableSpec {
  name: keyof Database;
  /** The primary key, the keyset order of the copy. */
  key: readonly string[];
}

/** Every table that is copied, parents before children. */
export const COPIED_TABLES: readonly TableSpec[] = [
  { name: 'teams', key: ['id'] },
  { name: 'tokens', key: ['id'] },
  { name: 'registries', key: ['id'] },
  { name: 'repositories', key: ['id'] },
  { name: 'blobs', key: ['digest'] },
  { name: 'repository_blobs', key: ['repository_id', 'digest'] },
  { name: 'manifests', key: ['id'] },
  { name: 'manifest_refs', key: ['manifest_id', 'position'] },
  { name: 'tags', key: ['repository_id', 'name'] },
  { name: 'signing_keys', key: ['kid'] },
  { name: 'gc_runs', key: ['id'] },
  { name: 'settings', key: ['key'] },
];

/**
 * Tables deliberately left behind: upload sessions (their bytes are not copied; clients start
 * those uploads again) and the rate-limit log (the moment's, not history).
 */
export const SKIPPED_TABLES: readonly string[] = ['uploads', 'rate_limit_keys', 'rate_limit_hits'];

/** The `settings` row naming the blob storage a database belongs to (registry/storage-identity.ts). */
export const STORAGE_IDENTITY = 'storage_identity';

/** The resume bookkeeping of migrate-data and restore, in the target database; dropped when done. */
export const PROGRESS_TABLE = 'berth_data_copy';

const BATCH = 500;

/** Names of the migrations this Berth knows, in order. */
export function knownMigrations(): string[] {
  return Object.keys(migrations).sort();
}

/** The migrations recorded in a database, or [] when it has no schema. */
export async function appliedMigrations(db: Kysely<any>): Promise<string[]> {
  const tables = await userTables(db);
  if (!tables.includes('kysely_migration')) return [];
  const rows = await db.selectFrom('kysely_migration').select('name').orderBy('name').execute();
  return rows.map((r: { name: string }) => r.name);
}

/** Table names of the database, without Kysely's own. */
export async function userTables(db: Kysely<any>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  return tables.filter((t) => !t.isView).map((t) => t.name);
}

/** Rows per Berth table that holds any, e.g. `{ teams: 1, tokens: 2 }`. */
export async function nonEmptyTables(db: Kysely<any>): Promise<Record<string, number>> {
  const present = new Set(await userTables(db));
  const counts: Record<string, number> = {};
  for (const name of [...COPIED_TABLES.map((t) => t.name as string), ...SKIPPED_TABLES]) {
    if (!present.has(name)) continue;
    const n = await countRows(db, name);
    if (n > 0) counts[name] = n;
  }
  return counts;
}

export async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const row = await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Tables of the source that this copy would not know what to do with (added by a later
 * change): refusing them beats silently leaving data behind.
 */
export async function unknownTables(db: Kysely<any>): Promise<string[]> {
  const known = new Set<string>([...COPIED_TABLES.map((t) => t.name), ...SKIPPED_TABLES, 'kysely_migration', 'kysely_migration_lock', PROGRESS_TABLE]);
  return (await userTables(db)).filter((t) => !known.has(t));
}

interface TableProgress {
  after: unknown[] | null;
  rows: number;
  done: boolean;
}

/** The progress table of a copy into `db`: one row per table, plus the source's identity. */
export class CopyProgress {
  constructor(private readonly db: Kysely<any>) {}

  async exists(): Promise<boolean> {
    return (await userTables(this.db)).includes(PROGRESS_TABLE);
  }

  async create(source: string): Promise<void> {
    await this.db.schema
      .createTable(PROGRESS_TABLE)
      .ifNotExists()
      .addColumn('item', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    await this.db.insertInto(PROGRESS_TABLE).values({ item: 'source', value: source }).onConflict((oc: any) => oc.doNothing()).execute();
  }

  async source(): Promise<string | undefined> {
    const row = await this.db.selectFrom(PROGRESS_TABLE).select('value').where('item', '=', 'source').executeTakeFirst();
    return row?.value as string | undefined;
  }

  async table(name: string): Promise<TableProgress> {
    const row = await this.db.selectFrom(PROGRESS_TABLE).select('value').where('item', '=', `table:${name}`).executeTakeFirst();
    return row ? (JSON.parse(row.value as string) as TableProgress) : { after: null, rows: 0, done: false };
  }

  async record(tx: Kysely<any>, name: string, progress: TableProgress): Promise<void> {
    const value = JSON.stringify(progress);
    await tx
      .insertInto(PROGRESS_TABLE)
      .values({ item: `table:${name}`, value })
      .onConflict((oc: any) => oc.column('item').doUpdateSet({ value }))
      .execute();
  }

  async drop(): Promise<void> {
    await this.db.schema.dropTable(PROGRESS_TABLE).ifExists().execute();
  }

  /** The blob journal of a copy (see blobs.ts `CopyJournal`): one row per blob, committed as it happens. */
  readonly blobs: CopyJournal & {
    /** Copies that started and never finished: their session ids, to clean up before resuming. */
    unfinished(): Promise<{ digest: string; sessionId: string }[]>;
    /** The finished keys of `digests`, for their rows. */
    keysOf(digests: string[]): Promise<Map<string, string>>;
  } = {
    finished: async (digest) => {
      const row = await this.db.selectFrom(PROGRESS_TABLE).select('value').where('item', '=', `blob:${digest}`).executeTakeFirst();
      return row ? (JSON.parse(row.value as string) as BlobEntry).key : undefined;
    },
    started: (digest, sessionId) => this.putBlob(digest, { session: sessionId }),
    finish: (digest, key) => this.putBlob(digest, { key }),
    unfinished: async () => {
      const rows = await this.db.selectFrom(PROGRESS_TABLE).select(['item', 'value']).where('item', 'like', 'blob:%').execute();
      return rows
        .map((r) => ({ digest: (r.item as string).slice('blob:'.length), entry: JSON.parse(r.value as string) as BlobEntry }))
        .filter((r) => r.entry.key === undefined && r.entry.session !== undefined)
        .map((r) => ({ digest: r.digest, sessionId: r.entry.session! }));
    },
    keysOf: async (digests) => {
      const keys = new Map<string, string>();
      if (digests.length === 0) return keys;
      const rows = await this.db.selectFrom(PROGRESS_TABLE).select(['item', 'value']).where('item', 'in', digests.map((d) => `blob:${d}`)).execute();
      for (const r of rows) {
        const key = (JSON.parse(r.value as string) as BlobEntry).key;
        if (key !== undefined) keys.set((r.item as string).slice('blob:'.length), key);
      }
      return keys;
    },
  };

  private async putBlob(digest: string, entry: BlobEntry): Promise<void> {
    const value = JSON.stringify(entry);
    await this.db
      .insertInto(PROGRESS_TABLE)
      .values({ item: `blob:${digest}`, value })
      .onConflict((oc: any) => oc.column('item').doUpdateSet({ value }))
      .execute();
  }
}

/** A blob's line in the journal: the session copying it, then the key it was finished under. */
interface BlobEntry {
  session?: string;
  key?: string;
}

export interface TableCopied {
  table: string;
  /** Rows inserted by this run. */
  inserted: number;
  /** Rows a previous, interrupted run had already committed. */
  before: number;
  /** Rows this run found already in the target (always 0 when resuming works). */
  duplicates: number;
}

export interface MetadataCopyOptions {
  /** Resume bookkeeping in the target; without it the target must be empty and is filled in one go. */
  progress?: CopyProgress;
  /** Adjusts a batch of rows on its way (e.g. blobs' storage keys when the storage changes). */
  rowsFor?: (table: string, rows: Record<string, unknown>[]) => Promise<Record<string, unknown>[]>;
  /** Told after each committed batch. */
  onBatch?: (table: string, rows: number) => void;
}

/** Copies every table of COPIED_TABLES from `from` to `to`; returns what each table took. */
export async function copyMetadata(from: Kysely<any>, to: Kysely<any>, options: MetadataCopyOptions = {}): Promise<TableCopied[]> {
  const results: TableCopied[] = [];
  for (const spec of COPIED_TABLES) results.push(await copyTable(from, to, spec, options));
  return results;
}

async function copyTable(from: Kysely<any>, to: Kysely<any>, spec: TableSpec, options: MetadataCopyOptions): Promise<TableCopied> {
  const state = options.progress ? await options.progress.table(spec.name) : { after: null, rows: 0, done: false };
  const result: TableCopied = { table: spec.name, inserted: 0, before: state.rows, duplicates: 0 };
  if (state.done) return result;
  let after = state.after;
  let rows = state.rows;
  for (;;) {
    let query = from.selectFrom(spec.name).selectAll();
    if (after !== null) query = query.where(afterKey(spec.key, after));
    for (const column of spec.key) query = query.orderBy(column);
    const batch = (await query.limit(BATCH).execute()) as Record<string, unknown>[];
    const last = batch.at(-1);
    const nextAfter = last ? spec.key.map((k) => last[k]) : after;
    const done = batch.length < BATCH;
    // Outside the transaction: rowsFor may read the target (one SQLite connection).
    const values = options.rowsFor && batch.length > 0 ? await options.rowsFor(spec.name, batch) : batch;
    await to.transaction().execute(async (tx) => {
      if (batch.length > 0) {
        const inserted = await tx
          .insertInto(spec.name)
          .values(values)
          .onConflict((oc: any) => oc.doNothing())
          .executeTakeFirst();
        const count = Number(inserted.numInsertedOrUpdatedRows ?? 0);
        result.inserted += count;
        result.duplicates += batch.length - count;
        rows += batch.length;
      }
      await options.progress?.record(tx, spec.name, { after: nextAfter, rows, done });
    });
    options.onBatch?.(spec.name, batch.length);
    after = nextAfter;
    if (done) return result;
  }
}

/** `(k1, k2, …) > (v1, v2, …)`: the keyset condition, as a row-value comparison for composite keys. */
function afterKey(key: readonly string[], values: unknown[]) {
  return (eb: any) => (key.length === 1 ? eb(key[0], '>', values[0]) : eb(eb.refTuple(...key), '>', eb.tuple(...values)));
}
