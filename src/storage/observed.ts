import { AppError } from '../errors/index.js';
import { BlobNotFoundError, type BlobDriver } from './driver.js';

/** What went wrong with a storage call, for metrics: a full store, an unreachable one, or anything else. */
export type StorageFailure = 'full' | 'unavailable' | 'error';

/** Receives one event per driver call: its name (`read`, `sessions.append`, …), duration and failure. */
export interface StorageObserver {
  observe(operation: string, seconds: number, failure?: StorageFailure): void;
}

function failureOf(err: unknown): StorageFailure | undefined {
  if (err instanceof BlobNotFoundError) return undefined; // an answer, not a failure
  if (err instanceof AppError && err.code === 'STORAGE_FULL') return 'full';
  if (err instanceof AppError && err.code === 'UNAVAILABLE') return 'unavailable';
  return 'error';
}

/**
 * A decorator that times every call of a driver (and of its nested objects, such as upload
 * sessions) and reports failures, whatever the driver. Calls returning promises are timed to
 * settlement, listings to their end; synchronous calls pass through untimed.
 */
export function observeDriver(driver: BlobDriver, observer: StorageObserver): BlobDriver {
  return observed(driver, observer, '');
}

function observed<T extends object>(target: T, observer: StorageObserver, prefix: string): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) {
    const operation = `${prefix}${key}`;
    if (typeof value === 'function') {
      out[key] = (...args: unknown[]) => {
        const started = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        let result: unknown;
        try {
          result = value.apply(target, args);
        } catch (err) {
          observer.observe(operation, seconds(), failureOf(err));
          throw err;
        }
        if (result instanceof Promise) {
          return result.then(
            (v: unknown) => {
              observer.observe(operation, seconds());
              return v;
            },
            (err: unknown) => {
              observer.observe(operation, seconds(), failureOf(err));
              throw err;
            },
          );
        }
        if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
          return timedIteration(result as AsyncIterable<unknown>, operation, observer, started);
        }
        return result;
      };
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = observed(value as object, observer, `${operation}.`);
    } else {
      out[key] = value;
    }
  }
  return out as T;
}

async function* timedIteration<V>(source: AsyncIterable<V>, operation: string, observer: StorageObserver, started: bigint): AsyncIterable<V> {
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    yield* source;
  } catch (err) {
    observer.observe(operation, seconds(), failureOf(err));
    throw err;
  }
  observer.observe(operation, seconds());
}
