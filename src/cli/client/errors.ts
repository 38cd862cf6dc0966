/**
 * The client's errors, printed as doctl prints them: `Error: <message>` on one line (or
 * `{"errors":[{"detail":…}]}` with `-o json`), exit status 1, never a stack trace.
 */
import { ApiError, type TraceEvent } from '../../api-client/index.js';

/** A message for the user; the command stops with exit status 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Stop with exit status 1 after the command already said why (doctl's ErrExitSilently). */
export class SilentExit extends Error {
  constructor() {
    super('');
    this.name = 'SilentExit';
  }
}

/** doctl's MissingArgsErr: `(registry.create) command is missing required arguments`. */
export function missingArgs(ns: string): CliError {
  return new CliError(`(${ns}) command is missing required arguments`);
}

/** doctl's TooManyArgsErr. */
export function tooManyArgs(ns: string): CliError {
  return new CliError(`(${ns}) command contains unsupported arguments`);
}

/**
 * godo's ErrorResponse text: `GET <url>: 404 (request "<id>") <message>`, with
 * `; giving up after N attempt(s)` when retries ran out. `last` is the exchange that failed.
 */
export function describeApiError(error: ApiError, last: TraceEvent | undefined): string {
  const where = last ? `${last.method} ${last.url}: ` : '';
  const request = error.requestId ? ` (request "${error.requestId}")` : '';
  const attempts = last && last.attempt > 0 ? `; giving up after ${last.attempt + 1} attempt(s)` : '';
  return `${where}${error.status}${request} ${error.message}${attempts}`;
}

/** A request that got no answer at all (refused, reset, DNS): `GET <url>: <cause>`. */
export function describeNetworkError(error: Error, last: TraceEvent | undefined): string {
  const cause = (error as Error & { cause?: unknown }).cause;
  const reason = cause instanceof Error ? cause.message : error.message;
  const attempts = last && last.attempt > 0 ? `; giving up after ${last.attempt + 1} attempt(s)` : '';
  return last ? `${last.method} ${last.url}: ${reason}${attempts}` : reason;
}

/** The one line the user sees for anything a command threw. */
export function errorMessage(error: unknown, last: TraceEvent | undefined): string {
  if (error instanceof ApiError) return describeApiError(error, last);
  if (error instanceof CliError) return error.message;
  if (error instanceof TypeError && error.message === 'fetch failed') return describeNetworkError(error, last);
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    // File-system errors name the path already ("EACCES: permission denied, open '…'").
    if (code && error.message.includes(code)) return error.message;
    return error.message || String(error);
  }
  return String(error);
}
