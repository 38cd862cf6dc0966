/**
 * The signed-in session: an API token kept in this tab's sessionStorage (gone when the tab
 * closes or on sign-out), never in a URL, a cookie or a log line. One typed API client — the
 * same one the CLI uses — reads it on every request.
 */
import { ApiError, createApiClient, type ApiClient } from '../../src/api-client/index.js';

const KEY = 'berth.console.token';

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: nothing was kept.
  }
}

type Listener = () => void;
const expiredListeners = new Set<Listener>();

/** Called when the API stops accepting the stored token (expired or revoked mid-session). */
export function onSessionExpired(listener: Listener): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** A client for `token` (or the stored one): same origin, bearer token, no retries. */
export function clientFor(token?: string): ApiClient {
  return createApiClient({
    baseUrl: location.origin,
    token: token ?? storedToken,
    fetch: async (request) => {
      const response = await fetch(request);
      if (response.status === 401 && token === undefined && storedToken() !== undefined) {
        for (const listener of expiredListeners) listener();
      }
      return response;
    },
  });
}

/** The session's client. */
export const api = clientFor();

export { ApiError };
