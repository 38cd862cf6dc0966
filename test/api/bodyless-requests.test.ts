/**
 * Requests without a body that still say `Content-Type: application/json`, as godo (doctl) and
 * DigitalOcean's own curl examples send them: every DELETE of both trees, the garbage collection
 * start and the garbage collection update must succeed whether the empty body is framed by
 * nothing, by `Content-Length: 0` or by a zero-length chunked body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { buildRequest, rawRequest } from '../support/raw-http.js';
import { prepare } from './operation-fixtures.js';
import { expectError, fillPath, publishedOperations, type Operation } from './support.js';

let h: Harness;
let ops: Operation[];
let port: number;

beforeAll(async () => {
  h = await startHarness({ tiers: '{"professional":{"max_registries":1000}}' });
  ops = await publishedOperations(h);
  port = Number(new URL(h.apiUrl).port);
});
afterAll(() => h?.close());

const FRAMINGS = ['none', 'content-length', 'chunked'] as const;

function call(op: Operation, token: string, params: Record<string, string>, framing: (typeof FRAMINGS)[number]) {
  const path = fillPath(op.path, params);
  const headers: [string, string][] = [
    ['Host', `127.0.0.1:${port}`],
    ['Content-Type', 'application/json'],
    ['Authorization', `Bearer ${token}`],
  ];
  // No body at all: with framing "none" there is neither Content-Length nor Transfer-Encoding.
  return rawRequest({ port }, buildRequest(op.method, path, headers, framing === 'none' ? undefined : '', framing));
}

/** Whether what a DELETE removed can still be found. */
async function remains(op: Operation, token: string, params: Record<string, string>): Promise<boolean> {
  const base = `/v2/registries/${params.registry_name}`;
  const repo = `${base}/repositories/${encodeURIComponent(params.repository_name ?? '')}`;
  if (op.operationId.endsWith('_delete')) return (await h.api(base, { token })).status !== 404;
  if (op.operationId.endsWith('_delete_repository')) return (await h.api(`${repo}/tags`, { token })).status !== 404;
  const listing = await h.api(`${repo}/${op.operationId.endsWith('Tag') ? 'tags' : 'digests'}`, { token });
  if (listing.status === 404) return false;
  const body = (await listing.json()) as { tags?: unknown[]; manifests?: unknown[] };
  return (body.tags ?? body.manifests ?? []).length > 0;
}

describe('an empty body with Content-Type: application/json', () => {
  it('is accepted by every DELETE of both trees, framed three ways', async () => {
    const deletes = ops.filter((o) => o.method === 'DELETE');
    // registries_delete, registry_delete, the tag, manifest and repository deletes of both trees.
    expect(deletes.map((o) => o.operationId).sort()).toEqual(
      [
        'registries_delete',
        'registries_delete_repository',
        'registries_delete_repositoryManifest',
        'registries_delete_repositoryTag',
        'registry_delete',
        'registry_delete_repositoryManifest',
        'registry_delete_repositoryTag',
      ].sort(),
    );
    for (const op of deletes) {
      for (const framing of FRAMINGS) {
        const fixture = await prepare(h, op);
        const res = await call(op, fixture.token, fixture.params, framing);
        expect(res.status, `${op.operationId} (${framing}): ${res.text}`).toBe(204);
        // And it really happened.
        expect(await remains(op, fixture.token, fixture.params), op.operationId).toBe(false);
      }
    }
  });

  it('starts a garbage collection (POST …/garbage-collection) of the default type on both trees', async () => {
    for (const op of ops.filter((o) => o.operationId.endsWith('_run_garbageCollection'))) {
      for (const framing of FRAMINGS) {
        const fixture = await prepare(h, op);
        const res = await call(op, fixture.token, fixture.params, framing);
        expect(res.status, `${op.operationId} (${framing}): ${res.text}`).toBe(201);
        const run = (JSON.parse(res.text) as { garbage_collection: { status: string; type: string; registry_name: string } }).garbage_collection;
        expect([run.status, run.type, run.registry_name]).toEqual(['requested', 'unreferenced blobs only', fixture.params.registry_name]);
      }
    }
  });

  it('reads a garbage collection run without changing it (PUT …/{uuid}: `cancel` is optional)', async () => {
    for (const op of ops.filter((o) => o.operationId.endsWith('_update_garbageCollection'))) {
      for (const framing of FRAMINGS) {
        const fixture = await prepare(h, op);
        const res = await call(op, fixture.token, fixture.params, framing);
        expect(res.status, `${op.operationId} (${framing}): ${res.text}`).toBe(200);
        const run = (JSON.parse(res.text) as { garbage_collection: { uuid: string; status: string } }).garbage_collection;
        expect([run.uuid, run.status]).toEqual([fixture.params.garbage_collection_uuid, 'requested']);
        const active = await h.api(`/v2/registries/${fixture.params.registry_name}/garbage-collection`, { token: fixture.token });
        expect(active.status).toBe(200);
      }
    }
  });

  it('is still refused where a body is required, and nothing is created', async () => {
    for (const op of ops.filter((o) => /_create$|validate_name$/.test(o.operationId))) {
      for (const framing of FRAMINGS) {
        const fixture = await prepare(h, op);
        const res = await call(op, fixture.token, {}, framing);
        expect(res.status, `${op.operationId} (${framing}): ${res.text}`).toBe(400);
        const body = JSON.parse(res.text) as { id: string; message: string; request_id: string };
        expect([body.id, body.message, body.request_id]).toEqual(['bad_request', 'the request body is empty; send a JSON object', res.headers['x-request-id']]);
        const after = await h.api('/v2/registries', { token: fixture.token });
        expect(((await after.json()) as { registries: unknown[] }).registries).toEqual([]);
        const subscription = await h.api('/v2/registries/subscription', { token: fixture.token });
        expect(((await subscription.json()) as { subscription: { tier: { slug: string } } }).subscription.tier.slug).toBe('professional');
      }
    }
    await expectError(await h.api('/v2/registries', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '  \n' }), 400, 'bad_request');
  });
});
