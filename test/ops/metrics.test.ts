/**
 * Metrics an operator watches, on the real server: served on --metrics-listen and no longer on
 * the API listener; after pushes, pulls, a mount, refused credentials, a rate-limit refusal and
 * a garbage collection run, every metric the shipped Grafana dashboard queries has samples,
 * the per-operation counters and bytes add up, and no repository name appears in a label.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../support/postgres.js';
import { registryFetch, registryToken } from '../support/registry.js';
import { startServer, uniqueName, type TestServer } from '../support/server.js';
import { eventually, pushBlob, pushChunked, pushImage, scrape, total, type Sample } from './support.js';

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana/berth.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };

/** Every berth_* series a dashboard query names, with histogram suffixes kept as written. */
function dashboardMetrics(): string[] {
  const names = new Set<string>();
  for (const panel of dashboard.panels) for (const t of panel.targets ?? []) for (const m of t.expr.matchAll(/\bberth_[a-z0-9_]+/g)) names.add(m[0]);
  return [...names].sort();
}

describe('metrics', { timeout: 120_000 }, () => {
  let server: TestServer;
  let metricsUrl: string;
  let registry: string;
  let repo: string;
  let token: string;

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    server = await startServer({ args: ['--metrics-listen', `127.0.0.1:${port}`, '--rate-limit-per-minute', '30'] });
    registry = uniqueName('metrics');
    repo = `${registry}/private-app-name`;
    await server.createRegistry(registry);
    const credentials = server.credentialsOf(await server.dockerCredentials(registry, { readWrite: true }));
    token = await registryToken(server, credentials, `repository:${repo}:pull,push,delete repository:${registry}/copy:pull,push`);
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('the API listener no longer serves /metrics; the metrics listener does, with health', async () => {
    expect((await fetch(`${server.apiUrl}/metrics`)).status).toBe(404);
    const res = await fetch(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    for (const path of ['/livez', '/readyz', '/healthz']) expect((await fetch(`${metricsUrl}${path}`)).status, path).toBe(200);
  });

  test('after some traffic every metric the Grafana dashboard queries has samples', async () => {
    const before = await scrape(metricsUrl);
    const image = await pushImage(server, token, repo, 'v1', 48 * 1024);
    const chunked = randomBytes(200 * 1024);
    await pushChunked(server, token, repo, chunked);
    const pulled = await registryFetch(server, token, `/v2/${repo}/blobs/${image.layer}`);
    expect(pulled.status).toBe(200);
    expect((await pulled.arrayBuffer()).byteLength).toBe(48 * 1024);
    expect((await registryFetch(server, token, `/v2/${repo}/manifests/v1`)).status).toBe(200);
    expect((await registryFetch(server, token, `/v2/${repo}/tags/list`)).status).toBe(200);
    const mount = await registryFetch(server, token, `/v2/${registry}/copy/blobs/uploads/?mount=${image.layer}&from=${repo}`, { method: 'POST' });
    expect(mount.status).toBe(201);

    // Refused credentials on both listeners; a 401 without credentials is a challenge, not a failure.
    expect((await fetch(`${server.registryUrl}/auth/token?service=${server.registryHost}`, { headers: { authorization: `Basic ${Buffer.from('x:wrong').toString('base64')}` } })).status).toBe(401);
    expect((await fetch(`${server.registryUrl}/v2/`)).status).toBe(401);
    expect((await fetch(`${server.apiUrl}/v2/registries`, { headers: { authorization: 'Bearer dop_v1_nope' } })).status).toBe(401);
    // A token that is not even valid still counts against its own rate limit: spend it.
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await fetch(`${server.apiUrl}/v2/registries`, { headers: { authorization: 'Bearer spent' } })).status);
    expect(statuses).toContain(429);

    // A garbage collection run, executed by the server's worker.
    const gc = await server.api(`/v2/registries/${registry}/garbage-collection`, { method: 'POST' });
    expect(gc.status).toBe(201);
    await eventually(async () => {
      const res = await server.api(`/v2/registries/${registry}/garbage-collections`);
      const body = (await res.json()) as { garbage_collections: { status: string }[] };
      expect(body.garbage_collections[0]?.status).toBe('succeeded');
    });

    // Storage gauges come from the database: a scrape refreshes them when they are older than 5 s.
    const after = await eventually(async () => {
      const samples = await scrape(metricsUrl);
      expect(total(samples, 'berth_registry_storage_bytes', { registry })).toBeGreaterThan(0);
      expect(total(samples, 'berth_blob_store_blobs')).toBeGreaterThanOrEqual(4);
      return samples;
    }, 30_000, 1_000);

    const missing = dashboardMetrics().filter((name) => !after.some((s) => s.name === name));
    expect(missing, 'dashboard metrics without samples').toEqual([]);

    const delta = (samples: Sample[], name: string, labels: Record<string, string> = {}) => total(samples, name, labels) - total(before, name, labels);
    expect(delta(after, 'berth_registry_requests_total', { operation: 'manifest_put', status_class: '2xx' })).toBe(1);
    expect(delta(after, 'berth_registry_requests_total', { operation: 'blob_upload_monolithic', status_class: '2xx' })).toBe(2);
    expect(delta(after, 'berth_registry_requests_total', { operation: 'upload_patch', status_class: '2xx' })).toBe(4);
    expect(delta(after, 'berth_registry_requests_total', { operation: 'blob_mount', status_class: '2xx' })).toBe(1);
    expect(delta(after, 'berth_registry_requests_total', { operation: 'blob_get', status_class: '2xx' })).toBe(1);
    // Wire bytes include headers, so at least the bodies.
    expect(delta(after, 'berth_registry_sent_bytes_total', { operation: 'blob_get' })).toBeGreaterThanOrEqual(48 * 1024);
    expect(delta(after, 'berth_registry_received_bytes_total', { operation: 'upload_patch' })).toBeGreaterThanOrEqual(200 * 1024);
    expect(delta(after, 'berth_auth_failures_total', { listener: 'registry', reason: 'invalid_credentials' })).toBe(1);
    expect(delta(after, 'berth_auth_failures_total', { listener: 'api', reason: 'invalid_credentials' })).toBeGreaterThanOrEqual(1);
    expect(delta(after, 'berth_rate_limit_refusals_total', { listener: 'api' })).toBe(statuses.filter((s) => s === 429).length);
    expect(delta(after, 'berth_gc_runs_total', { status: 'succeeded' })).toBe(1);
    expect(total(after, 'berth_registry_uploads_in_flight')).toBe(0);
    expect(total(after, 'berth_dependency_up', { dependency: 'database' })).toBe(1);
    // Whichever driver: the manifest is one put; each blob ends in a put (S3 takes a small
    // unmetered blob in one PUT) or a session's finish; the chunked upload is four appends.
    const stored = delta(after, 'berth_storage_operation_duration_seconds_count', { operation: 'put' }) + delta(after, 'berth_storage_operation_duration_seconds_count', { operation: 'sessions.finish' });
    expect(stored).toBeGreaterThanOrEqual(4);
    expect(delta(after, 'berth_storage_operation_duration_seconds_count', { operation: 'put' })).toBeGreaterThanOrEqual(1);
    expect(delta(after, 'berth_storage_operation_duration_seconds_count', { operation: 'sessions.append' })).toBeGreaterThanOrEqual(4);
    expect(total(after, 'berth_dependency_up', { dependency: 'storage' })).toBe(1);
    expect(delta(after, 'berth_database_query_duration_seconds_count', { statement: 'insert' })).toBeGreaterThan(0);

    // Bounded labels: operations from a fixed set, and never a repository's name.
    const operations = new Set(after.filter((s) => s.name === 'berth_registry_requests_total').map((s) => s.labels.operation));
    for (const op of operations) expect(op).toMatch(/^(base|catalog|token|health|other|manifest_(get|head|put|delete)|blob_(get|head|delete|mount|upload_monolithic)|upload_(start|patch|finish|status|cancel)|tags_list|referrers_list)$/);
    const labels = after.flatMap((s) => Object.values(s.labels)).join('\n');
    expect(labels).not.toContain('private-app-name');
  });

  test('metrics and blob pushes of several sizes keep their exact counts', async () => {
    const before = await scrape(metricsUrl);
    for (const size of [1, 1024, 70_000]) await pushBlob(server, token, repo, randomBytes(size));
    const after = await scrape(metricsUrl);
    expect(total(after, 'berth_registry_requests_total', { operation: 'blob_upload_monolithic' }) - total(before, 'berth_registry_requests_total', { operation: 'blob_upload_monolithic' })).toBe(3);
    expect(
      total(after, 'berth_registry_received_bytes_total', { operation: 'blob_upload_monolithic' }) - total(before, 'berth_registry_received_bytes_total', { operation: 'blob_upload_monolithic' }),
    ).toBeGreaterThanOrEqual(71_025);
  });
});
