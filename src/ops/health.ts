import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import type { Metrics } from '../metrics/index.js';
import type { BlobDriver } from '../storage/index.js';

export type CheckStatus = 'ok' | 'down' | 'full';

export interface CheckResult {
  status: CheckStatus;
  /** What the dependency is (`sqlite`, `postgres`; `filesystem`, `s3`), without its address. */
  kind?: string;
  latency_ms: number;
  /** What failed, for operators (never credentials). */
  error?: string;
}

export interface HealthReport {
  /** `ok` when every dependency answered; `unavailable` names the ones that did not in `checks`. */
  status: 'ok' | 'unavailable';
  checks: { database: CheckResult; storage: CheckResult };
}

/** How long one dependency may take to answer a health check before it counts as down. */
const CHECK_TIMEOUT_MS = 2_000;
/** Load balancers probe often; one real check per this interval is enough. */
const CACHE_MS = 1_000;

/** A key no blob or upload ever uses: statting it exercises the store without touching data. */
const PROBE_KEY = 'health/probe';

/**
 * Health of the dependencies Berth cannot serve without: the metadata database (`select 1`)
 * and the blob store (a stat through the driver, so it works for any driver). A write that
 * failed for lack of space marks the store `full` until a later write succeeds.
 */
export class HealthChecker {
  private cached: { at: number; report: Promise<HealthReport> } | undefined;
  private fullSince: number | undefined;

  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
    private readonly metrics?: Metrics,
    private readonly kinds: { database?: string; storage?: string } = {},
  ) {}

  /** Called by the storage observer: a write ran out of space, or a write succeeded again. */
  noteStorageWrite(full: boolean): void {
    if (full === (this.fullSince !== undefined)) return;
    this.fullSince = full ? Date.now() : undefined;
    this.cached = undefined; // the next check reports the change at once
  }

  /** The current report, at most CACHE_MS old. */
  check(): Promise<HealthReport> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CACHE_MS) this.cached = { at: now, report: this.run() };
    return this.cached.report;
  }

  private async run(): Promise<HealthReport> {
    const [database, storage] = await Promise.all([
      timed(async () => {
        await sql`select 1`.execute(this.db);
      }),
      timed(async () => {
        await this.driver.stat(PROBE_KEY);
      }),
    ]);
    if (this.kinds.database) database.kind = this.kinds.database;
    if (this.kinds.storage) storage.kind = this.kinds.storage;
    if (storage.status === 'ok' && this.fullSince !== undefined) {
      storage.status = 'full';
      storage.error = `a write ran out of space ${Math.round((Date.now() - this.fullSince) / 1000)} s ago; free space (pushes fail with 507 until then)`;
    }
    this.metrics?.dependencyUp.set({ dependency: 'database' }, database.status === 'down' ? 0 : 1);
    this.metrics?.dependencyUp.set({ dependency: 'storage' }, storage.status === 'down' ? 0 : 1);
    const status = database.status === 'ok' && storage.status === 'ok' ? 'ok' : 'unavailable';
    return { status, checks: { database, storage } };
  }
}

async function timed(probe: () => Promise<void>): Promise<CheckResult> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { status: 'ok', latency_ms: Date.now() - started };
  } catch (err) {
    return { status: err instanceof AppError && err.code === 'STORAGE_FULL' ? 'full' : 'down', latency_ms: Date.now() - started, error: describe(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** The underlying reason (an AppError's cause says more than its client-facing message). */
function describe(err: unknown): string {
  const cause = err instanceof AppError && err.cause instanceof Error ? err.cause : err;
  const e = cause as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(cause);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
