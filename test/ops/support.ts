/** Helpers for the operator tests: Prometheus scrapes, raw pushes, polling. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { expect } from 'vitest';
import { dockerRef, expectSuccess, skopeo } from '../support/clients.js';
import { OCI_MANIFEST, resolveTag, sha256Digest } from '../support/images.js';
import { run, type RunResult } from '../support/exec.js';
import { registryFetch } from '../support/registry.js';
import { MAIN_JS, REPO_ROOT, type Credentials, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { loadConfig } from '../../src/config/index.js';
import { createDriver } from '../../src/context.js';
import type { BlobDriver } from '../../src/storage/index.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format into samples (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${url}/metrics → ${res.status}`);
  return parseMetrics(await res.text());
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `check` until it stops throwing or `timeoutMs` passes (then rethrows its last error). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(everyMs);
    }
  }
}

async function expectStatus(res: Response, expected: number, what: string): Promise<void> {
  if (res.status !== expected) throw new Error(`${what} → ${res.status} (expected ${expected}): ${await res.text()}`);
}

/** Pushes a blob monolithically (POST ?digest=); returns its digest. */
export async function pushBlob(server: TestServer, token: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256Digest(bytes);
  const res = await registryFetch(server, token, `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(res, 201, `POST /v2/${repo}/blobs/uploads/?digest=`);
  return digest;
}

/** Starts a chunked upload and sends its first chunk; returns the URL the next chunk goes to. */
export async function startUpload(server: TestServer, token: string, repo: string, firstChunk: Buffer): Promise<URL> {
  const started = await registryFetch(server, token, `/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await expectStatus(started, 202, `POST /v2/${repo}/blobs/uploads/`);
  const first = await registryFetch(server, token, new URL(started.headers.get('location')!, server.registryUrl).toString(), {
    method: 'PATCH',
    headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${firstChunk.length - 1}` },
    body: firstChunk,
  });
  await expectStatus(first, 202, 'PATCH (first chunk)');
  return new URL(first.headers.get('location')!, server.registryUrl);
}

/** Pushes a blob in chunks (POST, PATCH…, PUT ?digest=); returns its digest. */
export async function pushChunked(server: TestServer, token: string, repo: string, bytes: Buffer, chunk = 64 * 1024): Promise<string> {
  const digest = sha256Digest(bytes);
  const started = await registryFetch(server, token, `/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await expectStatus(started, 202, `POST /v2/${repo}/blobs/uploads/`);
  let location = new URL(started.headers.get('location')!, server.registryUrl);
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    const part = bytes.subarray(offset, offset + chunk);
    const res = await registryFetch(server, token, location.toString(), {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + part.length - 1}` },
      body: part,
    });
    await expectStatus(res, 202, `PATCH ${location.pathname}`);
    location = new URL(res.headers.get('location')!, server.registryUrl);
  }
  location.searchParams.set('digest', digest);
  const put = await registryFetch(server, token, location.toString(), { method: 'PUT' });
  await expectStatus(put, 201, `PUT ${location.pathname}?digest=`);
  return digest;
}

/** Pushes a small image (config + one random layer) under `tag`; returns the manifest's digest and bytes. */
export async function pushImage(server: TestServer, token: string, repo: string, tag: string, layerBytes = 8 * 1024): Promise<{ digest: string; manifest: Buffer; layer: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const layer = randomBytes(layerBytes);
  const configDigest = await pushBlob(server, token, repo, config);
  const layerDigest = await pushBlob(server, token, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const res = await registryFetch(server, token, `/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: manifest });
  await expectStatus(res, 201, `PUT /v2/${repo}/manifests/${tag}`);
  return { digest: sha256Digest(manifest), manifest, layer: layerDigest };
}

/** The environment without the developer's BERTH_* settings (test settings stay). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('BERTH_') || key.startsWith('BERTH_TEST_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs `node dist/main.js ARGS` to completion. */
export function berth(args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return run(process.execPath, [MAIN_JS, ...args], { cwd: REPO_ROOT, env: cleanEnv(), timeoutMs });
}

export function describeRun(result: RunResult): string {
  return `$ ${result.command}\n(exit ${result.code}, signal ${result.signal})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Runs berth and expects exit 0; returns stdout. */
export async function berthOk(args: string[], timeoutMs?: number): Promise<string> {
  const result = await berth(args, timeoutMs);
  if (result.code !== 0) throw new Error(`expected success:\n${describeRun(result)}`);
  return result.stdout;
}

/** Runs berth and expects the operator-error exit (2); returns stderr. */
export async function berthRefuses(args: string[]): Promise<string> {
  const result = await berth(args);
  if (result.code !== 2) throw new Error(`expected exit 2:\n${describeRun(result)}`);
  return result.stderr;
}

/** Rows per Berth table of a database of either dialect; {} when it has no schema (or does not exist). */
export async function tableCounts(databaseUrl: string): Promise<Record<string, number>> {
  const tables = ['teams', 'tokens', 'registries', 'repositories', 'blobs', 'repository_blobs', 'manifests', 'manifest_refs', 'tags', 'signing_keys', 'settings'];
  const counts: Record<string, number> = {};
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (!existsSync(file)) return counts;
    const db = new Database(file, { readonly: true });
    try {
      const present = new Set((db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map((r) => r.name));
      for (const t of tables) if (present.has(t)) counts[t] = (db.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
    return counts;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const present = new Set((await client.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public'")).rows.map((r) => r.tablename));
    for (const t of tables) if (present.has(t)) counts[t] = Number((await client.query<{ n: string }>(`select count(*) as n from ${t}`)).rows[0]!.n);
  } finally {
    await client.end();
  }
  return counts;
}

/** The `--storage-url` of a server: its own (S3 in the postgres-s3 project) or its data dir. */
export function storageUrlOf(server: TestServer): string {
  return server.storageUrl ?? `file:${server.dataDir}`;
}

/** Opens the storage a `--storage-url` names with Berth's own driver, to look at what it holds. */
export async function withStorage<T>(storageUrl: string, work: (driver: BlobDriver) => Promise<T>): Promise<T> {
  const driver = await createDriver(loadConfig({ storageUrl }, {}).storage);
  try {
    return await work(driver);
  } finally {
    await driver.close?.();
  }
}

/** Every object key under `blobs/` of a storage, sorted ([] for an empty or missing one). */
export function storedKeys(storageUrl: string): Promise<string[]> {
  return withStorage(storageUrl, async (driver) => {
    const keys: string[] = [];
    for await (const object of driver.list('blobs')) keys.push(object.key);
    return keys.sort();
  });
}

/** An image a test pushed, to pull back later. */
export interface PushedImage {
  repo: string;
  tag: string;
  digest: string;
  /** A multi-architecture index: pulled with every platform. */
  multi?: boolean;
}

/** Pulls every image from `target` with skopeo and checks its digest and the bytes of every blob. */
export async function expectImagesPullVerified(target: TestServer, credentials: Credentials, images: PushedImage[]): Promise<void> {
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  const authfile = await target.writeAuthFile({ auths: { [target.registryHost]: { auth } } });
  for (const image of images) {
    const out = await makeTempDir('pull');
    expectSuccess(
      await skopeo(['copy', '--src-tls-verify=false', '--authfile', authfile, ...(image.multi ? ['--all'] : []), '--preserve-digests', dockerRef(target, image.repo, image.tag), `oci:${out}:${image.tag}`]),
      target,
    );
    expect((await resolveTag(out, image.tag)).digest, `${image.repo}:${image.tag}`).toBe(image.digest);
    for (const name of await readdir(join(out, 'blobs', 'sha256'))) {
      expect(sha256Digest(await readFile(join(out, 'blobs', 'sha256', name))), `blob ${name}`).toBe(`sha256:${name}`);
    }
  }
}
