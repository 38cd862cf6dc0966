/**
 * Garbage collection through DigitalOcean's API (the engine has its own tests in test/gc):
 * start, one active run per registry, get active, list newest first, cancel, and runs executed
 * by the worker (`ctx.gc.runPending()`, what `berth serve`'s worker calls) with a 1 s grace
 * period, reaching `succeeded` with exact `blobs_deleted` / `freed_bytes` and lowering usage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKey } from '../../src/storage/index.js';
import { violations } from '../do-contract.js';
import { startHarness, type Harness } from '../harness.js';
import { distinctBytes, eventually, expectError, gzipLayer, pushGzipImage, sleep, type PushedImage } from './support.js';

interface GcBody {
  uuid: string;
  registry_name: string;
  status: string;
  created_at: string;
  updated_at: string;
  blobs_deleted: number;
  freed_bytes: number;
  type: string;
}

const GRACE_MS = 1_000;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ gcGrace: '1s', rateLimitPerMinute: '100000', rateLimitPerHour: '1000000' });
  await h.createRegistry('gc-reg');
  await h.createRegistry('gc-other');
});
afterAll(() => h?.close());

async function gcCall(method: string, path: string, body: unknown, status: number, operationId: string): Promise<GcBody> {
  const res = await h.api(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBe(status);
  const json = JSON.parse(text) as { garbage_collection: GcBody };
  expect(violations(operationId, status, json)).toEqual([]);
  expect(Object.keys(json)).toEqual(['garbage_collection']);
  return json.garbage_collection;
}

async function listRuns(prefix: string, registry: string): Promise<{ runs: GcBody[]; total: number }> {
  const res = await h.api(`${prefix}/${registry}/garbage-collections`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { garbage_collections: GcBody[]; meta: { total: number } };
  expect(violations(prefix === '/v2/registries' ? 'registries_list_garbageCollections' : 'registry_list_garbageCollections', 200, body)).toEqual([]);
  return { runs: body.garbage_collections, total: body.meta.total };
}

async function usageOf(name: string): Promise<number> {
  return ((await (await h.api(`/v2/registries/${name}`)).json()) as { registry: { storage_usage_bytes: number } }).registry.storage_usage_bytes;
}

async function stored(digest: string): Promise<boolean> {
  return (await h.ctx.driver.stat(blobKey(digest))) !== undefined;
}

describe('the run lifecycle through the API', () => {
  it('start (201 requested), one active run per registry (409), get active, list newest first, cancel', async () => {
    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const op = prefix === '/v2/registries' ? 'registries' : 'registry';
      const none = await expectError(await h.api(`${prefix}/gc-reg/garbage-collection`), 404, 'not_found', `${op}_get_garbageCollection`);
      expect(none.message).toContain('gc-reg');
    }

    // dots starts a run with no body at all (content-length 0, no content type).
    const before = Date.now();
    const res = await fetch(`${h.apiUrl}/v2/registries/gc-reg/garbage-collection`, { method: 'POST', headers: { authorization: `Bearer ${h.token}` } });
    expect(res.status).toBe(201);
    const first = ((await res.json()) as { garbage_collection: GcBody }).garbage_collection;
    expect(first).toEqual({
      uuid: first.uuid,
      registry_name: 'gc-reg',
      status: 'requested',
      created_at: first.created_at,
      updated_at: first.updated_at,
      blobs_deleted: 0,
      freed_bytes: 0,
      type: 'unreferenced blobs only',
    });
    expect(first.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(Date.parse(first.created_at)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

    // One active run per registry, whichever tree or type asks.
    for (const [prefix, body] of [
      ['/v2/registries', undefined],
      ['/v2/registry', { type: 'untagged manifests and unreferenced blobs' }],
    ] as const) {
      const op = prefix === '/v2/registries' ? 'registries' : 'registry';
      const conflict = await expectError(
        await h.api(`${prefix}/gc-reg/garbage-collection`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) }),
        409,
        'conflict',
        `${op}_run_garbageCollection`,
      );
      expect(conflict.message).toContain(first.uuid);
    }
    // Another registry has its own.
    const elsewhere = await gcCall('POST', '/v2/registries/gc-other/garbage-collection', {}, 201, 'registries_run_garbageCollection');
    expect(elsewhere.registry_name).toBe('gc-other');

    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const op = prefix === '/v2/registries' ? 'registries' : 'registry';
      expect(await gcCall('GET', `${prefix}/gc-reg/garbage-collection`, undefined, 200, `${op}_get_garbageCollection`)).toEqual(first);
    }

    // Cancelling a requested run ends it at once; cancelling again changes nothing.
    const cancelled = await gcCall('PUT', `/v2/registries/gc-reg/garbage-collection/${first.uuid}`, { cancel: true }, 200, 'registries_update_garbageCollection');
    expect([cancelled.uuid, cancelled.status, cancelled.blobs_deleted, cancelled.freed_bytes]).toEqual([first.uuid, 'cancelled', 0, 0]);
    expect((await gcCall('PUT', `/v2/registry/gc-reg/garbage-collection/${first.uuid}`, { cancel: true }, 200, 'registry_update_garbageCollection')).status).toBe('cancelled');
    await expectError(await h.api('/v2/registries/gc-reg/garbage-collection'), 404, 'not_found');

    // A new run may start now, with the type asked for (legacy tree, as doctl sends it).
    const second = await gcCall('POST', '/v2/registry/gc-reg/garbage-collection', { type: 'untagged manifests and unreferenced blobs' }, 201, 'registry_run_garbageCollection');
    expect([second.status, second.type]).toEqual(['requested', 'untagged manifests and unreferenced blobs']);
    expect(second.uuid).not.toBe(first.uuid);
    // cancel:false just reads the run.
    expect(await gcCall('PUT', `/v2/registries/gc-reg/garbage-collection/${second.uuid}`, { cancel: false }, 200, 'registries_update_garbageCollection')).toEqual(second);

    for (const prefix of ['/v2/registries', '/v2/registry']) {
      const { runs, total } = await listRuns(prefix, 'gc-reg');
      expect(total).toBe(2);
      expect(runs.map((r) => [r.uuid, r.status])).toEqual([
        [second.uuid, 'requested'],
        [first.uuid, 'cancelled'],
      ]);
    }
    expect((await listRuns('/v2/registries', 'gc-other')).runs.map((r) => r.uuid)).toEqual([elsewhere.uuid]);

    // Runs belong to their registry: another registry's uuid, or an unknown one, is not found.
    await expectError(await h.api(`/v2/registries/gc-other/garbage-collection/${second.uuid}`, { method: 'PUT', body: JSON.stringify({ cancel: true }) }), 404, 'not_found');
    await expectError(
      await h.api('/v2/registries/gc-reg/garbage-collection/00000000-0000-4000-8000-000000000000', { method: 'PUT', body: JSON.stringify({ cancel: true }) }),
      404,
      'not_found',
      'registries_update_garbageCollection',
    );
    expect((await gcCall('GET', '/v2/registries/gc-reg/garbage-collection', undefined, 200, 'registries_get_garbageCollection')).uuid).toBe(second.uuid);

    for (const [registry, uuid] of [
      ['gc-reg', second.uuid],
      ['gc-other', elsewhere.uuid],
    ]) {
      expect((await gcCall('PUT', `/v2/registries/${registry}/garbage-collection/${uuid}`, { cancel: true }, 200, 'registries_update_garbageCollection')).status).toBe('cancelled');
    }
    // The worker finds nothing to do.
    expect(await h.ctx.gc.runPending()).toBe(0);
  });
});

describe('runs executed by the worker', () => {
  let jwt: string;
  let shared: { bytes: Buffer; uncompressed: number };
  let doomed: PushedImage;
  let kept: PushedImage;
  let untagged: PushedImage;
  let current: PushedImage;
  let shortLived: PushedImage;

  const exactUsage = async () => h.ctx.usage.registryBytes((await h.ctx.registries.byName('gc-reg'))!.id);
  const digests = async () =>
    ((await (await h.api('/v2/registries/gc-reg/repositories/app/digests')).json()) as { manifests: { digest: string; tags: string[] }[] }).manifests.map((m) => [m.digest, m.tags]);

  // Everything is pushed up front and left to age past the grace period once.
  beforeAll(async () => {
    jwt = await h.jwt(h.token, 'repository:gc-reg/app:pull,push', 'repository:gc-other/app:pull,push');
    shared = gzipLayer(20_000);
    const alsoElsewhere = gzipLayer(15_000);
    doomed = await pushGzipImage(h, jwt, 'gc-reg/app', 'doomed', [gzipLayer(40_000), shared, alsoElsewhere]);
    kept = await pushGzipImage(h, jwt, 'gc-reg/app', 'kept', [shared]);
    await pushGzipImage(h, jwt, 'gc-other/app', 'x', [alsoElsewhere]);
    // "moving" is pushed twice: the first image stays behind untagged.
    untagged = await pushGzipImage(h, jwt, 'gc-reg/app', 'moving', [gzipLayer(25_000)]);
    await sleep(3);
    current = await pushGzipImage(h, jwt, 'gc-reg/app', 'moving', [gzipLayer(5_000)]);
    shortLived = await pushGzipImage(h, jwt, 'gc-reg/app', 'short-lived', [gzipLayer(8_000)]);
    await sleep(GRACE_MS + 100);
  });

  it('collects exactly the deleted image’s own blobs, reports blobs_deleted and freed_bytes, and usage drops', async () => {
    const total = distinctBytes(doomed, kept, untagged, current, shortLived);
    expect(await exactUsage()).toBe(total);
    expect(await eventually(() => usageOf('gc-reg'), total)).toBe(total);
    const otherUsage = await usageOf('gc-other');

    // Deleting the manifest removes it (and its own bytes from the usage) at once; its blobs wait for GC.
    expect((await h.api(`/v2/registries/gc-reg/repositories/app/digests/${doomed.manifest}`, { method: 'DELETE' })).status).toBe(204);
    expect(await eventually(() => usageOf('gc-reg'), total - doomed.manifestSize)).toBe(total - doomed.manifestSize);

    const run = await gcCall('POST', '/v2/registries/gc-reg/garbage-collection', undefined, 201, 'registries_run_garbageCollection');
    expect(await h.ctx.gc.runPending()).toBe(1);
    const done = await gcCall('PUT', `/v2/registries/gc-reg/garbage-collection/${run.uuid}`, { cancel: false }, 200, 'registries_update_garbageCollection');
    // Deleted from storage: the config, the layer only it used, and the manifest's own bytes.
    // The shared layer is still used by "kept"; the other layer is still linked in gc-other;
    // the untagged image is still referenced by its manifest (this type keeps manifests).
    const [ownLayer, sharedLayer, elsewhereLayer] = doomed.layers;
    expect(done.status).toBe('succeeded');
    expect(done.blobs_deleted).toBe(3);
    expect(done.freed_bytes).toBe(doomed.config.size + ownLayer!.size + doomed.manifestSize);
    expect(Date.parse(done.updated_at)).toBeGreaterThanOrEqual(Date.parse(run.created_at));
    await expectError(await h.api('/v2/registries/gc-reg/garbage-collection'), 404, 'not_found');
    expect((await listRuns('/v2/registry', 'gc-reg')).runs[0]).toEqual(done);

    expect(await stored(doomed.config.digest)).toBe(false);
    expect(await stored(ownLayer!.digest)).toBe(false);
    expect(await stored(doomed.manifest)).toBe(false);
    expect(await stored(elsewhereLayer!.digest)).toBe(true);
    expect(await stored(sharedLayer!.digest)).toBe(true);
    expect(await stored(untagged.layers[0]!.digest)).toBe(true);
    // What was kept is whole.
    expect((await h.registry('/v2/gc-reg/app/manifests/kept', { auth: jwt })).status).toBe(200);
    const layer = await h.registry(`/v2/gc-reg/app/blobs/${kept.layers[0]!.digest}`, { auth: jwt });
    expect(layer.status).toBe(200);
    expect(Buffer.from(await layer.arrayBuffer()).equals(shared.bytes)).toBe(true);
    expect((await h.registry(`/v2/gc-other/app/blobs/${elsewhereLayer!.digest}`, { auth: jwt })).status).toBe(200);

    // Usage follows the collection; gc-other is unchanged. The exact figure changes at once; the
    // reported one after a refresh, here the periodic full refresh `berth serve` runs every 60 s
    // (the harness runs none; see the last two tests).
    const expected = distinctBytes(kept, untagged, current, shortLived);
    expect(await exactUsage()).toBe(expected);
    await h.ctx.usage.flush(true);
    expect(await usageOf('gc-reg')).toBe(expected);
    expect(await usageOf('gc-other')).toBe(otherUsage);
  });

  it('types decide what is collected: untagged manifests only, then unreferenced blobs', async () => {
    expect(await digests()).toEqual([
      [shortLived.manifest, ['short-lived']],
      [current.manifest, ['moving']],
      [untagged.manifest, []],
      [kept.manifest, ['kept']],
    ]);

    // Untagged manifests only: the manifest goes (at once for the registry listener), its blobs stay.
    const manifestsOnly = await gcCall('POST', '/v2/registry/gc-reg/garbage-collection', { type: 'untagged manifests only' }, 201, 'registry_run_garbageCollection');
    expect(await h.ctx.gc.runPending()).toBe(1);
    const m = (await listRuns('/v2/registries', 'gc-reg')).runs[0]!;
    expect([m.uuid, m.status, m.type, m.blobs_deleted, m.freed_bytes]).toEqual([manifestsOnly.uuid, 'succeeded', 'untagged manifests only', 0, 0]);
    expect(await digests()).toEqual([
      [shortLived.manifest, ['short-lived']],
      [current.manifest, ['moving']],
      [kept.manifest, ['kept']],
    ]);
    expect((await h.registry(`/v2/gc-reg/app/manifests/${untagged.manifest}`, { auth: jwt })).status).toBe(404);
    expect(await stored(untagged.layers[0]!.digest)).toBe(true);
    expect(await stored(untagged.manifest)).toBe(true);

    // Then the blobs: exactly the untagged image's config, layer and manifest bytes.
    const sweep = await gcCall('POST', '/v2/registries/gc-reg/garbage-collection', { type: 'untagged manifests and unreferenced blobs' }, 201, 'registries_run_garbageCollection');
    expect(await h.ctx.gc.runPending()).toBe(1);
    const s = (await listRuns('/v2/registries', 'gc-reg')).runs[0]!;
    expect([s.uuid, s.status, s.blobs_deleted, s.freed_bytes]).toEqual([sweep.uuid, 'succeeded', 3, untagged.config.size + untagged.layers[0]!.size + untagged.manifestSize]);
    for (const digest of [untagged.config.digest, untagged.layers[0]!.digest, untagged.manifest]) expect(await stored(digest)).toBe(false);
    const expected = distinctBytes(kept, current, shortLived);
    expect(await exactUsage()).toBe(expected);
    await h.ctx.usage.flush(true);
    expect(await usageOf('gc-reg')).toBe(expected);

    // A finished run cannot be cancelled.
    const error = await expectError(
      await h.api(`/v2/registries/gc-reg/garbage-collection/${sweep.uuid}`, { method: 'PUT', body: JSON.stringify({ cancel: true }) }),
      412,
      'precondition_failed',
      'registries_update_garbageCollection',
    );
    expect(error.message).toContain('succeeded');
    expect((await listRuns('/v2/registries', 'gc-reg')).total).toBe(5);
  });

  // Known gap (reported): a run's unlinking does not mark the registry's usage for refresh, so
  // without `berth serve`'s 60 s full refresh the reported storage_usage_bytes stays stale.
  // The issue asks for usage "within seconds of pushes and deletions". When the worker (or the
  // GC service) marks the registry dirty after a run, the second test starts passing: drop `.fails`.
  let afterCollection = 0;
  it('a collection lowers the exact usage at once', async () => {
    const before = await exactUsage();
    expect(await usageOf('gc-reg')).toBe(before);
    expect((await h.api(`/v2/registries/gc-reg/repositories/app/digests/${shortLived.manifest}`, { method: 'DELETE' })).status).toBe(204);
    // The deletion's own refresh has happened before the collection starts.
    expect(await eventually(() => usageOf('gc-reg'), before - shortLived.manifestSize)).toBe(before - shortLived.manifestSize);
    await gcCall('POST', '/v2/registries/gc-reg/garbage-collection', undefined, 201, 'registries_run_garbageCollection');
    expect(await h.ctx.gc.runPending()).toBe(1);
    afterCollection = before - shortLived.manifestSize - shortLived.config.size - shortLived.layers[0]!.size;
    expect(await exactUsage()).toBe(afterCollection);
  });

  it('the reported usage follows a collection within seconds, without the periodic full refresh', async () => {
    expect(afterCollection).toBeGreaterThan(0);
    expect(await eventually(() => usageOf('gc-reg'), afterCollection, 1_500)).toBe(afterCollection);
  });
});
