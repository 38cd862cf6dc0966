import { codes, type ErrorCode } from './codes.js';

/**
 * The only error type domain code throws on purpose. Each HTTP surface turns it into its own
 * envelope in exactly one place; anything else that escapes becomes a logged 500.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** Extra response headers the error must carry (e.g. `Range` on a 416). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, opts: { detail?: unknown; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message ?? codes[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = opts.detail;
    this.headers = opts.headers ?? {};
  }

  get status(): number {
    return codes[this.code].status;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** OCI Distribution error envelope. */
export function toOciBody(err: AppError): { errors: { code: string; message: string; detail?: unknown }[] } {
  const entry: { code: string; message: string; detail?: unknown } = { code: codes[err.code].oci, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  return { errors: [entry] };
}

/** DigitalOcean API error envelope. */
export function toDoBody(err: AppError, requestId: string): { id: string; message: string; request_id: string } {
  return { id: codes[err.code].doId, message: err.message, request_id: requestId };
}
