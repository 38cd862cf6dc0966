/**
 * The OCI distribution-spec conformance suite (opencontainers/distribution-spec
 * `conformance/`, OCI_VERSION=1.1 defaults), replayed check by check against the real Berth:
 * the same requests, the same data variants, the same expectations. Where the suite accepts a
 * fallback it records as "unsupported" (202 instead of 201 for a POST with the blob or a mount,
 * a full body instead of a range, no OCI-Filters-Applied), this file demands the supported
 * answer, since Berth supports them all. Checks the older ginkgo suite (v1.1.1) makes that the
 * new one does not are at the end.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  detectManifest,
  digestOf,
  expectBody,
  expectDigestHeader,
  expectHeader,
  expectStatus,
  ExchangeError,
  MT,
  randomText,
  streamed,
  SuiteClient,
  TestData,
  TWO_PLATFORMS,
  type Algorithm,
  type Descriptor,
  type Reply,
} from '../support/oci-conformance.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';

const REGISTRY = uniqueName('conf');
const REPO1 = `${REGISTRY}/conformance/repo1`;
const REPO2 = `${REGISTRY}/conformance/repo2`;
/** The suite's smallest chunk, raised to the registry's OCI-Chunk-Min-Length when that is larger. */
const CHUNK_MIN = 1024;

let server: TestServer;
let client: SuiteClient;
let minChunk = CHUNK_MIN;

beforeAll(async () => {
  server = await startServer();
  await server.createRegistry(REGISTRY);
  const credentials = server.credentialsOf(await server.dockerCredentials(REGISTRY, { readWrite: true }));
  client = new SuiteClient(server.registryUrl, credentials);
});
afterAll(async () => {
  await server?.stop();
});

const blobPath = (repo: string, digest: string) => `/v2/${repo}/blobs/${digest}`;
const uploadsPath = (repo: string) => `/v2/${repo}/blobs/uploads/`;
const manifestPath = (repo: string, reference: string) => `/v2/${repo}/manifests/${reference}`;
const ACCEPT_MANIFESTS = { accept: [MT.ociIndex, MT.ociImage] };
const OCTETS = { 'content-type': MT.octetStream };

function withQuery(location: string, name: string, value: string): URL {
  const url = new URL(location, server.registryUrl);
  url.searchParams.set(name, value);
  return url;
}

function location(reply: Reply): string {
  const value = reply.headers.get('location');
  if (!value) throw new ExchangeError(`no Location header\n  ${reply.method} ${reply.url} → ${reply.status}`);
  return value;
}

/** Runs `check` for every item and reports every failure at once. */
async function everyOne<T>(items: Iterable<T>, label: (item: T) => string, check: (item: T) => Promise<void>): Promise<void> {
  const failures: string[] = [];
  for (const item of items) {
    try {
      await check(item);
    } catch (err) {
      failures.push(`${label(item)}: ${(err as Error).message}`);
    }
  }
  expect(failures, failures.join('\n\n')).toEqual([]);
}

// ---- blob pushes, as the suite's BlobPostOnly, BlobPostPut, BlobPatchChunked, BlobPatchStream, BlobMount

/** The Location a finished push names serves the blob. */
async function verifyBlobLocation(reply: Reply, bytes: Buffer): Promise<void> {
  const get = await client.call('GET', location(reply));
  expectStatus(get, 200);
  expectBody(get, bytes);
}

/** The reply that ends a push: 400 for a wrong digest, else 201 with the digest and a Location serving the blob. */
async function expectPushFinished(reply: Reply, digest: string, bytes: Buffer, bad: boolean): Promise<void> {
  if (bad) return expectStatus(reply, 400);
  expectStatus(reply, 201);
  expectDigestHeader(reply, digest);
  await verifyBlobLocation(reply, bytes);
}

async function pushPostOnly(repo: string, digest: string, bytes: Buffer, bad = false): Promise<void> {
  const post = await client.call('POST', withQuery(uploadsPath(repo), 'digest', digest), { headers: OCTETS, body: bytes });
  await expectPushFinished(post, digest, bytes, bad);
}

async function pushPostPut(repo: string, digest: string, bytes: Buffer, bad = false): Promise<void> {
  const post = await client.call('POST', uploadsPath(repo));
  expectStatus(post, 202);
  const put = await client.call('PUT', withQuery(location(post), 'digest', digest), { headers: OCTETS, body: bytes });
  await expectPushFinished(put, digest, bytes, bad);
}

async function pushStream(repo: string, digest: string, bytes: Buffer, bad = false): Promise<void> {
  const post = await client.call('POST', uploadsPath(repo));
  expectStatus(post, 202);
  const patch = await client.call('PATCH', location(post), { headers: OCTETS, body: streamed(bytes) });
  expectStatus(patch, 202);
  const put = await client.call('PUT', withQuery(location(patch), 'digest', digest), { headers: OCTETS });
  await expectPushFinished(put, digest, bytes, bad);
}

interface ChunkedOptions {
  putLastChunk?: boolean;
  outOfOrder?: boolean;
  bad?: boolean;
}

async function pushChunked(repo: string, digest: string, bytes: Buffer, options: ChunkedOptions = {}): Promise<void> {
  const post = await client.call('POST', uploadsPath(repo));
  expectStatus(post, 202);
  const advertised = post.headers.get('oci-chunk-min-length');
  if (advertised !== null) minChunk = Math.max(minChunk, Number(advertised));
  let chunkSize = Math.max(Math.floor(bytes.length / 3) + 1, advertised === null ? 0 : Number(advertised), CHUNK_MIN);
  chunkSize = Math.min(chunkSize, bytes.length);
  let loc = location(post);
  let last = -1;
  let finished: Reply | undefined;
  while (last < bytes.length - 1) {
    if (options.outOfOrder) {
      // A chunk that skips ahead (or, at the end, goes back to the start) must be refused …
      let badStart = last + 1 + chunkSize;
      if (badStart >= bytes.length) badStart = 0;
      const badEnd = Math.min(badStart + chunkSize - 1, bytes.length - 1);
      const asPut = options.putLastChunk === true && badEnd === bytes.length - 1;
      const target = asPut ? withQuery(loc, 'digest', digest) : new URL(loc, server.registryUrl);
      const refused = await client.call(asPut ? 'PUT' : 'PATCH', target, {
        headers: { ...OCTETS, 'content-range': `${badStart}-${badEnd}` },
        body: bytes.subarray(badStart, badEnd + 1),
      });
      expectStatus(refused, 416);
      // … and a GET on the session then says where it really stands.
      const status = await client.call('GET', target);
      expectStatus(status, 204);
      loc = location(status);
      const range = status.headers.get('range') ?? '';
      if (!/^0-\d+$/.test(range)) throw new ExchangeError(`upload status Range is ${JSON.stringify(range)}, expected 0-<n>`);
      if (last >= 0 && range !== `0-${last}`) throw new ExchangeError(`upload status Range is ${range}, expected 0-${last}`);
    }
    const start = last + 1;
    last = Math.min(start + chunkSize - 1, bytes.length - 1);
    const chunk = { headers: { ...OCTETS, 'content-range': `${start}-${last}` }, body: bytes.subarray(start, last + 1) };
    if (options.putLastChunk && last === bytes.length - 1) {
      finished = await client.call('PUT', withQuery(loc, 'digest', digest), chunk);
    } else {
      const patch = await client.call('PATCH', loc, chunk);
      expectStatus(patch, 202);
      loc = location(patch);
    }
  }
  if (!options.putLastChunk) finished = await client.call('PUT', withQuery(loc, 'digest', digest), { headers: OCTETS });
  await expectPushFinished(finished!, digest, bytes, options.bad === true);
}

/** A mount: 201 when the registry links the blob, 202 (an upload session) when it cannot. */
async function mount(repo: string, from: string | undefined, digest: string): Promise<Reply> {
  let url = withQuery(uploadsPath(repo), 'mount', digest);
  if (from !== undefined) url = withQuery(url.pathname + url.search, 'from', from);
  return client.call('POST', url);
}

/** Rotates through the four ways to push, as the suite's TestPushBlobAny spreads its pushes. */
const PUSHES = [pushPostPut, pushPostOnly, pushStream, (repo: string, digest: string, bytes: Buffer) => pushChunked(repo, digest, bytes)];
let nextPush = 0;
async function pushAny(repo: string, digest: string, bytes: Buffer): Promise<void> {
  const push = PUSHES[nextPush++ % PUSHES.length]!;
  await push(repo, digest, bytes);
}

async function headBlob(repo: string, digest: string, bytes: Buffer): Promise<void> {
  const head = await client.call('HEAD', blobPath(repo, digest));
  expectStatus(head, 200);
  expectBody(head, Buffer.alloc(0));
  expectHeader(head, 'content-length', String(bytes.length));
  expectDigestHeader(head, digest);
}

async function getBlob(repo: string, digest: string, bytes: Buffer): Promise<void> {
  const get = await client.call('GET', blobPath(repo, digest));
  expectStatus(get, 200);
  expectBody(get, bytes);
  expectHeader(get, 'content-length', String(bytes.length));
  expectDigestHeader(get, digest);
}

/** DELETE answers 202 and the blob is gone at once (the suite's blob delete + atomic check). */
async function deleteBlob(repo: string, digest: string): Promise<void> {
  const del = await client.call('DELETE', blobPath(repo, digest));
  expectStatus(del, 202);
  const head = await client.call('HEAD', blobPath(repo, digest));
  expectStatus(head, 404);
}

// ---- manifests, as the suite's ManifestPut, ManifestHeadExists, ManifestGetExists, ManifestDelete

async function putManifest(repo: string, reference: string, digest: string, bytes: Buffer, bad = false, tagParams: string[] = []): Promise<void> {
  const { mediaType, subject } = detectManifest(bytes);
  const query = tagParams.length > 0 ? `?${new URLSearchParams(tagParams.map((t): [string, string] => ['tag', t]))}` : '';
  const put = await client.call('PUT', manifestPath(repo, reference) + query, { headers: { 'content-type': mediaType }, body: bytes, chunked: true });
  if (bad) return expectStatus(put, 400);
  expectStatus(put, 201);
  const confirmed = put.headers.get('oci-tag')?.split(',').map((t) => t.trim()) ?? [];
  for (const tag of tagParams) if (!confirmed.includes(tag)) throw new ExchangeError(`OCI-Tag does not confirm ${tag}: ${put.headers.get('oci-tag')}`);
  if (subject) expectHeader(put, 'oci-subject', subject.digest);
  expectDigestHeader(put, digest);
  const get = await client.call('GET', location(put), { headers: ACCEPT_MANIFESTS });
  expectStatus(get, 200);
  expectHeader(get, 'content-type', mediaType);
  expectHeader(get, 'content-length', String(bytes.length));
  expectBody(get, bytes);
}

async function headManifest(repo: string, reference: string, digest: string, bytes: Buffer): Promise<void> {
  const head = await client.call('HEAD', manifestPath(repo, reference), { headers: ACCEPT_MANIFESTS });
  expectStatus(head, 200);
  expectBody(head, Buffer.alloc(0));
  expectHeader(head, 'content-type', detectManifest(bytes).mediaType);
  expectHeader(head, 'content-length', String(bytes.length));
  expectDigestHeader(head, digest);
}

async function getManifest(repo: string, reference: string, digest: string, bytes: Buffer): Promise<void> {
  const get = await client.call('GET', manifestPath(repo, reference), { headers: ACCEPT_MANIFESTS });
  expectStatus(get, 200);
  expectBody(get, bytes);
  expectHeader(get, 'content-type', detectManifest(bytes).mediaType);
  expectHeader(get, 'content-length', String(bytes.length));
  expectDigestHeader(get, digest);
}

async function deleteManifest(repo: string, reference: string): Promise<void> {
  const del = await client.call('DELETE', manifestPath(repo, reference));
  expectStatus(del, 202);
  const head = await client.call('HEAD', manifestPath(repo, reference), { headers: ACCEPT_MANIFESTS });
  expectStatus(head, 404);
}

async function tagList(repo: string, query = ''): Promise<{ reply: Reply; tags: string[] }> {
  const reply = await client.call('GET', `/v2/${repo}/tags/list${query}`);
  expectStatus(reply, 200, 404);
  const tags = reply.status === 200 ? ((JSON.parse(reply.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []) : [];
  return { reply, tags };
}

async function referrers(repo: string, subject: string, artifactType?: string): Promise<{ reply: Reply; manifests: Descriptor[] }> {
  const query = artifactType === undefined ? '' : `?${new URLSearchParams({ artifactType })}`;
  const reply = await client.call('GET', `/v2/${repo}/referrers/${subject}${query}`);
  expectStatus(reply, 200);
  expectHeader(reply, 'content-type', MT.ociIndex);
  const index = JSON.parse(reply.body.toString('utf8')) as { schemaVersion?: number; mediaType?: string; manifests?: Descriptor[] };
  if (index.schemaVersion !== 2 || index.mediaType !== MT.ociIndex) throw new ExchangeError(`the referrers response is not an OCI index: ${reply.body.toString('utf8')}`);
  return { reply, manifests: index.manifests ?? [] };
}

/** The suite's match: digest, media type, size and artifact type equal, annotations included. */
function listsReferrer(list: Descriptor[], goal: Descriptor): boolean {
  return list.some(
    (d) =>
      d.digest === goal.digest &&
      d.mediaType === goal.mediaType &&
      d.size === goal.size &&
      (d.artifactType ?? '') === (goal.artifactType ?? '') &&
      Object.entries(goal.annotations ?? {}).every(([k, v]) => d.annotations?.[k] === v),
  );
}

const short = (digest: string) => `${digest.slice(0, 19)}…`;

describe('ping', () => {
  it('GET /v2/ answers 200 once authenticated', async () => {
    const reply = await client.call('GET', '/v2/');
    expectStatus(reply, 200);
  });
});

describe('empty repository', () => {
  it('tag list answers 200 or 404', async () => {
    await tagList(REPO1);
  });

  it('referrers of an unknown digest answer 200 with an empty OCI index', async () => {
    const { manifests } = await referrers(REPO1, digestOf(Buffer.from(randomText())));
    expect(manifests).toEqual([]);
  });
});

// The two algorithms' blob tests touch different blobs, so they run side by side (their 15 MiB
// chunked pushes on S3, sized by OCI-Chunk-Min-Length as the suite sizes them, take a while);
// within each, the checks run in the suite's order.
for (const algorithm of ['sha256', 'sha512'] as Algorithm[]) {
  describe.concurrent(`${algorithm} blobs`, () => {
    describe.sequential('in order', () => {
      const blob = (size = 512) => {
        const bytes = randomBytes(size);
        return { bytes, digest: digestOf(bytes, algorithm) };
      };

      it('GET of a blob never pushed answers 404', async () => {
        expectStatus(await client.call('GET', blobPath(REPO1, blob().digest)), 404);
      });

      const pushTests: [string, (b: { bytes: Buffer; digest: string }) => Promise<void>][] = [
        ['post only: POST ?digest= with the blob answers 201', (b) => pushPostOnly(REPO1, b.digest, b.bytes)],
        ['post+put: POST, then PUT ?digest= with the blob answers 201', (b) => pushPostPut(REPO1, b.digest, b.bytes)],
        ['chunked single: one PATCH with Content-Range, then PUT ?digest=', (b) => pushChunked(REPO1, b.digest, b.bytes)],
        ['stream: PATCH without Content-Length or Content-Range, then PUT ?digest=', (b) => pushStream(REPO1, b.digest, b.bytes)],
      ];
      for (const [name, push] of pushTests) {
        describe(name, () => {
          const b = blob();
          it('pushes, and the Location serves the blob', () => push(b));
          it('HEAD and GET answer 200 with the blob', async () => {
            await headBlob(REPO1, b.digest, b.bytes);
            await getBlob(REPO1, b.digest, b.bytes);
          });
          it('DELETE answers 202 and the blob is gone', () => deleteBlob(REPO1, b.digest));
        });
      }

      const chunkedTests: [string, ChunkedOptions][] = [
        ['chunked multi: three PATCHes, then PUT ?digest=', {}],
        ['chunked multi and put chunk: the last chunk in the PUT', { putLastChunk: true }],
        ['chunked out-of-order: chunks at the wrong offset answer 416, GET gives the Range to resume from', { outOfOrder: true }],
        ['chunked out-of-order and put chunk: also for a PUT with the last chunk', { outOfOrder: true, putLastChunk: true }],
      ];
      for (const [name, options] of chunkedTests) {
        describe(name, () => {
          let b: { bytes: Buffer; digest: string };
          it('pushes, and the Location serves the blob', async () => {
            b = blob(minChunk * 3 - 5);
            await pushChunked(REPO1, b.digest, b.bytes, options);
          });
          it('HEAD and GET answer 200 with the blob', async () => {
            await headBlob(REPO1, b.digest, b.bytes);
            await getBlob(REPO1, b.digest, b.bytes);
          });
          it('DELETE answers 202 and the blob is gone', () => deleteBlob(REPO1, b.digest));
        });
      }

      const mounts = [
        { title: 'mount: POST ?mount=&from= of a blob in another repository', from: REPO2, answer: 'answers 201 with Docker-Content-Digest, and the Location serves the blob' },
        { title: 'mount anonymous: POST ?mount= without from', from: undefined, answer: 'answers 201 for a blob the credential can pull elsewhere, and the Location serves it' },
      ];
      for (const { title, from, answer } of mounts) {
        describe(title, () => {
          const b = blob();
          it(answer, async () => {
            await pushAny(REPO2, b.digest, b.bytes);
            const reply = await mount(REPO1, from, b.digest);
            expectStatus(reply, 201);
            expectDigestHeader(reply, b.digest);
            await verifyBlobLocation(reply, b.bytes);
          });
          it('HEAD and GET in the target answer 200 with the blob', async () => {
            await headBlob(REPO1, b.digest, b.bytes);
            await getBlob(REPO1, b.digest, b.bytes);
          });
          it('DELETE in both repositories answers 202', async () => {
            await deleteBlob(REPO1, b.digest);
            await deleteBlob(REPO2, b.digest);
          });
        });
      }

      describe('mount missing: POST ?mount=&from= of a blob the source does not have', () => {
        const b = blob();
        it('answers 202 with an upload session, which a PUT with the blob finishes', async () => {
          const reply = await mount(REPO1, REPO2, b.digest);
          expectStatus(reply, 202);
          const put = await client.call('PUT', withQuery(location(reply), 'digest', b.digest), { headers: OCTETS, body: b.bytes });
          expectStatus(put, 201);
          expectDigestHeader(put, b.digest);
          await verifyBlobLocation(put, b.bytes);
        });
        it('HEAD and GET answer 200 with the blob', async () => {
          await headBlob(REPO1, b.digest, b.bytes);
          await getBlob(REPO1, b.digest, b.bytes);
        });
        it('DELETE answers 202 and the blob is gone', () => deleteBlob(REPO1, b.digest));
      });

      describe('post cancel (OCI_VERSION=dev): DELETE on an upload session', () => {
        const b = blob();
        it('answers 204', async () => {
          const post = await client.call('POST', uploadsPath(REPO1));
          expectStatus(post, 202);
          expectStatus(await client.call('DELETE', location(post)), 204);
        });
        it('the blob never existed: DELETE answers 202 or 404, HEAD 404', async () => {
          expectStatus(await client.call('DELETE', blobPath(REPO1, b.digest)), 202, 404);
          expectStatus(await client.call('HEAD', blobPath(REPO1, b.digest)), 404);
        });
      });

      describe('range requests', () => {
        const b = blob(2048);
        it('setup: push a 2048-byte blob', () => pushAny(REPO1, b.digest, b.bytes));
        const ranges: [string, number, number | 'unsatisfiable'][] = [
          ['bytes=500-1499', 500, 1500],
          ['bytes=500-', 500, 2048],
          ['bytes=-500', 1548, 2048],
          ['bytes=2000-5000', 2000, 2048],
          ['bytes=500-0', 0, 'unsatisfiable'],
          ['bytes=5000-10000', 0, 'unsatisfiable'],
        ];
        for (const [range, start, end] of ranges) {
          const title = end === 'unsatisfiable' ? `Range: ${range} answers 416` : `Range: ${range} answers 206 with bytes ${start}-${end - 1}`;
          it(title, async () => {
            const reply = await client.call('GET', blobPath(REPO1, b.digest), { headers: { range } });
            if (end === 'unsatisfiable') return expectStatus(reply, 416);
            expectStatus(reply, 206);
            expectBody(reply, b.bytes.subarray(start, end));
            expectHeader(reply, 'content-length', String(end - start));
            const contentRange = reply.headers.get('content-range');
            expect([`bytes ${start}-${end - 1}/2048`, `bytes ${start}-${end - 1}/*`]).toContain(contentRange);
          });
        }
        it('cleanup: DELETE answers 202', () => deleteBlob(REPO1, b.digest));
      });

      // The suite pushes these with whichever push it has not tried yet; here every push carries each.
      for (const [name, bytes] of [
        ['empty', Buffer.alloc(0)],
        ['emptyJSON', Buffer.from('{}')],
      ] as const) {
        const digest = digestOf(bytes, algorithm);
        for (const [push, flow] of PUSHES.map((p, i) => [p, ['post+put', 'post only', 'stream', 'chunked'][i]!] as const)) {
          describe(`well-known content: ${name} (${bytes.length} bytes), pushed by ${flow}`, () => {
            it('pushes', () => push(REPO1, digest, bytes));
            it('HEAD and GET answer 200 with Content-Length and the bytes', async () => {
              await headBlob(REPO1, digest, bytes);
              await getBlob(REPO1, digest, bytes);
            });
            it('DELETE answers 202 and the blob is gone', () => deleteBlob(REPO1, digest));
          });
        }
      }

      describe('bad digest: bytes that do not match the digest are refused with 400', () => {
        const corrupt = () => {
          const b = blob(minChunk * 3 - 5);
          return { digest: b.digest, bytes: Buffer.concat([b.bytes, Buffer.from('oh no')]) };
        };
        const cases: [string, (b: { bytes: Buffer; digest: string }) => Promise<void>][] = [
          ['post only', (b) => pushPostOnly(REPO1, b.digest, b.bytes, true)],
          ['post+put', (b) => pushPostPut(REPO1, b.digest, b.bytes, true)],
          ['chunked', (b) => pushChunked(REPO1, b.digest, b.bytes, { bad: true })],
          ['chunked and put chunk', (b) => pushChunked(REPO1, b.digest, b.bytes, { bad: true, putLastChunk: true })],
          ['stream', (b) => pushStream(REPO1, b.digest, b.bytes, true)],
        ];
        for (const [name, push] of cases) {
          it(name, async () => {
            const b = corrupt();
            await push(b);
            expectStatus(await client.call('HEAD', blobPath(REPO1, b.digest)), 404);
          });
        }
      });
    });
  });
}

// ---- the data variants, generated as the suite's GenerateData does for OCI_VERSION=1.1

function dataSets(): TestData[] {
  const sets: TestData[] = [];
  const add = (name: string, build: (td: TestData) => void) => {
    const td = new TestData(name);
    build(td);
    sets.push(td);
  };
  add('image', (td) => td.genManifestFull({ tag: 'image' }));
  add('image-uncompressed', (td) => td.genManifestFull({ tag: 'image-uncompressed', uncompressed: true }));
  add('large-manifest (390 annotations of 10 000 bytes)', (td) => {
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 390; i++) annotations[`large-annotation-${i}`] = 'A'.repeat(10_000);
    td.genManifestFull({ tag: 'large-manifest', annotations });
  });
  add('index', (td) => td.genIndexFull({ tag: 'index', platforms: TWO_PLATFORMS }));
  add('nested-index', (td) => {
    const first = td.genIndexFull({ platforms: TWO_PLATFORMS });
    const second = td.genIndexFull({ platforms: TWO_PLATFORMS });
    td.genIndex([undefined, undefined], [first, second], { tag: 'index-of-index' });
  });
  add('empty-index', (td) => td.genIndexFull({ tag: 'index', platforms: [] }));
  const artifact = { artifactType: MT.exampleConf1, configMediaType: MT.ociEmptyJson, configBytes: Buffer.from('{}'), layerCount: 1 };
  add('artifact', (td) => td.genManifestFull({ ...artifact, tag: 'artifact', layerMediaType: MT.exampleConf1 }));
  add('artifact-index', (td) => td.genIndexFull({ ...artifact, tag: 'artifact-index', platforms: TWO_PLATFORMS, layerMediaType: MT.exampleConf1 }));
  add('artifact-without-layers', (td) =>
    td.genManifestFull({ ...artifact, tag: 'artifact-without-layers', layerBytes: Buffer.from('{}'), layerMediaType: MT.ociEmptyJson }),
  );
  const conformanceNote = { annotations: { 'org.opencontainers.conformance': 'hello conformance test' }, annotationUniq: true };
  add('artifacts-with-subject', (td) => {
    const subject = td.desc.get(td.genManifestFull({ tag: 'image' }))!;
    td.genManifestFull({ subject });
    td.genManifestFull({ ...artifact, ...conformanceNote, layerMediaType: MT.exampleConf1, subject, tag: 'tagged-artifact1' });
    td.genManifestFull({ ...artifact, ...conformanceNote, artifactType: MT.exampleConf2, layerMediaType: MT.octetStream, subject, tag: 'tagged-artifact2' });
  });
  add('index-with-subject', (td) => {
    const subject = td.desc.get(td.genIndexFull({ tag: 'index' }))!;
    td.genIndexFull({ ...artifact, ...conformanceNote, layerMediaType: MT.exampleConf1, subject, tag: 'tagged-artifact' });
  });
  add('missing-subject', (td) => {
    const subject = { mediaType: MT.ociImage, size: 123, digest: digestOf(Buffer.from('missing content')) };
    td.genManifestFull({ ...artifact, ...conformanceNote, layerMediaType: MT.exampleConf1, subject, tag: 'tagged-artifact' });
  });
  add('data-field', (td) => td.genManifestFull({ tag: 'data-field', setData: true }));
  add('non-distributable-layers', (td) => {
    // Two foreign layers that are never pushed (their bytes are elsewhere), one normal layer.
    const foreign = (mediaType: string, size: number): Descriptor => {
      const digest = digestOf(randomBytes(256));
      return { mediaType, digest, size, urls: [`https://store.example.com/blobs/sha256/${digest.slice(7)}`] };
    };
    const gz = foreign(MT.ociLayerNdGz, 123456);
    const plain = foreign(MT.ociLayerNd, 12345);
    const normal = td.genLayer(1);
    const config = td.genConfig({ architecture: 'amd64', os: 'linux' }, [digestOf(randomBytes(256)), plain.digest, normal.diffId]);
    td.genManifest(td.desc.get(config)!, [gz, plain, td.desc.get(normal.digest)!], { tag: 'non-distributable-image' });
  });
  add('custom-fields', (td) => td.genIndexFull({ tag: 'custom-fields', platforms: TWO_PLATFORMS, extraField: true }));
  add('no-layers', (td) => td.genManifestFull({ tag: 'no-layers', layerCount: 0 }));
  add('sha512 (pushed by digest only)', (td) => td.genIndexFull({ algorithm: 'sha512' }));
  // OCI_VERSION=dev: every manifest pushed by digest with its tags as ?tag= parameters.
  for (const algorithm of ['sha256', 'sha512'] as Algorithm[]) {
    add(`tag-param-${algorithm} (OCI_VERSION=dev)`, (td) => {
      td.genIndexFull({ tag: `tag-param-${algorithm}`, algorithm });
      td.manOrder.forEach((digest, i) => td.tags.set(`tag-param-${algorithm}-${i}`, digest));
      td.tagParam = true;
    });
  }
  add('bad-digest-image (manifest bytes changed after digesting)', (td) => {
    const digest = td.genManifestFull();
    td.manifests.set(digest, Buffer.concat([td.manifests.get(digest)!, Buffer.from('  ')]));
    td.badDigest.add(digest);
  });
  return sets;
}

for (const td of dataSets()) {
  describe(`data: ${td.name}`, () => {
    const pullable = td.manOrder.filter((d) => !td.badDigest.has(d));
    const label = (digest: string) => `manifest ${td.manOrder.indexOf(digest)} (${td.desc.get(digest)!.mediaType.split('.').at(-2)}, ${short(digest)})`;

    it('push: every blob (POST+PUT, POST ?digest=, streamed and chunked PATCH in turn)', () =>
      everyOne(td.blobs.entries(), ([d]) => `blob ${short(d)}`, ([digest, bytes]) => pushAny(REPO1, digest, bytes)));

    for (const digest of td.manOrder) {
      const bad = td.badDigest.has(digest);
      const tagParams = td.tagParam ? [...td.tags].filter(([, d]) => d === digest).map(([t]) => t) : [];
      let title = bad ? `push: ${label(digest)} by digest is refused with 400` : `push: ${label(digest)} by digest answers 201; Location, Docker-Content-Digest, OCI-Subject`;
      if (tagParams.length > 0) title += `; ?tag=${tagParams.join('&tag=')} confirmed in OCI-Tag`;
      it(title, async () => {
        await putManifest(REPO1, digest, digest, td.manifests.get(digest)!, bad, tagParams);
        for (const tag of tagParams) td.tagPushed.add(tag);
      });
    }
    for (const [tag, digest] of td.tagParam ? [] : td.tags) {
      it(`push: tag ${tag} answers 201`, async () => {
        await putManifest(REPO1, tag, digest, td.manifests.get(digest)!);
        td.tagPushed.add(tag);
      });
    }

    it('tag list: lists every tag; ?last= lists only the tags after it', async () => {
      const { tags } = await tagList(REPO1);
      for (const tag of td.tags.keys()) expect(tags, `tag ${tag}`).toContain(tag);
      if (tags.length < 2) return;
      const sorted = [...tags].sort();
      const end = Math.floor(sorted.length / 2);
      const last = sorted[end - 1]!;
      const partial = (await tagList(REPO1, `?${new URLSearchParams({ last })}`)).tags;
      expect(partial).toEqual(sorted.slice(end));
    });

    for (const [tag, digest] of td.tags) {
      it(`HEAD manifest by tag ${tag}: 200, Content-Type, Content-Length, Docker-Content-Digest`, () =>
        headManifest(REPO1, tag, digest, td.manifests.get(digest)!));
    }
    for (const digest of pullable) {
      it(`HEAD ${label(digest)} by digest: 200, Content-Type, Content-Length, Docker-Content-Digest`, () =>
        headManifest(REPO1, digest, digest, td.manifests.get(digest)!));
    }
    it('HEAD every blob: 200, Content-Length, Docker-Content-Digest', () =>
      everyOne(td.blobs.entries(), ([d]) => `blob ${short(d)}`, ([digest, bytes]) => headBlob(REPO1, digest, bytes)));

    for (const [tag, digest] of td.tags) {
      it(`GET manifest by tag ${tag}: the pushed bytes, Content-Type, Content-Length, Docker-Content-Digest`, () =>
        getManifest(REPO1, tag, digest, td.manifests.get(digest)!));
    }
    for (const digest of pullable) {
      it(`GET ${label(digest)} by digest: the pushed bytes, Content-Type, Content-Length, Docker-Content-Digest`, () =>
        getManifest(REPO1, digest, digest, td.manifests.get(digest)!));
    }
    it('GET every blob: 200, the bytes, Content-Length, Docker-Content-Digest', () =>
      everyOne(td.blobs.entries(), ([d]) => `blob ${short(d)}`, ([digest, bytes]) => getBlob(REPO1, digest, bytes)));

    for (const [subject, goals] of td.referrers) {
      it(`referrers of ${short(subject)}: lists all ${goals.length} with media type, size, artifactType and annotations`, async () => {
        const { manifests } = await referrers(REPO1, subject);
        for (const goal of goals) expect(listsReferrer(manifests, goal), `${goal.digest} in ${JSON.stringify(manifests, null, 1)}`).toBe(true);
      });
      for (const artifactType of new Set(goals.map((g) => g.artifactType ?? ''))) {
        it(`referrers of ${short(subject)} ?artifactType=${artifactType}: OCI-Filters-Applied, only that type`, async () => {
          const { reply, manifests } = await referrers(REPO1, subject, artifactType);
          const applied = (reply.headers.get('oci-filters-applied') ?? '').split(',').map((s) => s.trim());
          expect(applied).toContain('artifactType');
          for (const goal of goals.filter((g) => (g.artifactType ?? '') === artifactType)) expect(listsReferrer(manifests, goal), goal.digest).toBe(true);
          for (const listed of manifests) expect(listed.artifactType ?? '', listed.digest).toBe(artifactType);
        });
      }
    }

    for (const tag of td.tags.keys()) {
      it(`DELETE tag ${tag}: 202, then HEAD by tag answers 404`, () => deleteManifest(REPO1, tag));
    }
    for (const digest of [...td.manOrder].reverse()) {
      if (td.badDigest.has(digest)) {
        it(`DELETE ${label(digest)} (never stored): 404, and HEAD answers 404`, async () => {
          expectStatus(await client.call('DELETE', manifestPath(REPO1, digest)), 404);
          expectStatus(await client.call('HEAD', manifestPath(REPO1, digest)), 404);
        });
      } else {
        it(`DELETE ${label(digest)} by digest: 202, then HEAD answers 404`, () => deleteManifest(REPO1, digest));
      }
    }
    it('DELETE every blob: 202, then HEAD answers 404', () =>
      everyOne(td.blobs.keys(), (d) => `blob ${short(d)}`, (digest) => deleteBlob(REPO1, digest)));
  });
}

describe('manifest errors', () => {
  it('missing manifest by digest: GET answers 404', async () => {
    const reply = await client.call('GET', manifestPath(REPO1, digestOf(randomBytes(1024))), { headers: ACCEPT_MANIFESTS });
    expectStatus(reply, 404);
  });

  it('missing manifest by tag: GET answers 404', async () => {
    const reply = await client.call('GET', manifestPath(REPO1, `missing-${randomText().toLowerCase().slice(0, 20)}`), { headers: ACCEPT_MANIFESTS });
    expectStatus(reply, 404);
  });

  describe('invalid digest format: sha256:baddigeststring', () => {
    const td = new TestData('invalid-manifest-digest');
    const digest = td.genManifestFull({ layerCount: 1 });
    it('setup: push the blobs', () => everyOne(td.blobs.entries(), ([d]) => d, ([d, bytes]) => pushAny(REPO1, d, bytes)));
    it('PUT manifests/sha256:baddigeststring answers 400', () => putManifest(REPO1, 'sha256:baddigeststring', digest, td.manifests.get(digest)!, true));
    it('GET manifests/sha256:baddigeststring answers 404 or 400', async () => {
      expectStatus(await client.call('GET', manifestPath(REPO1, 'sha256:baddigeststring'), { headers: ACCEPT_MANIFESTS }), 404, 400);
    });
    it('cleanup: DELETE of the never-stored manifest answers 404, blobs 202', async () => {
      expectStatus(await client.call('DELETE', manifestPath(REPO1, digest)), 404);
      await everyOne(td.blobs.keys(), (d) => d, (d) => deleteBlob(REPO1, d));
    });
  });
});

// ---- checks of the older ginkgo suite (distribution-spec v1.1.1 conformance/) the new one does not make

describe('v1.1.1 suite', () => {
  const NS = `${REGISTRY}/legacy/repo`;
  const CROSS = `${REGISTRY}/legacy/crossmount`;
  const dummyDigest = digestOf(Buffer.from('hello world'));
  const blobOf = (bytes: Buffer) => ({ bytes, digest: digestOf(bytes) });
  const config = blobOf(Buffer.from(JSON.stringify({ author: 'legacy', architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
  const layer = blobOf(randomBytes(1200));
  const descriptor = (mediaType: string, b: { bytes: Buffer; digest: string }, extra: object = {}) => ({ mediaType, digest: b.digest, size: b.bytes.length, ...extra });
  /** As the old suite's manifests: the config descriptor carries `data` and a field the spec does not know. */
  const imageOf = (cfg: typeof config, extra: object = {}) =>
    Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          ...extra,
          config: descriptor(MT.ociConfig, cfg, { data: cfg.bytes.toString('base64'), newUnspecifiedField: Buffer.from('hello world').toString('base64') }),
          layers: [descriptor(MT.ociLayerGz, layer)],
        },
        null,
        '\t',
      ),
    );
  const image = imageOf(config, { mediaType: MT.ociImage });

  describe('pull', () => {
    it('HEAD and GET of a blob never pushed answer 404', async () => {
      expectStatus(await client.call('HEAD', blobPath(NS, dummyDigest)), 404);
      expectStatus(await client.call('GET', blobPath(NS, dummyDigest)), 404);
    });
    it('HEAD and GET of manifest ".INVALID_MANIFEST_NAME" answer 404', async () => {
      expectStatus(await client.call('HEAD', manifestPath(NS, '.INVALID_MANIFEST_NAME')), 404);
      expectStatus(await client.call('GET', manifestPath(NS, '.INVALID_MANIFEST_NAME')), 404);
    });
    it('GET manifests/sha256:totallywrong answers 400 with a spec error code, or 404', async () => {
      const reply = await client.call('GET', manifestPath(NS, 'sha256:totallywrong'), { headers: { 'content-type': MT.ociImage }, body: Buffer.from('blablabla') });
      expectStatus(reply, 400, 404);
      if (reply.status === 400) {
        const codes = ['BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS'];
        const body = JSON.parse(reply.body.toString('utf8')) as { errors: { code: string }[] };
        expect(codes).toContain(body.errors[0]!.code);
      }
    });
  });

  describe('push', () => {
    it('POST ?digest= with the blob answers 201 with a Location; the blob is then there', async () => {
      const post = await client.call('POST', withQuery(uploadsPath(NS), 'digest', config.digest), { headers: OCTETS, body: config.bytes });
      expectStatus(post, 201);
      location(post);
      expectStatus(await client.call('GET', blobPath(NS, config.digest)), 200);
      await pushPostPut(NS, layer.digest, layer.bytes);
    });

    it('a streamed PATCH answers 202, the PUT ?digest= 201 with a Location', () => {
      const b = blobOf(randomBytes(3000));
      return pushStream(NS, b.digest, b.bytes);
    });

    describe('chunked upload', () => {
      const b = blobOf(randomBytes(2 * CHUNK_MIN));
      const chunk1 = { range: `0-${CHUNK_MIN - 1}`, bytes: b.bytes.subarray(0, CHUNK_MIN) };
      const chunk2 = { range: `${CHUNK_MIN}-${2 * CHUNK_MIN - 1}`, bytes: b.bytes.subarray(CHUNK_MIN) };
      const patch = (url: string, chunk: typeof chunk1) =>
        client.call('PATCH', url, { headers: { ...OCTETS, 'content-range': chunk.range }, body: chunk.bytes });
      let first: Reply;
      let latest: Reply;
      it('a second chunk sent first answers 416', async () => {
        const post = await client.call('POST', uploadsPath(NS));
        expectStatus(post, 202);
        expectStatus(await patch(location(post), chunk2), 416);
      });
      it('the first chunk answers 202 with Range 0-<end of chunk>', async () => {
        first = await client.call('POST', uploadsPath(NS));
        expectStatus(first, 202);
        latest = await patch(location(first), chunk1);
        expectStatus(latest, 202);
        expectHeader(latest, 'range', chunk1.range);
      });
      it('retrying the first chunk at the first URL answers 416', async () => {
        expectStatus(await patch(location(first), chunk1), 416);
      });
      it('GET on the stale upload URL answers 204 with a Location and the Range received', async () => {
        latest = await client.call('GET', location(first));
        expectStatus(latest, 204);
        location(latest);
        expectHeader(latest, 'range', chunk1.range);
      });
      it('the second chunk at the Location from the GET answers 202', async () => {
        latest = await patch(location(latest), chunk2);
        expectStatus(latest, 202);
        location(latest);
      });
      it('PUT ?digest= without a body answers 201 with a Location', async () => {
        const put = await client.call('PUT', withQuery(location(latest), 'digest', b.digest), { headers: OCTETS });
        expectStatus(put, 201);
        await verifyBlobLocation(put, b.bytes);
      });
    });

    describe('cross-repository mount', () => {
      it('a mount without from of an unknown digest answers 202 with an upload session', async () => {
        const reply = await mount(CROSS, undefined, dummyDigest);
        expectStatus(reply, 202);
        location(reply);
      });
      it('a mount from the repository holding the blob answers 201, Location /v2/<name>/blobs/<digest>', async () => {
        const reply = await mount(CROSS, NS, layer.digest);
        expectStatus(reply, 201);
        expect(new URL(location(reply), server.registryUrl).pathname).toBe(blobPath(CROSS, layer.digest));
        expectStatus(await client.call('GET', location(reply)), 200);
      });
    });

    describe('manifest upload', () => {
      it('PUT by tag test0…test3 answers 201 with a Location', async () => {
        for (let i = 0; i < 4; i++) {
          const put = await client.call('PUT', manifestPath(NS, `test${i}`), { headers: { 'content-type': MT.ociImage }, body: image });
          expectStatus(put, 201);
          location(put);
        }
      });
      it('a manifest with no layers and no mediaType field (Content-Type says it) answers 201', async () => {
        const empty = Buffer.from(JSON.stringify({ schemaVersion: 2, config: descriptor(MT.ociConfig, config, { data: config.bytes.toString('base64') }), layers: [] }, null, '\t'));
        const put = await client.call('PUT', manifestPath(NS, 'emptylayer'), { headers: { 'content-type': MT.ociImage }, body: empty });
        expectStatus(put, 201);
        await getManifest(NS, digestOf(empty), digestOf(empty), empty);
      });
    });
  });

  describe('content discovery', () => {
    const subjectConfig = blobOf(Buffer.from(JSON.stringify({ author: 'legacy subject', architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
    const subject = imageOf(subjectConfig, { mediaType: MT.ociImage });
    const subjectDesc = { mediaType: MT.ociImage, digest: digestOf(subject), size: subject.length };
    const missing = { mediaType: MT.ociImage, digest: digestOf(randomBytes(64)), size: 321 };
    const emptyJson = blobOf(Buffer.from('{}'));
    const refBlob = blobOf(randomBytes(300));
    const typeA = 'application/vnd.nhl.peanut.butter.bagel';
    const typeB = 'application/vnd.nba.strawberry.jam.croissant';
    const annotated = new Map<string, string>();
    const referrer = (body: object) => {
      const value = randomText();
      const bytes = Buffer.from(JSON.stringify({ ...body, annotations: { 'org.opencontainers.conformance.test': value } }));
      annotated.set(digestOf(bytes), value);
      return bytes;
    };
    const refImage = (artifactType: string | undefined, configType: string, subj: object) =>
      referrer({
        schemaVersion: 2,
        mediaType: MT.ociImage,
        ...(artifactType ? { artifactType } : {}),
        config: configType === MT.ociEmptyJson ? descriptor(MT.ociEmptyJson, emptyJson) : { mediaType: configType, digest: emptyJson.digest, size: 2 },
        layers: [descriptor(MT.octetStream, refBlob)],
        subject: subj,
      });
    const before = [refImage(undefined, typeA, subjectDesc), refImage(typeA, MT.ociEmptyJson, subjectDesc)];
    const refIndex = referrer({ schemaVersion: 2, mediaType: MT.ociIndex, artifactType: 'application/vnd.food.stand', manifests: [], subject: subjectDesc });
    const after = [refImage(undefined, typeB, subjectDesc), refImage(typeB, MT.ociEmptyJson, subjectDesc)];
    const toMissing = refImage(typeA, MT.ociEmptyJson, missing);

    it('setup: referrers pushed before and after their subject answer 201 with OCI-Subject', async () => {
      await pushAny(NS, emptyJson.digest, emptyJson.bytes);
      await pushAny(NS, refBlob.digest, refBlob.bytes);
      await pushAny(NS, subjectConfig.digest, subjectConfig.bytes);
      const put = async (bytes: Buffer, subj: string) => {
        const mediaType = detectManifest(bytes).mediaType;
        const reply = await client.call('PUT', manifestPath(NS, digestOf(bytes)), { headers: { 'content-type': mediaType }, body: bytes });
        expectStatus(reply, 201);
        expectHeader(reply, 'oci-subject', subj);
      };
      for (const bytes of [...before, refIndex]) await put(bytes, subjectDesc.digest);
      expectStatus(await client.call('PUT', manifestPath(NS, 'tagtest0'), { headers: { 'content-type': MT.ociImage }, body: subject }), 201);
      for (const bytes of after) await put(bytes, subjectDesc.digest);
      await put(toMissing, missing.digest);
    });

    it('tag list ?n= returns exactly n tags, and ?n=&last= at most n', async () => {
      const all = (await tagList(NS)).tags;
      const n = Math.floor(all.length / 2);
      const page = (await tagList(NS, `?n=${n}`)).tags;
      expect(page).toHaveLength(n);
      const next = await tagList(NS, `?${new URLSearchParams({ n: String(n), last: page[n - 1]! })}`);
      expectStatus(next.reply, 200);
      expect(next.tags.length).toBeLessThanOrEqual(n);
    });

    it('referrers of the subject: all 5, each with its one annotation', async () => {
      const { manifests } = await referrers(NS, subjectDesc.digest);
      expect(manifests).toHaveLength(5);
      for (const m of manifests) expect(m.annotations).toEqual({ 'org.opencontainers.conformance.test': annotated.get(m.digest) });
    });

    it('referrers ?artifactType= : the 2 of that type, OCI-Filters-Applied exactly "artifactType"', async () => {
      const { reply, manifests } = await referrers(NS, subjectDesc.digest, typeA);
      expectHeader(reply, 'oci-filters-applied', 'artifactType');
      expect(manifests).toHaveLength(2);
      for (const m of manifests) expect(m.annotations).toEqual({ 'org.opencontainers.conformance.test': annotated.get(m.digest) });
    });

    it('referrers of a manifest never pushed: the one referrer pushed to it', async () => {
      const { manifests } = await referrers(NS, missing.digest);
      expect(manifests.map((m) => m.digest)).toEqual([digestOf(toMissing)]);
    });

    it('teardown: DELETE of every manifest answers 202', async () => {
      await everyOne([...before, refIndex, subject, ...after, toMissing], (b) => digestOf(b), (b) => deleteManifest(NS, digestOf(b)));
    });
  });

  describe('content management', () => {
    let numTags = 0;
    const managed = imageOf(blobOf(Buffer.from(JSON.stringify({ author: 'legacy management', architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }))), {
      mediaType: MT.ociImage,
    });
    const managedConfig = JSON.parse(managed.toString('utf8')) as { config: { digest: string; data: string } };
    it('setup: push a tag and count the tags', async () => {
      await pushAny(NS, managedConfig.config.digest, Buffer.from(managedConfig.config.data, 'base64'));
      expectStatus(await client.call('PUT', manifestPath(NS, 'tagtest0'), { headers: { 'content-type': MT.ociImage }, body: managed }), 201);
      numTags = (await tagList(NS)).tags.length;
    });
    it('DELETE of a tag answers 202', async () => {
      expectStatus(await client.call('DELETE', manifestPath(NS, 'tagtest0')), 202);
    });
    it('DELETE of the manifest by digest answers 202 (or 404), and GET then answers 404', async () => {
      expectStatus(await client.call('DELETE', manifestPath(NS, digestOf(managed))), 202, 404);
      expectStatus(await client.call('GET', manifestPath(NS, digestOf(managed))), 404);
    });
    it('the tag list has one tag fewer', async () => {
      expect((await tagList(NS)).tags).toHaveLength(numTags - 1);
    });
    it('DELETE of blobs answers 202, and GET then answers 404', async () => {
      for (const digest of [managedConfig.config.digest, layer.digest]) {
        expectStatus(await client.call('DELETE', blobPath(NS, digest)), 202);
        expectStatus(await client.call('GET', blobPath(NS, digest)), 404);
      }
    });
  });
});
