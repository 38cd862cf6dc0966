/**
 * Property-based fuzzing of the API listener: every operation Berth publishes at
 * /openapi.json, called with generated path parameters, query values, bodies and content
 * types, the way DigitalOcean's clients and hostile ones send them. For every input: no 5xx,
 * errors as `{id, message, request_id}`, and a refused request changes nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage, startHarness, type Harness } from '../harness.js';
import * as A from './arbitraries.js';
import { expectDoError, expectNoServerError, expectUnchanged, fcOptions, fingerprint, runs, send } from './support.js';

interface Operation {
  method: string;
  path: string;
  operationId: string;
  pathParams: string[];
  query: { name: string; schema: Record<string, unknown> }[];
  body?: Record<string, unknown>;
}

const REGISTRY = 'fa';
const FOREIGN = 'fa-other';
let h: Harness;
let operations: Operation[];
let manifestDigest: string;
let gcId = '00000000-0000-4000-8000-000000000000';

/** The fixtures: pushed again only when a generated DELETE removed one of them. */
async function ensureFixtures(): Promise<void> {
  const exists = await h.api(`/v2/registries/${REGISTRY}`);
  if (exists.status === 200 && (await fixturesIntact())) return;
  if (exists.status === 404) await h.createRegistry(REGISTRY);
  const password = await h.dockerPassword(REGISTRY, { readWrite: true });
  const jwt = await h.jwt(password, `repository:${REGISTRY}/app:pull,push`, `repository:${REGISTRY}/shop/frontend:pull,push`);
  manifestDigest = (await pushImage(h, jwt, `${REGISTRY}/app`, 'v1')).manifest;
  await pushImage(h, jwt, `${REGISTRY}/shop/frontend`, 'latest');
}

async function fixturesIntact(): Promise<boolean> {
  for (const [repository, tag] of [['app', 'v1'], ['shop%2Ffrontend', 'latest']]) {
    const res = await h.api(`/v2/registries/${REGISTRY}/repositories/${repository}/tags?per_page=200`);
    if (res.status !== 200) return false;
    const { tags } = (await res.json()) as { tags?: { tag: string }[] };
    if (!tags?.some((t) => t.tag === tag)) return false;
  }
  return true;
}

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '1000000', rateLimitPerHour: '100000000' });
  await ensureFixtures();
  const other = await h.newTeam('fuzz-api-other');
  await h.createRegistry(FOREIGN, other);
  const started = await h.api(`/v2/registries/${REGISTRY}/garbage-collection`, { method: 'POST', body: '{}' });
  if (started.status === 201) gcId = ((await started.json()) as { garbage_collection: { uuid: string } }).garbage_collection.uuid;
  const spec = (await (await fetch(`${h.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { operationId?: string; parameters?: { in: string; name: string; schema: Record<string, unknown> }[]; requestBody?: { content?: Record<string, { schema: Record<string, unknown> }> } }>>;
  };
  operations = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.operationId) continue;
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  expect(operations.length).toBeGreaterThan(30);
}, 60_000);
afterAll(() => h?.close());

/** A path parameter: mostly the fixtures' real values, sometimes near-valid or hostile. */
function pathValue(name: string): fc.Arbitrary<string> {
  const known: Record<string, string[]> = {
    registry_name: [REGISTRY, REGISTRY, FOREIGN, 'nope'],
    repository_name: ['app', 'shop/frontend', 'missing'],
    repository_tag: ['v1', 'latest', 'nope'],
    manifest_digest: [manifestDigest, `sha256:${'0'.repeat(64)}`],
    garbage_collection_uuid: [gcId, '00000000-0000-4000-8000-000000000000'],
  };
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(known[name] ?? ['x'])) }, { weight: 1, arbitrary: A.nastyString });
}

/** How the path value goes on the wire: percent-encoded as dots and godo do, or not at all. */
const encoding = fc.constantFrom<(s: string) => string>(encodeURIComponent, encodeURIComponent, (s) => s, (s) => encodeURIComponent(encodeURIComponent(s)));

const request = () =>
  fc
    .constantFrom(...operations)
    .chain((op) =>
      fc.record({
        op: fc.constant(op),
        params: fc.tuple(...op.pathParams.map((p) => pathValue(p)), fc.constant('')),
        encode: encoding,
        query: fc.array(
          fc.oneof(
            ...(op.query.length ? [fc.constantFrom(...op.query).chain((q) => fc.tuple(fc.constant(q.name), fc.oneof(A.numericText, A.fromSchema(q.schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')))))] : []),
            fc.tuple(A.nastyString, A.nastyString),
          ),
          { maxLength: 3 },
        ),
        body: fc.oneof(
          { weight: 5, arbitrary: A.fromSchema(op.body).map((v) => JSON.stringify(v) ?? '') },
          { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', 'null', '"x"', '{"a":', '\uFEFF{}', '{"__proto__":{"admin":true}}', JSON.stringify({ name: 'x'.repeat(100_000) })) },
          { weight: 1, arbitrary: fc.constant(undefined) },
        ),
        contentType: fc.oneof(
          { weight: 5, arbitrary: fc.constant('application/json') },
          { weight: 1, arbitrary: fc.constantFrom(undefined, 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/xml', '') },
        ),
        auth: fc.oneof({ weight: 8, arbitrary: fc.constant('token') }, { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer nope', 'bearer  TOKEN', 'Basic eDp5', 'Bearer dop_v1_' + '0'.repeat(64)) }),
      }),
    );

describe('fuzzing the API listener', { timeout: 600_000 }, () => {
  it('every published operation with generated parameters, queries and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(request(), async (r) => {
        let path = r.op.path;
        r.op.pathParams.forEach((name, i) => (path = path.replace(`{${name}}`, r.encode(r.params[i] as string))));
        const query = new URLSearchParams(r.query as [string, string][]).toString();
        const headers: Record<string, string | undefined> = { 'content-type': r.body === undefined ? (r.contentType === 'application/json' ? 'application/json' : undefined) : r.contentType, accept: 'application/json' };
        if (r.auth === 'token') headers.authorization = `Bearer ${h.token}`;
        else if (r.auth) headers.authorization = r.auth.replace('TOKEN', h.token);
        const before = await fingerprint(h);
        const x = await send(h.apiUrl, r.op.method, `${path}${query ? `?${query}` : ''}`, headers, r.body === undefined ? undefined : Buffer.from(r.body));
        expectNoServerError(x);
        if (x.status >= 400) {
          expectDoError(x);
          expectUnchanged(before, await fingerprint(h), `a refused request changed what is stored:\n${x.request}\n→ ${x.status} ${x.body.slice(0, 300)}`);
        }
        // A successful delete may have removed a fixture; later inputs need them again.
        if (x.status < 300 && r.op.method === 'DELETE') await ensureFixtures();
      }),
      fcOptions(runs(900)),
    );
  });

  it('arbitrary methods and paths on the API listener', async () => {
    const segment = fc.oneof(fc.constantFrom('v2', 'registries', 'registry', REGISTRY, 'repositories', 'repositoriesV2', 'tags', 'digests', 'garbage-collection', 'options', 'subscription', 'v1', 'oauth', 'revoke', '..', '', '%2F', '%zz'), A.nastyString);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'), fc.array(segment, { minLength: 1, maxLength: 6 }), fc.option(A.nastyString), fc.boolean(), async (method, segments, query, authed) => {
        const x = await send(h.apiUrl, method, `/${segments.join('/')}${query !== null ? `?${query}` : ''}`, authed ? { authorization: `Bearer ${h.token}` } : {});
        expectNoServerError(x);
        if (x.status >= 400 && method !== 'HEAD') expectDoError(x);
      }),
      fcOptions(runs(300)),
    );
  });
});
