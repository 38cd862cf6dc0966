/**
 * Property-based fuzzing of the registry listener: generated manifests, indexes, names,
 * references, digests, ranges and query values, sent by a real HTTP client to a real server.
 * For every input: no 5xx, errors in the OCI shape, and a refused request changes nothing.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, pushBlob, pushImage, startHarness, type Harness } from '../harness.js';
import * as A from './arbitraries.js';
import { expectNoServerError, expectOciError, expectUnchanged, fcOptions, fingerprint, runs, send, type Exchange } from './support.js';

const REGISTRY = 'fz';
const FOREIGN = 'fz-other';
const APP = `${REGISTRY}/app`;
const NESTED = `${REGISTRY}/shop/frontend`;

let h: Harness;
let basic: string;
let jwt: string;
const blobs: { digest: string; size: number }[] = [];
const manifests: { digest: string; size: number; mediaType: string }[] = [];
const tags = ['v1', 'latest', 'multi'];

/** Pushes the fixtures again; everything is content-addressed, so this is idempotent. */
async function ensureFixtures(): Promise<void> {
  for (const name of [APP, NESTED]) {
    const image = await pushImage(h, jwt, name, 'v1');
    await pushImage(h, jwt, name, 'latest');
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: A.OCI_INDEX, manifests: [{ mediaType: A.OCI_MANIFEST, digest: image.manifest, size: image.bytes.length, platform: { architecture: 'amd64', os: 'linux' } }] }),
    );
    const res = await h.registry(`/v2/${name}/manifests/multi`, { method: 'PUT', auth: jwt, body: index, headers: { 'content-type': A.OCI_INDEX } });
    expect(res.status).toBe(201);
    if (blobs.length < 6) {
      blobs.push({ digest: image.config, size: 0 }, { digest: image.layer, size: 1024 });
      manifests.push({ digest: image.manifest, size: image.bytes.length, mediaType: A.OCI_MANIFEST }, { digest: digestOf(index), size: index.length, mediaType: A.OCI_INDEX });
    }
  }
}

beforeAll(async () => {
  h = await startHarness({ rateLimitPerMinute: '1000000', rateLimitPerHour: '100000000' });
  await h.createRegistry(REGISTRY);
  const other = await h.newTeam('fuzz-other');
  await h.createRegistry(FOREIGN, other);
  basic = `Basic ${Buffer.from(`fuzz:${h.token}`).toString('base64')}`;
  jwt = await h.jwt(h.token, `repository:${APP}:pull,push,delete`, `repository:${NESTED}:pull,push,delete`);
  const otherJwt = await h.jwt(other, `repository:${FOREIGN}/app:pull,push`);
  await pushImage(h, otherJwt, `${FOREIGN}/app`, 'v1');
  await ensureFixtures();
  // Config blob sizes: read them back rather than assume.
  for (const b of blobs) {
    const res = await h.registry(`/v2/${APP}/blobs/${b.digest}`, { method: 'HEAD', auth: jwt });
    b.size = Number(res.headers.get('content-length'));
  }
  blobs.push({ digest: await pushBlob(h, jwt, APP, randomBytes(4096)), size: 4096 });
}, 60_000);
afterAll(() => h?.close());

const names = () => A.repositoryName(REGISTRY, [APP, NESTED, APP, NESTED], FOREIGN);
const knownDigests = () => [...blobs.map((b) => b.digest), ...manifests.map((m) => m.digest)];

/** Authorization as clients send it: mostly valid, sometimes absent, malformed or someone else's. */
const authHeader = () =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(basic) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${jwt}`) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer x.y.z', 'Basic !!!', 'Basic ' + Buffer.from('a').toString('base64'), `bearer  ${jwt}`, `Basic ${Buffer.from(':dop_v1_' + '0'.repeat(64)).toString('base64')}`, 'Digest x') },
  );

/**
 * Sends one request and checks it. Refusals must leave the fingerprint as it was; a success
 * may change state, and then the next input starts from the new state.
 */
async function check(method: string, path: string, headers: Record<string, string | undefined>, body?: Buffer): Promise<Exchange> {
  const before = await fingerprint(h);
  const x = await send(h.registryUrl, method, path, headers, body);
  expectNoServerError(x);
  if (x.status >= 400) {
    if (method !== 'HEAD') expectOciError(x);
    expectUnchanged(before, await fingerprint(h), `a refused request changed what is stored:\n${x.request}\n→ ${x.status} ${x.body.slice(0, 300)}`);
    if (x.status === 401) expect(x.headers.get('www-authenticate') ?? '', x.request).toMatch(/^Bearer realm="[^"\\]*",service="[^"\\]*"(,scope="[^"\\]*")?(,error="[a-z_]+")?$/);
  }
  return x;
}

function headersOf(auth: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return auth ? { authorization: auth, ...extra } : extra;
}

describe('fuzzing the registry listener', { timeout: 600_000 }, () => {
  it('manifest PUTs of generated manifests and indexes', async () => {
    await fc.assert(
      fc.asyncProperty(names(), A.reference(tags, knownDigests()), A.manifestBody(blobs, manifests), A.manifestContentType, authHeader(), async (name, ref, body, contentType, auth) => {
        const headers = headersOf(auth, contentType ? { 'content-type': contentType } : {});
        await check('PUT', `/v2/${name}/manifests/${ref}`, headers, body);
      }),
      fcOptions(runs(700)),
    );
    await ensureFixtures();
  });

  it('manifest and blob reads, tag lists and referrers', async () => {
    const read = fc.oneof(
      fc.tuple(fc.constantFrom('GET', 'HEAD'), names(), A.reference(tags, knownDigests()), fc.option(fc.oneof(fc.constantFrom(A.OCI_MANIFEST, A.OCI_INDEX, A.DOCKER_MANIFEST, `${A.OCI_INDEX}, ${A.OCI_MANIFEST};q=0.5`, '*/*'), A.nastyString))).map(
        ([m, n, r, accept]) => ({ method: m, path: `/v2/${n}/manifests/${r}`, headers: accept ? { accept } : {} }),
      ),
      fc.tuple(fc.constantFrom('GET', 'HEAD'), names(), A.digest(knownDigests()), fc.option(A.rangeHeader)).map(([m, n, d, range]) => ({ method: m, path: `/v2/${n}/blobs/${d}`, headers: range ? { range } : {} })),
      fc.tuple(names(), fc.option(A.numericText), fc.option(A.nastyString)).map(([n, num, last]) => {
        const q = new URLSearchParams();
        if (num !== null) q.set('n', num);
        if (last !== null) q.set('last', last);
        return { method: 'GET', path: `/v2/${n}/tags/list${q.size ? `?${q}` : ''}`, headers: {} };
      }),
      fc.tuple(names(), A.digest(knownDigests()), fc.option(A.nastyString)).map(([n, d, t]) => ({ method: 'GET', path: `/v2/${n}/referrers/${d}${t !== null ? `?artifactType=${encodeURIComponent(t)}` : ''}`, headers: {} })),
      fc.tuple(fc.option(A.numericText), fc.option(A.nastyString)).map(([num, last]) => ({ method: 'GET', path: `/v2/_catalog?n=${encodeURIComponent(num ?? '')}&last=${encodeURIComponent(last ?? '')}`, headers: {} })),
    );
    await fc.assert(
      fc.asyncProperty(read, authHeader(), async (r, auth) => {
        const before = await fingerprint(h);
        const x = await check(r.method, r.path, headersOf(auth, r.headers));
        expect(await fingerprint(h), `a read changed what is stored: ${x.request}`).toEqual(before);
      }),
      fcOptions(runs(700)),
    );
  });

  it('uploads: POST with generated queries, PATCH with generated ranges, PUT with generated digests', async () => {
    const query = fc.record({ digest: fc.option(A.digest(knownDigests())), mount: fc.option(A.digest(knownDigests())), from: fc.option(fc.oneof(fc.constantFrom(APP, NESTED, `${FOREIGN}/app`), A.nastyString)) });
    const chunk = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
    await fc.assert(
      fc.asyncProperty(names(), query, fc.option(chunk), fc.option(A.contentRangeHeader), chunk, A.digest(knownDigests()), authHeader(), async (name, q, postBody, range, patchBody, finalDigest, auth) => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(q)) if (v !== null) params.set(k, v);
        const started = await check('POST', `/v2/${name}/blobs/uploads/${params.size ? `?${params}` : ''}`, headersOf(auth), postBody ?? undefined);
        const location = started.headers.get('location');
        if (started.status !== 202 || !location) return;
        const patched = await check('PATCH', location, headersOf(auth, { 'content-type': 'application/octet-stream', ...(range !== null ? { 'content-range': range } : {}) }), patchBody);
        const next = patched.status === 202 ? (patched.headers.get('location') ?? location) : location;
        const sep = next.includes('?') ? '&' : '?';
        await check('PUT', `${next}${sep}digest=${encodeURIComponent(finalDigest)}`, headersOf(auth));
      }),
      fcOptions(runs(300)),
    );
  });

  it('arbitrary methods and paths, including escapes and traversal', async () => {
    const segment = fc.oneof(fc.constantFrom('v2', REGISTRY, 'app', 'manifests', 'blobs', 'uploads', 'tags', 'list', 'referrers', '_catalog', 'v1', '..', '.', '', '%2e%2e', '%2F', 'latest'), A.nastyString);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND'), fc.array(segment, { minLength: 1, maxLength: 7 }), fc.option(A.nastyString), authHeader(), async (method, segments, query, auth) => {
        const path = `/${segments.join('/')}${query !== null ? `?${query}` : ''}`;
        const x = await send(h.registryUrl, method, path, headersOf(auth));
        expectNoServerError(x);
        if (x.status >= 400 && method !== 'HEAD') expectOciError(x);
      }),
      fcOptions(runs(400)),
    );
  });

  it('the token service with generated scopes, grants and credentials', async () => {
    const scope = fc.oneof(
      fc.tuple(fc.constantFrom('repository', 'registry', 'repository(plugin)', ''), names(), fc.array(fc.constantFrom('pull', 'push', 'delete', '*', '', 'x'), { maxLength: 3 })).map(([t, n, a]) => `${t}:${n}:${a.join(',')}`),
      A.nastyString,
    );
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(scope, { maxLength: 4 }), fc.constantFrom('password', 'refresh_token', '', 'client_credentials'), authHeader(), async (get, scopes, grant, auth) => {
        let x: Exchange;
        if (get) {
          const q = new URLSearchParams({ service: 'registry.test' });
          for (const s of scopes) q.append('scope', s);
          x = await send(h.registryUrl, 'GET', `/auth/token?${q}`, headersOf(auth));
        } else {
          const form = new URLSearchParams({ grant_type: grant, username: 'fuzz', password: auth.startsWith('Basic ') ? h.token : auth, refresh_token: auth, service: 'registry.test', scope: scopes.join(' ') });
          x = await send(h.registryUrl, 'POST', '/auth/token', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()));
        }
        expectNoServerError(x);
        const body = JSON.parse(x.body) as Record<string, unknown>;
        if (x.status >= 400) expect(Array.isArray(body.errors) || typeof body.error === 'string', x.request).toBe(true);
        else expect(typeof body.token === 'string' || typeof body.access_token === 'string', x.request).toBe(true);
      }),
      fcOptions(runs(250)),
    );
  });
});
