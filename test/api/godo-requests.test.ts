/**
 * Every operation of both API trees as godo (the Go library doctl is built on) sends it. From
 * godo.go NewRequest and Go's net/http transport: `User-Agent: godo/<version>`, `Accept:
 * application/json`, `Accept-Encoding: gzip`, the bearer token, and on every method but
 * GET/HEAD/OPTIONS `Content-Type: application/json` with the body json.Encoder writes (compact
 * JSON and a newline), or no body at all for a nil one — then POST and PUT carry
 * `Content-Length: 0` and DELETE carries no length. The operation list is Berth's own
 * /openapi.json, so none is missed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { buildRequest, rawRequest } from '../support/raw-http.js';
import { freshName, prepare } from './operation-fixtures.js';
import { publishedOperations, type Operation } from './support.js';

const GODO_USER_AGENT = 'godo/1.201.0';

let h: Harness;
let ops: Operation[];
let withBody: Set<string>;
let port: number;

beforeAll(async () => {
  h = await startHarness({ tiers: '{"professional":{"max_registries":1000}}' });
  ops = await publishedOperations(h);
  const spec = (await (await fetch(`${h.apiUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string; requestBody?: unknown }>> };
  withBody = new Set(Object.values(spec.paths).flatMap((p) => Object.values(p).filter((o) => o.requestBody && o.operationId).map((o) => o.operationId!)));
  port = Number(new URL(h.apiUrl).port);
});
afterAll(() => h?.close());

/** The request struct godo's registry.go sends for each operation that has one, field order kept. */
function godoBody(operationId: string): Record<string, unknown> | undefined {
  if (operationId === 'registries_create') return { name: freshName('godo'), region: 'fra1' }; // RegistriesCreateRequest
  if (operationId === 'registry_create') return { name: freshName('godo'), subscription_tier_slug: 'basic', region: 'fra1' }; // RegistryCreateRequest
  if (operationId.endsWith('_validate_name')) return { name: freshName('godo') }; // RegistryValidateNameRequest
  if (operationId.endsWith('_update_subscription')) return { tier_slug: 'professional' }; // RegistrySubscriptionUpdateRequest
  if (operationId.endsWith('_run_garbageCollection')) return { type: 'unreferenced blobs only' }; // StartGarbageCollectionRequest (its default)
  if (operationId.endsWith('_update_garbageCollection')) return { cancel: true }; // UpdateGarbageCollectionRequest
  return undefined;
}

/** godo builds paths with url.PathEscape on repository names only; other segments go as they are. */
function godoPath(op: Operation, params: Record<string, string>): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => (name === 'repository_name' ? encodeURIComponent(params[name]!) : params[name]!));
  return op.operationId.endsWith('_get_dockerCredentials') ? `${path}?read_write=true` : path;
}

/** The bytes Go's transport writes for a godo request: its header order, its body framing. */
function godoRequest(method: string, path: string, token: string, body: Record<string, unknown> | undefined): Buffer {
  const bodyless = method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
  const encoded = body === undefined ? '' : `${JSON.stringify(body)}\n`;
  const headers: [string, string][] = [
    ['Host', `127.0.0.1:${port}`],
    ['User-Agent', GODO_USER_AGENT],
  ];
  // Go sends a length for a non-empty body, and for an empty one only on POST, PUT and PATCH.
  if (!bodyless && (encoded.length > 0 || ['POST', 'PUT', 'PATCH'].includes(method))) headers.push(['Content-Length', String(Buffer.byteLength(encoded))]);
  headers.push(['Accept', 'application/json'], ['Authorization', `Bearer ${token}`]);
  if (!bodyless) headers.push(['Content-Type', 'application/json']);
  headers.push(['Accept-Encoding', 'gzip']);
  return buildRequest(method, path, headers, encoded === '' ? undefined : encoded, 'none');
}

describe("godo's requests", () => {
  it('have a body for exactly the operations that take one', () => {
    expect(ops.length).toBe(37);
    expect(ops.filter((o) => godoBody(o.operationId) !== undefined).map((o) => o.operationId).sort()).toEqual([...withBody].sort());
  });

  it('succeed on every operation of both trees', async () => {
    const answered: string[] = [];
    for (const op of ops) {
      const fixture = await prepare(h, op);
      const path = godoPath(op, fixture.params);
      const res = await rawRequest({ port }, godoRequest(op.method, path, fixture.token, godoBody(op.operationId)));
      expect(res.status, `${op.operationId}: ${op.method} ${path}\n${res.text}`).toBe(fixture.status);
      // godo decodes every error (and reads rate limits) from these; successes carry them too.
      expect(res.headers['ratelimit-limit'], op.operationId).toMatch(/^\d+$/);
      if (res.status !== 204) expect(() => JSON.parse(res.text), op.operationId).not.toThrow();
      answered.push(op.operationId);
    }
    expect(answered).toHaveLength(ops.length);
  });

  it('with a nil body on the garbage collection start (no struct passed) start a run of the default type', async () => {
    for (const op of ops.filter((o) => o.operationId.endsWith('_run_garbageCollection'))) {
      const fixture = await prepare(h, op);
      const res = await rawRequest({ port }, godoRequest('POST', godoPath(op, fixture.params), fixture.token, undefined));
      expect(res.status, res.text).toBe(201);
      expect((JSON.parse(res.text) as { garbage_collection: { type: string } }).garbage_collection.type).toBe('unreferenced blobs only');
    }
  });
});
