import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import type { Registry } from '../../src/db/index.js';
import type { AppError } from '../../src/errors/index.js';
import { GarbageCollectionService, GC_STATUSES, type GcOptions } from '../../src/gc/index.js';
import { digestOf } from '../../src/oci/index.js';
import { blobKey, type BlobDriver } from '../../src/storage/index.js';
import { age, newRegistry, openContext, pausedListing, pushImage, pushIndex, readOnly, repository, state, upload, waitFor } from './fixtures.js';

const GRACE = 60_000;
const OLD = 10 * GRACE;

let ctx: AppContext;
let registry: Registry;
let repo: string;

beforeEach(async () => {
  ctx = await openContext();
  registry = await newRegistry(ctx, 'gc');
  repo = await repository(ctx, registry, 'app');
});
afterEach(() => ctx.close());

function service(options: Partial<GcOptions> = {}, driver: BlobDriver = ctx.driver): GarbageCollectionService {
  return new GarbageCollectionService(ctx.db, driver, ctx.logger, { nodeId: 'test', graceMs: GRACE, leaseMs: 5_000, readOnlyMode: false, writeTokenTtlMs: 0, ...options });
}

async function sizes(...digests: string[]): Promise<number> {
  let total = 0;
  for (const d of digests) total += (await ctx.driver.stat(blobKey(d)))!.size;
  return total;
}


/** The statuses a run is seen in, sampled while `work` runs. */
async function watchStatuses(gc: GarbageCollectionService, id: string, work: Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  let done = false;
  void work.finally(() => (done = true));
  while (!done) {
    const { status } = await gc.get(registry.id, id);
    if (seen.at(-1) !== status) seen.push(status);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await work;
  const { status } = await gc.get(registry.id, id);
  if (seen.at(-1) !== status) seen.push(status);
  return seen;
}

describe('unreferenced blobs only', () => {
  it('deletes old unreferenced blobs, keeps referenced, untagged-manifest and young ones, and counts exactly', async () => {
    const tagged = await pushImage(ctx, repo, { tag: 'v1' });
    const untagged = await pushImage(ctx, repo);
    const dangling = await upload(ctx, repo, randomBytes(3000));
    await age(ctx, OLD);
    const young = await upload(ctx, repo, randomBytes(500));
    const expectedBytes = await sizes(dangling.digest);

    const gc = service();
    const run = await gc.start(registry);
    expect(run).toMatchObject({ type: 'unreferenced blobs only', status: 'requested', blobs_deleted: 0, freed_bytes: 0, registry_name: 'gc' });
    expect(await gc.runPending()).toBe(1);

    const done = await gc.get(registry.id, run.id);
    expect(done).toMatchObject({ status: 'succeeded', blobs_deleted: 1, freed_bytes: expectedBytes, lease_owner: null });
    expect(await state(ctx, dangling.digest)).toEqual({ bytes: false, row: false, links: [], manifests: [] });
    for (const kept of [tagged, tagged.config, ...tagged.layers, untagged, untagged.config, ...untagged.layers, young]) {
      expect(await state(ctx, kept.digest)).toMatchObject({ bytes: true, row: true, links: [repo] });
    }
    expect(await gc.active(registry.id)).toBeUndefined();
  });

  it('goes requested → scanning manifests → deleting unreferenced blobs → succeeded online', async () => {
    await upload(ctx, repo, randomBytes(100));
    await age(ctx, OLD);
    const { driver, paused, release } = pausedListing(ctx);
    const gc = service({}, driver);
    const run = await gc.start(registry);
    expect(run.status).toBe('requested');
    const tick = gc.runPending();
    const seen = watchStatuses(gc, run.id, tick);
    await paused;
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'deleting unreferenced blobs', blobs_deleted: 1 });
    expect(await readOnly(ctx, registry.id)).toBe(0);
    release();
    const statuses = await seen;
    expect(statuses.at(-1)).toBe('succeeded');
    // Whatever was sampled is a real status, in the documented order, never the read-only wait.
    const order = ['requested', 'scanning manifests', 'deleting unreferenced blobs', 'succeeded'];
    expect(statuses.every((st) => (GC_STATUSES as readonly string[]).includes(st) && order.includes(st))).toBe(true);
    expect(statuses.map((st) => order.indexOf(st))).toEqual(statuses.map((st) => order.indexOf(st)).sort((a, b) => a - b));
  });

  it('unlinks a blob shared with another registry without freeing it', async () => {
    const other = await newRegistry(ctx, 'other');
    const otherRepo = await repository(ctx, other, 'lib');
    const shared = randomBytes(2000);
    await upload(ctx, repo, shared); // unreferenced here
    const image = await pushImage(ctx, otherRepo, { tag: 'v1', layers: [await upload(ctx, otherRepo, shared)] });
    await age(ctx, OLD);

    const gc = service();
    const run = await gc.start(registry);
    await gc.runPending();
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: 0, freed_bytes: 0 });
    expect(await state(ctx, image.layers[0]!.digest)).toEqual({ bytes: true, row: true, links: [otherRepo], manifests: [] });
  });

  it('keeps a just-uploaded blob whose manifest is not pushed yet, so the push completes', async () => {
    await age(ctx, OLD);
    const layer = await upload(ctx, repo, randomBytes(1500));
    const gc = service();
    await gc.start(registry);
    await gc.runPending();
    expect(await state(ctx, layer.digest)).toMatchObject({ bytes: true, row: true, links: [repo] });
    const image = await pushImage(ctx, repo, { tag: 'late', layers: [layer] });
    expect(image.layers[0]!.digest).toBe(layer.digest);
  });

  it('sweeps old orphaned bytes (no row) and counts them, leaving young ones and foreign keys alone', async () => {
    const orphan = randomBytes(1234);
    await ctx.driver.put(blobKey(digestOf(orphan)), orphan);
    await ctx.driver.put('blobs/sha256/ab/not-a-digest.tmp', Buffer.from('junk'));
    await age(ctx, OLD);
    const youngOrphan = randomBytes(99);
    await ctx.driver.put(blobKey(digestOf(youngOrphan)), youngOrphan);

    const gc = service();
    const run = await gc.start(registry);
    await gc.runPending();
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: 1, freed_bytes: 1234 });
    expect(await ctx.driver.stat(blobKey(digestOf(orphan)))).toBeUndefined();
    expect(await ctx.driver.stat(blobKey(digestOf(youngOrphan)))).toEqual({ size: 99 });
    expect(await ctx.driver.stat('blobs/sha256/ab/not-a-digest.tmp')).toEqual({ size: 4 });
    expect(await state(ctx, digestOf(youngOrphan))).toMatchObject({ row: false });
  });

  it('deletes blobs of a deleted registry and repository links in other registries stay', async () => {
    const other = await newRegistry(ctx, 'doomed');
    const doomed = await pushImage(ctx, await repository(ctx, other, 'x'), { tag: 'v1' });
    await age(ctx, OLD);
    const expected = await sizes(doomed.digest, doomed.config.digest, doomed.layers[0]!.digest);
    await ctx.registries.delete(other.team_id, 'doomed');

    const gc = service();
    const run = await gc.start(registry);
    await gc.runPending();
    // Blob deletion is global: bytes nobody links anymore are freed by whichever run finds them.
    expect(await gc.get(registry.id, run.id)).toMatchObject({ blobs_deleted: 3, freed_bytes: expected });
  });
});

describe('untagged manifests', () => {
  async function scene() {
    const tagged = await pushImage(ctx, repo, { tag: 'v1' });
    const untagged = await pushImage(ctx, repo);
    // An untagged index and its untagged child: both go (the child once the index is gone).
    const orphanChild = await pushImage(ctx, repo);
    const untaggedIndex = await pushIndex(ctx, repo, [orphanChild]);
    // A tagged index keeps its untagged child.
    const keptChild = await pushImage(ctx, repo);
    const taggedIndex = await pushIndex(ctx, repo, [keptChild], 'multi');
    // A signature of the tagged image stays; a signature of the untagged image goes with it.
    const signature = await pushImage(ctx, repo, { subject: tagged, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
    const strayed = await pushImage(ctx, repo, { subject: untagged, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
    // A referrer whose subject was never pushed (or is gone) and has no tag goes too.
    const headless = await pushImage(ctx, repo, { subject: { digest: digestOf(Buffer.from('nothing')), size: 7, mediaType: 'application/vnd.oci.image.manifest.v1+json' } });
    await age(ctx, OLD);
    // Pushed just now: protected by the grace period (its index may be on its way).
    const fresh = await pushImage(ctx, repo);
    return { tagged, untagged, orphanChild, untaggedIndex, keptChild, taggedIndex, signature, strayed, headless, fresh };
  }

  it('untagged manifests only: removes untagged manifests iteratively, keeps index children and referrers, deletes no blob', async () => {
    const s = await scene();
    const gc = service();
    const run = await gc.start(registry, 'untagged manifests only');
    const seen = await watchStatuses(gc, run.id, gc.runPending());
    expect(seen).not.toContain('deleting unreferenced blobs');
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: 0, freed_bytes: 0 });

    for (const gone of [s.untagged, s.orphanChild, s.untaggedIndex, s.strayed, s.headless]) {
      const st = await state(ctx, gone.digest);
      expect(st.manifests, gone.digest).toEqual([]);
      expect(st.links, gone.digest).toEqual([]); // its own link went with it
      expect(st.bytes).toBe(true); // bytes are for a blob collection to judge
      const refs = await ctx.db.selectFrom('manifest_refs as r').innerJoin('manifests as m', 'm.id', 'r.manifest_id').select('r.digest').where('m.digest', '=', gone.digest).execute();
      expect(refs).toEqual([]);
    }
    for (const kept of [s.tagged, s.keptChild, s.taggedIndex, s.signature, s.fresh]) {
      expect((await state(ctx, kept.digest)).manifests, kept.digest).toEqual([repo]);
    }
    // Layers of removed manifests are still linked: only a blob collection unlinks them.
    expect((await state(ctx, s.untagged.layers[0]!.digest)).links).toEqual([repo]);
  });

  it('untagged manifests and unreferenced blobs: also frees the removed manifests\' blobs, exactly', async () => {
    const s = await scene();
    const goneManifests = [s.untagged, s.orphanChild, s.untaggedIndex, s.strayed, s.headless];
    // The `{}` config of the artifacts is shared with the kept signature, so it stays.
    const goneBlobs = [
      ...goneManifests.map((m) => m.digest),
      s.untagged.config.digest,
      s.untagged.layers[0]!.digest,
      s.orphanChild.config.digest,
      s.orphanChild.layers[0]!.digest,
      s.strayed.layers[0]!.digest,
      s.headless.layers[0]!.digest,
    ];
    const expectedBytes = await sizes(...goneBlobs);

    const gc = service();
    const run = await gc.start(registry, 'untagged manifests and unreferenced blobs');
    await gc.runPending();
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: goneBlobs.length, freed_bytes: expectedBytes });
    for (const d of goneBlobs) expect(await state(ctx, d), d).toEqual({ bytes: false, row: false, links: [], manifests: [] });
    for (const kept of [s.tagged, s.keptChild, s.signature, s.fresh]) {
      for (const d of [kept.digest, kept.config.digest, ...kept.layers.map((l) => l.digest)]) {
        expect(await state(ctx, d), d).toMatchObject({ bytes: true, row: true, links: [repo] });
      }
    }
    expect(await state(ctx, s.taggedIndex.digest)).toMatchObject({ bytes: true, manifests: [repo] });
  });
});

describe('runs', () => {
  it('allows one active run per registry, also under concurrent starts', async () => {
    const gc = service();
    const other = await newRegistry(ctx, 'second');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => gc.start(registry)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as AppError).code).toBe('CONFLICT');
    await expect(gc.start(other, 'untagged manifests only')).resolves.toMatchObject({ status: 'requested' });
    expect(await gc.runPending()).toBe(2);
    const again = await gc.start(registry);
    const { runs, total } = await gc.list(registry.id, { limit: 10, offset: 0 });
    expect(total).toBe(2);
    expect(runs[0]!.id).toBe(again.id); // newest first
    expect((await gc.list(registry.id, { limit: 1, offset: 1 })).runs.map((r) => r.status)).toEqual(['succeeded']);
    await expect(gc.get(other.id, again.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(gc.start(registry, 'everything' as never)).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
  });

  it('cancels a requested run at once', async () => {
    const gc = service();
    const run = await gc.start(registry);
    expect(await gc.cancel(registry.id, run.id)).toMatchObject({ status: 'cancelled' });
    expect(await gc.runPending()).toBe(0);
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'cancelled' });
    // Idempotent; and a new run may start.
    expect(await gc.cancel(registry.id, run.id)).toMatchObject({ status: 'cancelled' });
    await expect(gc.start(registry)).resolves.toMatchObject({ status: 'requested' });
  });

  it('refuses to cancel a finished run', async () => {
    const gc = service();
    const run = await gc.start(registry);
    await gc.runPending();
    await expect(gc.cancel(registry.id, run.id)).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    await expect(gc.cancel(registry.id, 'no-such-run')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('cancels a run waiting for write JWTs and lifts read-only', async () => {
    const gc = service({ readOnlyMode: true, writeTokenTtlMs: 60_000 });
    const run = await gc.start(registry);
    expect(await gc.runPending()).toBe(0); // parked: the wait is long
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'waiting for write JWTs to expire', lease_owner: null });
    expect(await readOnly(ctx, registry.id)).toBe(1);
    expect(await gc.cancel(registry.id, run.id)).toMatchObject({ status: 'cancelling' });
    expect(await gc.runPending()).toBe(1);
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'cancelled' });
    expect(await readOnly(ctx, registry.id)).toBe(0);
  });

  it('cancels a run while it deletes blobs: the worker stops at the next step, counts stay exact', async () => {
    const dangling = await upload(ctx, repo, randomBytes(400));
    const orphan = randomBytes(600);
    await ctx.driver.put(blobKey(digestOf(orphan)), orphan);
    await age(ctx, OLD);
    const { driver, paused, release } = pausedListing(ctx);
    const gc = service({}, driver);
    const run = await gc.start(registry);
    const tick = gc.runPending();
    await paused; // unlinked blobs are deleted; the orphan sweep is about to list storage
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'deleting unreferenced blobs' });
    expect(await gc.cancel(registry.id, run.id)).toMatchObject({ status: 'cancelling' });
    release();
    expect(await tick).toBe(1);
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'cancelled', blobs_deleted: 1, freed_bytes: 400 });
    expect(await state(ctx, dangling.digest)).toMatchObject({ bytes: false, row: false });
    expect(await ctx.driver.stat(blobKey(digestOf(orphan)))).toEqual({ size: 600 }); // the sweep stopped
  });

  it('a run cancelled while its worker was gone is finished as cancelled by the next worker', async () => {
    const gc = service();
    const run = await gc.start(registry);
    await ctx.db.updateTable('gc_runs').set({ status: 'scanning manifests', lease_owner: 'crashed#1', lease_expires_at: Date.now() - 1 }).where('id', '=', run.id).execute();
    await ctx.db.updateTable('registries').set({ read_only: 1 }).where('id', '=', registry.id).execute();
    expect(await gc.cancel(registry.id, run.id)).toMatchObject({ status: 'cancelling' });
    expect(await gc.runPending()).toBe(1);
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'cancelled' });
    expect(await readOnly(ctx, registry.id)).toBe(0);
  });

  it('takes over a run whose worker crashed once its lease lapses, and never runs it twice', async () => {
    const dangling = await upload(ctx, repo, randomBytes(777));
    await age(ctx, OLD);
    const a = service({ nodeId: 'a', leaseMs: 400 });
    const b = service({ nodeId: 'b', leaseMs: 400 });
    const run = await a.start(registry);
    // A worker claimed the run, reached the deleting step and died: its lease is still live.
    await ctx.db
      .updateTable('gc_runs')
      .set({ status: 'deleting unreferenced blobs', lease_owner: 'a#dead', lease_expires_at: Date.now() + 400 })
      .where('id', '=', run.id)
      .execute();
    expect(await b.runPending()).toBe(0);
    expect(await state(ctx, dangling.digest)).toMatchObject({ bytes: true });
    await new Promise((resolve) => setTimeout(resolve, 450));
    // Two live workers race for the lapsed lease: exactly one executes the run.
    const finished = await Promise.all([a.runPending(), b.runPending()]);
    expect(finished.sort()).toEqual([0, 1]);
    expect(await a.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: 1, freed_bytes: 777, lease_owner: null });
    expect(await state(ctx, dangling.digest)).toMatchObject({ bytes: false, row: false });
  });

  it('renews its lease while working, so nobody else claims a long run', async () => {
    for (let i = 0; i < 3; i++) await upload(ctx, repo, randomBytes(50));
    await age(ctx, OLD);
    const { driver, paused, release } = pausedListing(ctx);
    const a = service({ nodeId: 'a', leaseMs: 150 }, driver);
    const b = service({ nodeId: 'b', leaseMs: 150 });
    const run = await a.start(registry);
    const tick = a.runPending();
    await paused;
    await new Promise((resolve) => setTimeout(resolve, 500)); // more than three leases
    expect(await b.runPending()).toBe(0);
    expect((await a.get(registry.id, run.id)).lease_owner).toMatch(/^a#/);
    release();
    expect(await tick).toBe(1);
    expect(await a.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: 3, freed_bytes: 150 });
  });
});

describe('read-only mode', () => {
  it('sets read_only while it waits out write JWTs, then collects and clears it', async () => {
    const dangling = await upload(ctx, repo, randomBytes(321));
    await age(ctx, OLD);
    const gc = service({ readOnlyMode: true, writeTokenTtlMs: 300 });
    const run = await gc.start(registry);
    const started = Date.now();
    const tick = gc.runPending();
    await waitFor(async () => (await gc.get(registry.id, run.id)).status === 'waiting for write JWTs to expire');
    expect(await readOnly(ctx, registry.id)).toBe(1);
    expect(await tick).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'succeeded', blobs_deleted: 1, freed_bytes: 321 });
    expect(await readOnly(ctx, registry.id)).toBe(0);
    expect(await state(ctx, dangling.digest)).toMatchObject({ bytes: false });
  });

  it('clears read_only when the run fails', async () => {
    await age(ctx, OLD);
    const broken: BlobDriver = {
      ...ctx.driver,
      // eslint-disable-next-line require-yield -- a listing that fails at once
      async *list() {
        throw new Error('storage is down');
      },
    };
    const gc = service({ readOnlyMode: true, writeTokenTtlMs: 10 }, broken);
    const run = await gc.start(registry);
    expect(await gc.runPending()).toBe(1);
    expect(await gc.get(registry.id, run.id)).toMatchObject({ status: 'failed', lease_owner: null });
    expect(await readOnly(ctx, registry.id)).toBe(0);
    await expect(gc.start(registry)).resolves.toMatchObject({ status: 'requested' });
  });
});
