/** Raw HTTP against the registry listener: the Docker token protocol and OCI requests. */
import type { Credentials, TestServer } from './server.js';

export function basicAuth({ username, password }: Credentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** GET /auth/token?service=<registryHost>&scope=<scope> with Basic auth; returns the JWT. */
export async function registryToken(server: TestServer, credentials: Credentials, scope: string): Promise<string> {
  const query = new URLSearchParams({ service: server.registryHost, scope });
  const path = `/auth/token?${query}`;
  const response = await fetch(`${server.registryUrl}${path}`, { headers: { authorization: basicAuth(credentials) } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${path} → ${response.status} (expected 200)\n${text}`);
  const body = JSON.parse(text) as { token?: string };
  if (typeof body.token !== 'string' || body.token === '') throw new Error(`GET ${path}: no token in ${text}`);
  return body.token;
}

/** fetch() against the registry listener with a Bearer token; `path` may be absolute. */
export function registryFetch(server: TestServer, token: string | undefined, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== undefined && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  return fetch(new URL(path, server.registryUrl), { ...init, headers });
}

/** A one-line description of a response for assertion messages. */
export async function describeResponse(method: string, path: string, response: Response): Promise<string> {
  const headers = [...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n  ');
  const body = method === 'HEAD' ? '' : await response.clone().text().catch(() => '');
  return `${method} ${path} → ${response.status}\n  ${headers}\n${body.slice(0, 2000)}`;
}
