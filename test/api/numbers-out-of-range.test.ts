/**
 * Numbers a client can send that no database offset or JavaScript integer can hold (`1e20`,
 * twenty nines, `1e400`): a 400 naming the parameter in DigitalOcean's shape on every paginated
 * list and numeric parameter of the API, and an OCI error (never a 500) on the registry side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage, startHarness, type Harness } from '../harness.js';
import { prepare } from './operation-fixtures.js';
import { expectError, fillPath, PAGINATED_OPERATIONS, publishedOperations, type Operation } from './support.js';

let h: Harness;
let ops: Operation[];
let numericQuery: Map<string, string[]>;

beforeAll(async () => {
  h = await startHarness({ tiers: '{"professional":{"max_registries":1000}}' });
  ops = await publishedOperations(h);
  const spec = (await (await fetch(`${h.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { operationId?: string; parameters?: { in: string; name: string; schema?: { type?: string } }[] }>>;
  };
  numericQuery = new Map();
  for (const path of Object.values(spec.paths)) {
    for (const op of Object.values(path)) {
      const names = (op.parameters ?? []).filter((p) => p.in === 'query' && p.schema?.type === 'integer').map((p) => p.name);
      if (op.operationId && names.length > 0) numericQuery.set(op.operationId, names);
    }
  }
});
afterAll(() => h?.close());

const HUGE = ['1e20', '99999999999999999999', '1e400', '9007199254740993', '-1e20'];

describe('numbers out of range on the API', () => {
  it('are found: every list takes page and per_page, docker-credentials takes expiry_seconds', () => {
    const paginated = [...numericQuery].filter(([, names]) => names.includes('page')).map(([id]) => id);
    expect(paginated.sort()).toEqual(PAGINATED_OPERATIONS);
    expect(numericQuery.get('registries_get_dockerCredentials')).toEqual(['expiry_seconds']);
    expect(numericQuery.get('registry_get_dockerCredentials')).toEqual(['expiry_seconds']);
  });

  it('are 400 bad_request naming the parameter on every operation with a numeric query parameter', async () => {
    for (const [operationId, names] of numericQuery) {
      const op = ops.find((o) => o.operationId === operationId)!;
      const fixture = await prepare(h, op);
      const path = fillPath(op.path, fixture.params);
      // The same operation answers normally with sane numbers.
      expect((await h.api(path, { token: fixture.token })).status, operationId).toBe(200);
      for (const name of names) {
        for (const value of HUGE) {
          const res = await h.api(`${path}?${name}=${value}`, { token: fixture.token });
          const error = await expectError(res, 400, 'bad_request', operationId);
          expect(error.message, `${operationId} ${name}=${value}`).toMatch(new RegExp(`^${name}: `));
        }
      }
    }
  });

  it('the largest page accepted answers an empty page with links, not an error', async () => {
    const op = ops.find((o) => o.operationId === 'registries_list_repositoryTags')!;
    const fixture = await prepare(h, op);
    const res = await h.api(`${fillPath(op.path, fixture.params)}?page=1000000000&per_page=200`, { token: fixture.token });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tags: unknown[]; meta: { total: number }; links: { pages?: { first?: string } } };
    expect(body.tags).toEqual([]);
    expect(body.meta.total).toBe(1);
    expect(body.links.pages?.first).toMatch(/\?page=1&per_page=200$/);
  });
});

describe('numbers out of range on the registry', () => {
  let jwt: string;
  let digest: string;
  beforeAll(async () => {
    await h.createRegistry('numbers');
    jwt = await h.jwt(h.token, 'repository:numbers/app:pull,push', 'registry:catalog:*');
    digest = (await pushImage(h, jwt, 'numbers/app', 'v1')).manifest;
  });

  const oci = async (res: Response, status: number, code: string) => {
    const text = await res.text();
    expect(res.status, text).toBe(status);
    expect((JSON.parse(text) as { errors: { code: string }[] }).errors[0]!.code, text).toBe(code);
  };

  it('n= on tags/list and the catalog is 400 PAGINATION_NUMBER_INVALID', async () => {
    for (const value of [...HUGE, '-1', '1.5', 'abc']) {
      await oci(await h.registry(`/v2/numbers/app/tags/list?n=${value}`, { auth: jwt }), 400, 'PAGINATION_NUMBER_INVALID');
      await oci(await h.registry(`/v2/_catalog?n=${value}`, { auth: jwt }), 400, 'PAGINATION_NUMBER_INVALID');
    }
  });

  it('huge offsets in Range, Content-Range and _state are 416, never 500', async () => {
    const blob = await pushImage(h, jwt, 'numbers/app', 'v2');
    for (const range of ['bytes=99999999999999999999-', 'bytes=0-99999999999999999999', 'bytes=-99999999999999999999', 'bytes=1e20-']) {
      const res = await h.registry(`/v2/numbers/app/blobs/${blob.layer}`, { auth: jwt, headers: { range } });
      expect([206, 416], `${range}: ${res.status}`).toContain(res.status);
      await res.arrayBuffer();
    }
    const started = await h.registry('/v2/numbers/app/blobs/uploads/', { method: 'POST', auth: jwt });
    const location = started.headers.get('location')!;
    for (const headers of [{ 'content-range': '99999999999999999999-99999999999999999999' }, { 'content-range': '0-99999999999999999999' }]) {
      await oci(await h.registry(location, { method: 'PATCH', auth: jwt, body: 'x', headers: { ...headers, 'content-type': 'application/octet-stream' } }), 416, 'BLOB_UPLOAD_INVALID');
    }
    const path = location.split('?')[0]!;
    await oci(await h.registry(`${path}?_state=99999999999999999999`, { method: 'PATCH', auth: jwt, body: 'x', headers: { 'content-type': 'application/octet-stream' } }), 416, 'BLOB_UPLOAD_INVALID');
    // The session is untouched by all of it.
    const status = await h.registry(location, { auth: jwt });
    expect([status.status, status.headers.get('range')]).toEqual([204, '0-0']);
  });

  it('referrers take no number; a digest-shaped number is DIGEST_INVALID', async () => {
    await oci(await h.registry('/v2/numbers/app/referrers/99999999999999999999', { auth: jwt }), 400, 'DIGEST_INVALID');
    const ok = await h.registry(`/v2/numbers/app/referrers/${digest}?n=1e20`, { auth: jwt });
    expect(ok.status).toBe(200);
  });
});
