import type {
  CompiledQuery,
  DatabaseConnection,
  Driver,
  Dialect as KyselyDialect,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { AppError } from '../errors/index.js';

/**
 * What the database layer tells an observer (metrics): a read retried after a connection
 * failure, or a query given up on as unavailable.
 */
export type AvailabilityEvent = 'retry' | 'unavailable' | 'full';

export interface AvailabilityOptions {
  /** How long a read may keep retrying a lost connection before it is answered 503 (default 3 s). */
  readRetryBudgetMs?: number;
  /** First retry delay; doubles per attempt, with jitter (default 100 ms). */
  retryBaseMs?: number;
  onEvent?: (event: AvailabilityEvent) => void;
}

/** Network and server states of PostgreSQL that mean "no database right now", not "bad query". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '53300', // too_many_connections
  // SQLite: locked beyond busy_timeout, or its file cannot be opened or read.
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
]);
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|Connection is closed|connection error/i;

/**
 * The one place that decides what a failed query means to a client: a database that cannot be
 * reached becomes `UNAVAILABLE` (503), a database on a full disk `STORAGE_FULL` (507). Anything
 * else (a constraint, a bug) passes through unchanged.
 */
export function translateDatabaseError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (code === 'SQLITE_FULL' || code === '53100' /* disk_full */) {
    return new AppError('STORAGE_FULL', 'the metadata database has run out of disk space; free space on its volume and try again', { cause: err });
  }
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('SQLITE_IOERR') || CONNECTION_MESSAGES.test(message)) {
    return new AppError('UNAVAILABLE', 'the metadata database is unavailable; try again shortly', { cause: err, headers: { 'Retry-After': '5' } });
  }
  return err;
}

function isUnavailable(err: unknown): boolean {
  return err instanceof AppError && err.code === 'UNAVAILABLE';
}

/**
 * Wraps a Kysely dialect so connection-level failures surface as `AppError`s and reads survive
 * a short outage. A connection is acquired lazily, at its first query, because only then is it
 * known whether retrying is safe: a SELECT outside a transaction is retried with backoff on a
 * fresh connection for up to `readRetryBudgetMs`; writes and transactions fail at once (the
 * client repeats the whole request, and a half-sent write is never replayed behind its back).
 */
export function withAvailability(dialect: KyselyDialect, options: AvailabilityOptions = {}): KyselyDialect {
  return {
    createDriver: () => new AvailabilityDriver(dialect.createDriver(), options),
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

class AvailabilityDriver implements Driver {
  private readonly budgetMs: number;
  private readonly baseMs: number;
  /**
   * Released lazy connections, handed out again: Kysely instruments each connection object
   * the first time it sees it, so reusing them keeps that work off every query.
   */
  private readonly idle: LazyConnection[] = [];

  constructor(
    private readonly inner: Driver,
    private readonly options: AvailabilityOptions,
  ) {
    this.budgetMs = options.readRetryBudgetMs ?? 3_000;
    this.baseMs = options.retryBaseMs ?? 100;
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.idle.pop() ?? new LazyConnection(this);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const lazy = connection as LazyConnection;
    await this.guard(async () => this.inner.beginTransaction(await lazy.ensure(), settings));
    lazy.inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const lazy = connection as LazyConnection;
    lazy.inTransaction = false;
    await this.guard(async () => this.inner.commitTransaction(await lazy.ensure()));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const lazy = connection as LazyConnection;
    lazy.inTransaction = false;
    await this.guard(async () => this.inner.rollbackTransaction(await lazy.ensure()));
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.guard(async () => this.inner.savepoint!(await (connection as LazyConnection).ensure(), name, compile));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.guard(async () => this.inner.rollbackToSavepoint!(await (connection as LazyConnection).ensure(), name, compile));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.guard(async () => this.inner.releaseSavepoint!(await (connection as LazyConnection).ensure(), name, compile));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const lazy = connection as LazyConnection;
    try {
      await lazy.release();
    } finally {
      lazy.inTransaction = false;
      if (this.idle.length < 64) this.idle.push(lazy);
    }
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }

  /** Runs `work`, translating what it throws. */
  async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw this.translate(err);
    }
  }

  translate(err: unknown): unknown {
    const translated = translateDatabaseError(err);
    if (translated instanceof AppError && translated !== err) this.options.onEvent?.(translated.code === 'STORAGE_FULL' ? 'full' : 'unavailable');
    return translated;
  }

  acquireInner(): Promise<DatabaseConnection> {
    return this.inner.acquireConnection();
  }

  /**
   * Runs `attempt` until it succeeds, fails with something other than unavailability, or the
   * read retry budget is spent; `onFailure` cleans up between attempts.
   */
  async retrying<T>(attempt: () => Promise<T>, onFailure: () => Promise<void>): Promise<T> {
    const started = Date.now();
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        await onFailure();
        const delay = Math.min(this.baseMs * 2 ** n, 1_000) * (0.5 + Math.random() / 2);
        if (!isUnavailable(translateDatabaseError(err)) || Date.now() - started + delay > this.budgetMs) throw this.translate(err);
        this.options.onEvent?.('retry');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  releaseInner(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection);
  }
}

/** A connection that is only taken from the pool when the first query shows what it is for. */
class LazyConnection implements DatabaseConnection {
  private inner: DatabaseConnection | undefined;
  inTransaction = false;

  constructor(private readonly driver: AvailabilityDriver) {}

  async ensure(): Promise<DatabaseConnection> {
    this.inner ??= await this.driver.acquireInner();
    return this.inner;
  }

  async release(): Promise<void> {
    const inner = this.inner;
    this.inner = undefined;
    if (inner) await this.driver.releaseInner(inner);
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction || query.query.kind !== 'SelectQueryNode') {
      return this.driver.guard(async () => (await this.ensure()).executeQuery<R>(query));
    }
    return this.driver.retrying(
      async () => (await this.ensure()).executeQuery<R>(query),
      // A connection that failed mid-query is broken: hand it back (the pool discards it) and take a new one.
      async () => this.release().catch(() => undefined),
    );
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* (await this.ensure()).streamQuery<R>(query, chunkSize);
    } catch (err) {
      throw this.driver.translate(err);
    }
  }
}
