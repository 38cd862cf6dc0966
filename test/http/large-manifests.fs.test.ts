/**
 * Manifests with more references than one SQL statement can bind: an image with 11,000
 * layers and an index of 11,000 manifests (about 1.3 MB each, within the 4 MiB limit; the
 * rows of 11,000 references exceed both SQLite's 32,766 and PostgreSQL's 65,535 bound values
 * for a single insert). Each is pushed and pulled over HTTP, listed through the API, deleted
 * and garbage-collected, on both dialects.
 *
 * What they reference is seeded directly, as the push path would have recorded it (bytes at
 * their keys, rows in batches), because 11,000 pushes over HTTP would take minutes: the
 * manifests under test go through the real push path.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKey } from '../../src/storage/index.js';
import { digestOf, startHarness, type Harness } from '../harness.js';

const COUNT = 11_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar';

interface Blob {
  digest: string;
  size: number;
}

let h: Harness;
let jwt: string;
let repositoryId: string;

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function inChunks<T>(items: readonly T[], work: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += 500) await work(items.slice(i, i + 500));
}

/** Blobs as a push leaves them: bytes at their key, a blobs row, a link into the repository. */
async function seedBlobs(contents: Buffer[]): Promise<Blob[]> {
  const blobs = contents.map((c) => ({ digest: digestOf(c), size: c.length, bytes: c }));
  // Plain writes: durability (the driver's fsyncs) is not what these tests are about.
  if (h.ctx.config.storage.driver !== 'filesystem') throw new Error('blobs are seeded as files: run on filesystem storage');
  const root = h.ctx.config.storage.root;
  await pool(blobs, 32, async (b) => {
    const file = join(root, blobKey(b.digest));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, b.bytes);
  });
  const now = Date.now();
  await inChunks(blobs, (chunk) => h.ctx.db.insertInto('blobs').values(chunk.map((b) => ({ digest: b.digest, size: b.size, uncompressed_size: b.size, created_at: now }))).execute());
  await inChunks(blobs, (chunk) => h.ctx.db.insertInto('repository_blobs').values(chunk.map((b) => ({ repository_id: repositoryId, digest: b.digest, created_at: now }))).execute());
  return blobs.map(({ digest, size }) => ({ digest, size }));
}

/** Image manifests (config only) as a push leaves them: bytes, blob and link, manifest row, its ref. */
async function seedManifests(configs: Blob[]): Promise<Buffer[]> {
  const children = configs.map((c) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...c }, layers: [] })));
  await seedBlobs(children);
  const now = Date.now();
  const rows = children.map((bytes, i) => ({ id: randomUUID(), bytes, config: configs[i]! }));
  await inChunks(rows, (chunk) =>
    h.ctx.db
      .insertInto('manifests')
      .values(
        chunk.map((m) => ({
          id: m.id,
          repository_id: repositoryId,
          digest: digestOf(m.bytes),
          media_type: OCI_MANIFEST,
          artifact_type: null,
          subject_digest: null,
          annotations: null,
          size: m.bytes.length,
          blobs_size: m.config.size,
          created_at: now,
          updated_at: now,
          touched_at: now,
        })),
      )
      .execute(),
  );
  await inChunks(rows, (chunk) =>
    h.ctx.db
      .insertInto('manifest_refs')
      .values(chunk.map((m) => ({ manifest_id: m.id, kind: 'blob', digest: m.config.digest, size: m.config.size, media_type: OCI_CONFIG, position: 0 })))
      .execute(),
  );
  return children;
}

function distinctContents(label: string): Buffer[] {
  return Array.from({ length: COUNT }, (_, i) => Buffer.from(`{"${label}":${i},"nonce":"${randomBytes(6).toString('hex')}"}`));
}

beforeAll(async () => {
  h = await startHarness({ gcGrace: '1s', rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  await h.createRegistry('big');
  jwt = await h.jwt(h.token, 'repository:big/app:pull,push,delete');
  repositoryId = (await h.ctx.repositories.ensure((await h.ctx.registries.byName('big'))!.id, 'app')).id;
});
afterAll(() => h?.close());

/** The status of a response whose body was read to the end (an unread body holds its connection). */
async function statusOf(response: Promise<Response>): Promise<number> {
  const res = await response;
  await res.arrayBuffer();
  return res.status;
}

async function put(reference: string, bytes: Buffer, mediaType: string): Promise<Response> {
  return h.registry(`/v2/big/app/manifests/${reference}`, { method: 'PUT', auth: jwt, body: bytes, headers: { 'content-type': mediaType } });
}

async function pull(reference: string, mediaType: string): Promise<Buffer> {
  const res = await h.registry(`/v2/big/app/manifests/${reference}`, { auth: jwt, headers: { accept: mediaType } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function refsOf(digest: string): Promise<number> {
  const row = await h.ctx.db
    .selectFrom('manifest_refs as r')
    .innerJoin('manifests as m', 'm.id', 'r.manifest_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('m.digest', '=', digest)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function count(table: 'blobs' | 'manifests' | 'repository_blobs' | 'manifest_refs'): Promise<number> {
  return Number((await h.ctx.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

/** Deletes by digest over HTTP, then collects (the API's run, the worker's engine) after the 1 s grace. */
async function deleteAndCollect(digest: string): Promise<{ status: string; blobs_deleted: number }> {
  expect(await statusOf(h.registry(`/v2/big/app/manifests/${digest}`, { method: 'DELETE', auth: jwt }))).toBe(202);
  expect(await statusOf(h.registry(`/v2/big/app/manifests/${digest}`, { auth: jwt }))).toBe(404);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const started = await h.api('/v2/registries/big/garbage-collection', { method: 'POST', body: JSON.stringify({ type: 'untagged manifests and unreferenced blobs' }) });
  expect(started.status).toBe(201);
  const { garbage_collection: run } = (await started.json()) as { garbage_collection: { uuid: string } };
  expect(await h.ctx.gc.runPending()).toBe(1);
  const listed = (await (await h.api('/v2/registries/big/garbage-collections')).json()) as { garbage_collections: { uuid: string; status: string; blobs_deleted: number }[] };
  return listed.garbage_collections.find((g) => g.uuid === run.uuid)!;
}

describe(`an image with ${COUNT} layers`, () => {
  it('is pushed, pulled, listed, deleted and collected', async () => {
    const blobs = await seedBlobs(distinctContents('layer'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: blobs[0]!.digest, size: blobs[0]!.size },
        layers: blobs.map((b) => ({ mediaType: LAYER, digest: b.digest, size: b.size })),
      }),
    );
    expect(manifest.length).toBeLessThan(4 * 1024 * 1024);
    const digest = digestOf(manifest);
    const pushed = await put('layers', manifest, OCI_MANIFEST);
    expect(pushed.status, await pushed.text()).toBe(201);
    expect(await refsOf(digest)).toBe(COUNT + 1);
    expect((await pull('layers', OCI_MANIFEST)).equals(manifest)).toBe(true);
    expect((await pull(digest, OCI_MANIFEST)).equals(manifest)).toBe(true);

    const listed = await h.api('/v2/registries/big/repositories/app/digests');
    expect(listed.status).toBe(200);
    const { manifests } = (await listed.json()) as { manifests: { digest: string; blobs: unknown[]; tags: string[]; size_bytes: number }[] };
    expect(manifests).toHaveLength(1);
    expect(manifests[0]).toMatchObject({ digest, tags: ['layers'], size_bytes: blobs.reduce((s, b) => s + b.size, 0) + blobs[0]!.size });
    expect(manifests[0]!.blobs).toHaveLength(COUNT + 1);
    expect(await statusOf(h.api('/v2/registries/big/repositoriesV2'))).toBe(200);

    const run = await deleteAndCollect(digest);
    // The manifest's own bytes and every layer: nothing references them any more.
    expect(run).toMatchObject({ status: 'succeeded', blobs_deleted: COUNT + 1 });
    expect(await count('blobs')).toBe(0);
    expect(await count('repository_blobs')).toBe(0);
    expect(await count('manifest_refs')).toBe(0);
    for (const b of [blobs[0]!, blobs[COUNT - 1]!, { digest }]) expect(await h.ctx.driver.stat(blobKey(b.digest))).toBeUndefined();
  }, 180_000);
});

describe(`an index of ${COUNT} manifests`, () => {
  it('is pushed, pulled, listed, deleted and collected', async () => {
    const children = await seedManifests(await seedBlobs(distinctContents('config')));
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: children.map((c, i) => ({ mediaType: OCI_MANIFEST, digest: digestOf(c), size: c.length, platform: { os: 'linux', architecture: `arch${i}` } })),
      }),
    );
    expect(index.length).toBeLessThan(4 * 1024 * 1024);
    const digest = digestOf(index);
    const pushed = await put('multi', index, OCI_INDEX);
    expect(pushed.status, await pushed.text()).toBe(201);
    expect(await refsOf(digest)).toBe(COUNT);
    expect((await pull('multi', OCI_INDEX)).equals(index)).toBe(true);
    expect((await pull(digestOf(children[COUNT - 1]!), OCI_MANIFEST)).equals(children[COUNT - 1]!)).toBe(true);

    const tags = await h.api('/v2/registries/big/repositories/app/tags');
    expect(tags.status).toBe(200);
    const listedTags = ((await tags.json()) as { tags: { tag: string; size_bytes: number }[] }).tags;
    // The index's size sums its children's, every one of them known.
    expect(listedTags).toEqual([expect.objectContaining({ tag: 'multi' })]);
    expect(await statusOf(h.api('/v2/registries/big/repositories/app/digests?per_page=200'))).toBe(200);
    expect(await statusOf(h.api('/v2/registries/big/repositoriesV2'))).toBe(200);

    const run = await deleteAndCollect(digest);
    // The index, its children (untagged, no parent left) and their configs.
    expect(run).toMatchObject({ status: 'succeeded', blobs_deleted: 1 + 2 * COUNT });
    expect(await count('manifests')).toBe(0);
    expect(await count('blobs')).toBe(0);
    expect(await h.ctx.driver.stat(blobKey(digestOf(children[0]!)))).toBeUndefined();
  }, 180_000);
});
