import type { LogEvent } from 'kysely';
import type { Logger } from 'pino';
import type { ConnectOptions } from '../db/index.js';
import { AppError } from '../errors/index.js';
import type { Metrics } from '../metrics/index.js';
import type { StorageObserver } from '../storage/index.js';

const STATEMENTS: Record<string, string> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
};

/** Kysely's query log hook and the pool's idle errors, turned into metrics and warnings. */
export function databaseObserver(metrics: Metrics, logger: Logger): ConnectOptions {
  return {
    log: (event: LogEvent) => {
      metrics.databaseDuration.observe({ statement: STATEMENTS[event.query.query.kind] ?? 'other' }, event.queryDurationMillis / 1000);
      if (event.level === 'error') {
        const err = event.error;
        const reason = err instanceof AppError ? (err.code === 'STORAGE_FULL' ? 'full' : err.code === 'UNAVAILABLE' ? 'unavailable' : 'query') : 'query';
        metrics.databaseErrors.inc({ reason });
      }
    },
    availability: {
      onEvent: (event) => {
        if (event === 'retry') metrics.databaseRetries.inc();
      },
    },
    onIdleError: (err) => logger.warn({ err }, 'an idle database connection failed; it will be replaced'),
  };
}

const WRITES = /^(put|sessions\.(append|finish))$/;

/** Storage call timings and failures into metrics; `onWrite` learns whether writes find space. */
export function storageObserver(metrics: Metrics, onWrite: (full: boolean) => void): StorageObserver {
  return {
    observe(operation, seconds, failure) {
      metrics.storageDuration.observe({ operation }, seconds);
      if (failure) metrics.storageErrors.inc({ operation, reason: failure });
      // Only a write that succeeded or met a full store says anything about space.
      if (WRITES.test(operation) && (failure === undefined || failure === 'full')) onWrite(failure === 'full');
    },
  };
}
