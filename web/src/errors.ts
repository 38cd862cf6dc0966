import { ApiError } from '../../src/api-client/index.js';

/** What a failed call says to a person: the API's own message, or why the API was unreachable. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof DOMException && error.name === 'AbortError') return 'The request was cancelled.';
  if (error instanceof TypeError) return `Could not reach the Berth API (${error.message}). Check your connection and try again.`;
  return error instanceof Error ? error.message : String(error);
}

/** The request id of a failed call, for a support question. */
export function requestIdOf(error: unknown): string | undefined {
  return error instanceof ApiError ? error.requestId : undefined;
}

/**
 * The form field an API error is about: DigitalOcean-style messages name it first
 * (`name: must be …`), a taken name is a 409 about `name`.
 */
export function fieldOf(error: unknown, fields: readonly string[]): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const named = /^([a-z_]+):/.exec(error.message)?.[1];
  if (named && fields.includes(named)) return named;
  return undefined;
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiError ? error.status : undefined;
}
