import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type LogEvent, type MigrationProvider } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/index.js';
import { withAvailability, type AvailabilityOptions } from './availability.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';
import { cachingStatements } from './statement-cache.js';

export type Db = Kysely<Database>;

export interface ConnectOptions {
  /** Kysely's query log hook (metrics: latency and errors per statement). */
  log?: (event: LogEvent) => void;
  /** Retry and translation of connection failures (see availability.ts). */
  availability?: AvailabilityOptions;
  /** Told about connection errors of idle pooled clients (PostgreSQL restarts, network cuts). */
  onIdleError?: (err: Error) => void;
}

/**
 * pg clients emit 'error' when their connection dies while no query runs (a PostgreSQL
 * restart, a cut network). Unheard, that event would end the process; heard, the client is
 * simply dropped by the pool or fails its next query, which availability.ts turns into a 503.
 */
class ResilientClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

/** The one place that knows which SQL dialect is in use. */
export function connectDatabase(config: DatabaseConfig, options: ConnectOptions = {}): Db {
  if (config.dialect === 'sqlite') {
    if (config.file !== ':memory:') {
      // The database holds the token service's private key: owner only. SQLite creates its
      // -wal and -shm files with the database file's permissions.
      mkdirSync(path.dirname(config.file), { recursive: true, mode: 0o700 });
      closeSync(openSync(config.file, 'a', 0o600));
    }
    const sqlite = new SqliteDatabase(config.file);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives any process crash and the file never corrupts;
    // only a power loss can drop the last few commits, which leaves their fsynced blob bytes
    // unreferenced (garbage), never a row without bytes. FULL would fsync on every commit on
    // the event loop, capping small pushes at a few hundred commits per second.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 10000');
    return new Kysely<Database>({ dialect: withAvailability(new SqliteDialect({ database: cachingStatements(sqlite) }), options.availability), log: options.log });
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: 20,
    Client: ResilientClient,
    // Without a limit an unreachable host holds every request for the kernel's TCP timeout.
    connectionTimeoutMillis: 5_000,
    // bigint columns hold sizes and epoch-ms times, all well inside 2^53.
    types: {
      getTypeParser: (oid: number, format?: string) =>
        oid === 20 ? (v: string) => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format),
    } as pg.CustomTypesConfig,
  });
  pool.on('error', (err) => options.onIdleError?.(err));
  return new Kysely<Database>({ dialect: withAvailability(new PostgresDialect({ pool }), options.availability), log: options.log });
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Brings the schema up to date. Several processes may start at once: PostgreSQL serialises
 * them with Kysely's advisory lock; on SQLite the loser of the race fails on a table the
 * winner just created, so a failure is retried and forgiven once every migration is applied.
 */
export async function migrateToLatest(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider });
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) return;
    lastError = error ?? new Error(`migration ${failed!.migrationName} failed`);
    const pending = (await migrator.getMigrations().catch(() => undefined))?.filter((m) => m.executedAt === undefined);
    if (pending && pending.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
  }
  throw new Error(`database migration failed: ${String((lastError as Error)?.message ?? lastError)}`, { cause: lastError });
}

/** True when a write failed on a unique or primary key, in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
