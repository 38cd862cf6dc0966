/**
 * Every error either listener can produce, including those raised before a route runs (bad
 * percent-encoding, over-long path segments, body parsers, unknown routes and methods) and
 * requests Node itself refuses to parse: each answer is in the listener's envelope (the API's
 * `{id, message, request_id}`, the registry's OCI `{errors:[{code, message, detail}]}`) and
 * echoes at most a few hundred characters of what the client sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { exchange, type RawResponse } from '../support/raw-http.js';

let h: Harness;
let api: { port: number };
let registry: { port: number };
let jwt: string;

beforeAll(async () => {
  h = await startHarness();
  api = { port: Number(new URL(h.apiUrl).port) };
  registry = { port: Number(new URL(h.registryUrl).port) };
  await h.createRegistry('shapes');
  jwt = await h.jwt(h.token, 'repository:shapes/app:pull,push');
});
afterAll(() => h?.close());

const LONG = 'a'.repeat(3000);

/** Sends a raw request and returns the answer (the connection may be closed after it). */
async function send(target: { port: number }, request: string): Promise<RawResponse> {
  const ex = await exchange(target, request);
  try {
    return await ex.response;
  } finally {
    ex.socket.destroy();
  }
}

function expectNoLongEcho(res: RawResponse, what: string): void {
  expect(res.text.length, `${what}: ${res.text.slice(0, 300)}`).toBeLessThan(1200);
  expect(res.text, what).not.toMatch(/a{300}/);
}

function expectDoShape(res: RawResponse, status: number, what: string): void {
  expect(res.status, `${what}: ${res.raw.slice(0, 500)}`).toBe(status);
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(Object.keys(body).sort(), `${what}: ${res.text}`).toEqual(['id', 'message', 'request_id']);
  expect(typeof body.id).toBe('string');
  expect((body.message as string).length, what).toBeGreaterThan(0);
  expect(body.request_id, what).toBe(res.headers['x-request-id']);
  expectNoLongEcho(res, what);
}

function expectOciShape(res: RawResponse, status: number, what: string): void {
  expect(res.status, `${what}: ${res.raw.slice(0, 500)}`).toBe(status);
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  expect(res.headers['docker-distribution-api-version'], what).toBe('registry/2.0');
  const body = JSON.parse(res.text) as { errors: { code: string; message: string; detail?: unknown }[] };
  expect(Object.keys(body), `${what}: ${res.text}`).toEqual(['errors']);
  expect(body.errors).toHaveLength(1);
  const [error] = body.errors;
  expect(Object.keys(error!).filter((k) => !['code', 'message', 'detail'].includes(k)), what).toEqual([]);
  expect(error!.code, what).toMatch(/^[A-Z_]+$/);
  expect(error!.message.length, what).toBeGreaterThan(0);
  expectNoLongEcho(res, what);
}

/** Cases both listeners share: [what, request, status]. */
const common = (path: string): [string, string, number][] => [
  ['malformed percent-encoding', `GET ${path}/%zz HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
  ['an unknown route, with a long path', `GET /nope/${LONG} HTTP/1.1\r\nHost: x\r\n\r\n`, 404],
  ['a method no route has', `PURGE /nope HTTP/1.1\r\nHost: x\r\n\r\n`, 404],
  ['CONNECT', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, 405],
  ['a method HTTP does not know', `FOO / HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
  ['a control character in a header', `GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n`, 400],
  ['Content-Length and Transfer-Encoding together', `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['a Content-Length too large to be a number', `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n`, 400],
  ['headers over 16 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431],
  ['a request line that is not HTTP', `hello\r\n\r\n`, 400],
  ['QUERY without a Content-Type', `QUERY ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
];

describe('API listener errors are all {id, message, request_id}', () => {
  const auth = () => `Authorization: Bearer ${h.token}\r\n`;
  const cases = (): [string, string, number][] => [
    ...common('/v2/registries'),
    ['an over-long path parameter', `GET /v2/registries/${LONG} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`, 414],
    ['a long name a handler echoes', `GET /v2/registries/${'a'.repeat(1500)} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`, 404],
    ['a long tag a handler echoes', `DELETE /v2/registries/shapes/repositories/app/tags/a:${'a'.repeat(1500)} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`, 404],
    ['malformed JSON', `POST /v2/registries HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{"name":x`, 400],
    ['JSON that is not an object', `POST /v2/registries HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: 6\r\n\r\n"text"`, 400],
    ['JSON with __proto__', `POST /v2/registries HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: 24\r\n\r\n{"__proto__":{"a":true}}`, 400],
    ['an invalid media type', `POST /v2/registries HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: ;;;\r\nContent-Length: 2\r\n\r\n{}`, 415],
    ['a body over the 1 MiB limit', `POST /v2/registries HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n{`, 413],
    ['a long unknown page token', `GET /v2/registries/shapes/repositoriesV2?page_token=${'a'.repeat(2000)} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`, 400],
  ];

  it('for every malformed or refused request', async () => {
    for (const [what, request, status] of cases()) {
      expectDoShape(await send(api, request), status, what);
    }
  });
});

describe('registry listener errors are all OCI {errors:[…]}', () => {
  const cases = (): [string, string, number][] => [
    ...common('/v2/shapes/app/tags/list'),
    ['malformed percent-encoding in the name', `GET /v2/shapes/%zz/tags/list HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['an over-long name', `GET /v2/shapes/${LONG}/tags/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\n\r\n`, 400],
    ['an over-long reference', `GET /v2/shapes/app/manifests/${LONG} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\n\r\n`, 404],
    ['an over-long digest', `GET /v2/shapes/app/blobs/sha256:${LONG} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\n\r\n`, 400],
    ['an invalid media type', `PUT /v2/shapes/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\nContent-Type: ;;\r\nContent-Length: 2\r\n\r\n{}`, 415],
    ['a method the endpoint does not take', `PATCH /v2/shapes/app/tags/list HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`, 405],
  ];

  it('for every malformed or refused request', async () => {
    for (const [what, request, status] of cases()) expectOciShape(await send(registry, request), status, what);
  });

  it('the token endpoint answers its own way, and unknown grant types echo little', async () => {
    const res = await send(registry, `POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${11 + 3000}\r\n\r\ngrant_type=${LONG}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'unsupported_grant_type' });
    expectNoLongEcho(res, 'unknown grant type');
  });
});

describe('NUL characters in URLs', () => {
  // PostgreSQL refuses a NUL in text; the fuzzer found lookups that passed one through (a 500).
  it('are refused with 400 before any lookup, on both listeners, in each envelope', async () => {
    for (const path of ['/v2/registries/%00', '/v2/registries/shapes/repositories/app/tags?page=1&x=%00', '/v2/registry/%00/garbage-collection']) {
      const res = await h.api(path);
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ id: 'bad_request', message: expect.stringMatching(/NUL/) });
    }
    for (const path of ['/v2/shapes/app/tags/list?n=10&last=%00', '/v2/shapes/app%00/manifests/latest', '/v2/shapes/app/manifests/%00']) {
      const res = await h.registry(path, { auth: jwt });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]).toMatchObject({ message: expect.stringMatching(/NUL/) });
    }
  });
});
