/**
 * Shared pieces of the DigitalOcean API tests in test/api: the error envelope check, the
 * operation list Berth publishes at /openapi.json, and images with real gzip layers whose
 * compressed and uncompressed sizes are known.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { violations } from '../do-contract.js';
import { digestOf, pushBlob, type Harness } from '../harness.js';

export interface DoError {
  id: string;
  message: string;
  request_id: string;
}

/**
 * Checks the DigitalOcean error envelope: exactly {id, message, request_id}, the request id
 * equal to the X-Request-Id header and, when the operation is named, the published schema.
 */
export async function expectError(res: Response, status: number, id: string, operationId?: string): Promise<DoError> {
  const text = await res.text();
  expect(res.status, `${res.url}: ${text}`).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(text) as DoError;
  expect(Object.keys(body).sort(), text).toEqual(['id', 'message', 'request_id']);
  expect(body.id, text).toBe(id);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  const header = res.headers.get('x-request-id');
  expect(header).toBeTruthy();
  expect(body.request_id).toBe(header);
  if (operationId) expect(violations(operationId, status, body)).toEqual([]);
  return body;
}

export interface Operation {
  method: string;
  /** The path template as published, e.g. `/v2/registries/{registry_name}`. */
  path: string;
  operationId: string;
  scopes: string[];
  /** Names of the path parameters, in order. */
  params: string[];
}

/** Every operation Berth describes at /openapi.json that carries an operationId and a security requirement. */
export async function publishedOperations(h: Harness): Promise<Operation[]> {
  const res = await fetch(`${h.apiUrl}/openapi.json`);
  expect(res.status).toBe(200);
  const spec = (await res.json()) as { paths: Record<string, Record<string, { operationId?: string; security?: { bearer_auth?: string[] }[] }>> };
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const scopes = op.security?.[0]?.bearer_auth;
      if (!op.operationId || !scopes) continue;
      out.push({ method: method.toUpperCase(), path, operationId: op.operationId, scopes, params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!) });
    }
  }
  return out;
}

/** The operation serving `method path` (literal segments win over parameters, as on the server). */
export function operationFor(ops: readonly Operation[], method: string, path: string): string {
  const bare = path.split('?')[0]!;
  const match = [...ops]
    .sort((a, b) => a.params.length - b.params.length)
    .find((o) => o.method === method && new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
  if (!match) throw new Error(`no published operation serves ${method} ${bare}`);
  return match.operationId;
}

/** Fills a path template; every value is percent-encoded as DigitalOcean's clients do. */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
}

/** The operations of both trees that take page and per_page (DigitalOcean's reference), sorted. */
export const PAGINATED_OPERATIONS = [
  'registries_list_garbageCollections',
  'registries_list_repositoriesV2',
  'registries_list_repositoryManifests',
  'registries_list_repositoryTags',
  'registry_list_garbageCollections',
  'registry_list_repositories',
  'registry_list_repositoriesV2',
  'registry_list_repositoryManifests',
  'registry_list_repositoryTags',
].sort();

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface PushedBlob {
  digest: string;
  /** Bytes as stored (compressed for layers). */
  size: number;
  /** Bytes once decompressed (the config's own size: it is not compressed). */
  uncompressed: number;
}

export interface PushedImage {
  manifest: string;
  manifestSize: number;
  manifestBytes: Buffer;
  config: PushedBlob;
  layers: PushedBlob[];
}

/** A gzip layer with `rawSize` bytes inside: half random, half zeros, so it really compresses. */
export function gzipLayer(rawSize: number): { bytes: Buffer; uncompressed: number } {
  const raw = Buffer.concat([randomBytes(Math.floor(rawSize / 2)), Buffer.alloc(rawSize - Math.floor(rawSize / 2))]);
  return { bytes: gzipSync(raw), uncompressed: raw.length };
}

/**
 * Pushes an image through the registry listener: a config, the given gzip layers (already
 * pushed ones are pushed again, which stores nothing new) and an OCI manifest, under the tag
 * `reference`, or by digest only when `reference` is null.
 */
export async function pushGzipImage(
  h: Harness,
  auth: string,
  name: string,
  reference: string | null,
  layers: { bytes: Buffer; uncompressed: number }[],
  configExtra: Record<string, unknown> = {},
): Promise<PushedImage> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex'), ...configExtra }));
  const config: PushedBlob = { digest: await pushBlob(h, auth, name, configBytes), size: configBytes.length, uncompressed: configBytes.length };
  const pushedLayers: PushedBlob[] = [];
  for (const layer of layers) pushedLayers.push({ digest: await pushBlob(h, auth, name, layer.bytes), size: layer.bytes.length, uncompressed: layer.uncompressed });
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: pushedLayers.map((l) => ({ mediaType: LAYER_GZIP, digest: l.digest, size: l.size })),
    }),
  );
  const manifest = digestOf(manifestBytes);
  const res = await h.registry(`/v2/${name}/manifests/${reference ?? manifest}`, {
    method: 'PUT',
    auth,
    body: manifestBytes,
    headers: { 'content-type': OCI_MANIFEST },
  });
  if (res.status !== 201) throw new Error(`pushing manifest ${name}:${reference}: ${res.status} ${await res.text()}`);
  return { manifest, manifestSize: manifestBytes.length, manifestBytes, config, layers: pushedLayers };
}

/** Distinct stored bytes of images, counting each digest once. */
export function distinctBytes(...images: PushedImage[]): number {
  const seen = new Map<string, number>();
  for (const image of images) {
    seen.set(image.manifest, image.manifestSize);
    seen.set(image.config.digest, image.config.size);
    for (const l of image.layers) seen.set(l.digest, l.size);
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

/** Polls `read` until it returns `expected` or `ms` pass; returns the last value read. */
export async function eventually<T>(read: () => Promise<T>, expected: T, ms = 4_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!Object.is(value, expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
