/**
 * The one typed client of Berth's management API, shared by the CLI (`berth registry …`) and
 * the web console. Types come from Berth's own OpenAPI document (`schema.ts`, generated), the
 * transport from openapi-fetch. It runs unchanged in Node and in a browser: no Node imports.
 *
 * @example
 *   const api = createApiClient({ baseUrl: 'http://127.0.0.1:8080', token });
 *   const { registries } = await unwrap(api.GET('/v2/registries'));
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type ApiClient = Client<paths>;

/** One HTTP exchange, reported after it ends (for `--trace` and debugging). */
export interface TraceEvent {
  method: string;
  url: string;
  /** Undefined when the request failed without an answer (connection refused, reset…). */
  status?: number;
  requestId?: string;
  ms: number;
  attempt: number;
  error?: string;
}

export interface ApiClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:8080` (a trailing slash is ignored). */
  baseUrl: string;
  /** The bearer token, or a function that returns the current one (the console's session). */
  token?: string | (() => string | undefined);
  /** How many times a 429, a 5xx or a network error is retried (doctl's --http-retry-max). Default 0. */
  retryMax?: number;
  /** Longest single wait between retries, in milliseconds. Default 30 s. */
  retryWaitMaxMs?: number;
  /** Called after every attempt. */
  onTrace?: (event: TraceEvent) => void;
  /** Extra headers on every request (a User-Agent, say, where the platform allows one). */
  headers?: Record<string, string>;
  fetch?: (input: Request) => Promise<Response>;
}

/** DigitalOcean's error body: `{id, message, request_id}`. */
export interface ApiErrorBody {
  id: string;
  message: string;
  request_id?: string;
}

/** A refused or failed API call, carrying DigitalOcean's error fields. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly requestId: string | undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** Builds the error from a response whose body may or may not be DigitalOcean's shape. */
  static from(response: Response, body: unknown): ApiError {
    const b = (body ?? {}) as Partial<ApiErrorBody>;
    const requestId = b.request_id ?? response.headers.get('x-request-id') ?? undefined;
    const message = typeof b.message === 'string' && b.message ? b.message : `${response.status} ${response.statusText || 'error'}`;
    return new ApiError(response.status, typeof b.id === 'string' ? b.id : 'unknown', message, requestId);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `retry-after` in seconds or as an HTTP date; else exponential backoff with jitter. */
function waitBefore(attempt: number, response: Response | undefined, maxMs: number): number {
  const header = response?.headers.get('retry-after');
  if (header) {
    const seconds = Number(header);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), maxMs);
  }
  const base = Math.min(500 * 2 ** attempt, maxMs);
  return base / 2 + Math.random() * (base / 2);
}

/** A fetch that adds the token, traces every attempt and retries what doctl would retry. */
function transport(options: ApiClientOptions): (input: Request) => Promise<Response> {
  const doFetch = options.fetch ?? ((input: Request) => globalThis.fetch(input));
  const retryMax = options.retryMax ?? 0;
  const retryWaitMaxMs = options.retryWaitMaxMs ?? 30_000;
  return async (request) => {
    const token = typeof options.token === 'function' ? options.token() : options.token;
    if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) if (!request.headers.has(name)) request.headers.set(name, value);
    // Bodies are small JSON: read once, so every attempt can send them again.
    const body = request.body ? await request.arrayBuffer() : undefined;
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      let response: Response | undefined;
      try {
        response = await doFetch(new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal }));
      } catch (err) {
        options.onTrace?.({ method: request.method, url: request.url, ms: Date.now() - started, attempt, error: (err as Error).message });
        if (attempt >= retryMax || request.signal?.aborted) throw err;
        await sleep(waitBefore(attempt, undefined, retryWaitMaxMs));
        continue;
      }
      options.onTrace?.({
        method: request.method,
        url: request.url,
        status: response.status,
        requestId: response.headers.get('x-request-id') ?? undefined,
        ms: Date.now() - started,
        attempt,
      });
      if (!retryable(response.status) || attempt >= retryMax) return response;
      await response.body?.cancel();
      await sleep(waitBefore(attempt, response, retryWaitMaxMs));
    }
  };
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  return createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), fetch: transport(options) });
}

/**
 * Awaits an openapi-fetch call and returns its data, or throws `ApiError` with DigitalOcean's
 * message and request id. A 204 resolves to undefined.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw ApiError.from(response, error);
  return data as T;
}

/**
 * Revokes a token at an OAuth 2.0 revocation endpoint (RFC 7009), as `doctl registry logout`
 * does: the form field `token`, authenticated by that same token; anything but 200 is an
 * error. Berth serves the endpoint at `{api url}/v1/oauth/revoke`; it is a full URL because
 * doctl lets the user point it elsewhere (`--authorization-server-endpoint`).
 */
export async function revokeToken(options: Omit<ApiClientOptions, 'baseUrl' | 'token'>, endpoint: string, token: string): Promise<void> {
  const send = transport({ ...options, baseUrl: endpoint, token });
  const response = await send(
    new Request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    }),
  );
  const text = await response.text();
  if (response.status === 200) return;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  throw ApiError.from(response, body);
}
