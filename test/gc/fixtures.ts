/**
 * Content for garbage collection tests, pushed through the real services (uploads, manifests)
 * into a fresh database of the project's dialect and fresh storage of the project's kind.
 */
import { randomBytes } from 'node:crypto';
import { readdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config/index.js';
import { createContext, type AppContext } from '../../src/context.js';
import type { Registry } from '../../src/db/index.js';
import { digestOf } from '../../src/oci/index.js';
import { blobKey, type BlobDriver } from '../../src/storage/index.js';
import { createS3Driver } from '../../src/storage/s3.js';
import { testDatabaseUrl } from '../support/database.js';
import { testStorageUrl } from '../support/storage.js';
import { makeTempDir } from '../support/tmp.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Pushed {
  digest: string;
  size: number;
  mediaType: string;
}

export interface Image extends Pushed {
  config: Pushed;
  layers: Pushed[];
}

/**
 * S3 cannot backdate an object's LastModified as utimes does a file's mtime: there, the
 * context's driver is a view of the real S3 driver that reports objects `age()` saw as that
 * much older.
 */
const s3Ages = new WeakMap<AppContext, Map<string, number>>();

export async function openContext(): Promise<AppContext> {
  const dataDir = await makeTempDir('gc');
  const config = loadConfig({ dataDir, databaseUrl: await testDatabaseUrl(), storageUrl: testStorageUrl(), logLevel: 'silent' }, {});
  if (config.storage.driver !== 's3') return createContext(config);
  const ages = new Map<string, number>();
  const real = createS3Driver(config.storage);
  const driver: BlobDriver = {
    ...real,
    async *list(prefix) {
      for await (const o of real.list(prefix)) yield { ...o, modifiedAt: o.modifiedAt - (ages.get(o.key) ?? 0) };
    },
  };
  const ctx = await createContext(config, { driver });
  s3Ages.set(ctx, ages);
  return ctx;
}

export async function newRegistry(ctx: AppContext, name: string): Promise<Registry> {
  const team = await ctx.teams.ensure('gc-tests', 'professional');
  return ctx.registries.create(team.id, { name });
}

export async function repository(ctx: AppContext, registry: Registry, name: string): Promise<string> {
  return (await ctx.repositories.ensure(registry.id, name)).id;
}

/** Uploads bytes as a blob of the repository (a monolithic push). */
export async function upload(ctx: AppContext, repositoryId: string, bytes: Buffer, mediaType = LAYER_GZIP): Promise<Pushed> {
  const digest = digestOf(bytes);
  await ctx.uploads.putMonolithic(repositoryId, digest, Readable.from([bytes]));
  return { digest, size: bytes.length, mediaType };
}

/** Pushes a config, layers (one random layer unless given) and the manifest; by tag or, without one, by digest. */
export async function pushImage(
  ctx: AppContext,
  repositoryId: string,
  options: { tag?: string; layers?: Pushed[]; subject?: Pushed; artifactType?: string } = {},
): Promise<Image> {
  const config = options.subject
    ? await upload(ctx, repositoryId, Buffer.from('{}'), OCI_EMPTY)
    : await upload(ctx, repositoryId, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') })), OCI_CONFIG);
  const layers = options.layers ?? [await upload(ctx, repositoryId, randomBytes(1000 + Math.floor(Math.random() * 1000)))];
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(config),
    layers: layers.map(descriptor),
  };
  if (options.artifactType) manifest.artifactType = options.artifactType;
  if (options.subject) manifest.subject = descriptor(options.subject);
  const pushed = await putManifest(ctx, repositoryId, manifest, OCI_MANIFEST, options.tag);
  return { ...pushed, config, layers };
}

export async function pushIndex(ctx: AppContext, repositoryId: string, children: Pushed[], tag?: string): Promise<Pushed> {
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c, i) => ({ ...descriptor(c), platform: { os: 'linux', architecture: `arch${i}` } })) };
  return putManifest(ctx, repositoryId, index, OCI_INDEX, tag);
}

async function putManifest(ctx: AppContext, repositoryId: string, body: unknown, mediaType: string, tag?: string): Promise<Pushed> {
  const bytes = Buffer.from(JSON.stringify(body));
  const digest = digestOf(bytes);
  await ctx.manifests.put(repositoryId, tag ?? digest, bytes, mediaType);
  return { digest, size: bytes.length, mediaType };
}

function descriptor(p: Pushed): { mediaType: string; digest: string; size: number } {
  return { mediaType: p.mediaType, digest: p.digest, size: p.size };
}

/** Makes everything written so far look `ms` older: rows' times and the files' mtimes. */
export async function age(ctx: AppContext, ms: number): Promise<void> {
  await ctx.db.updateTable('blobs').set((eb) => ({ created_at: eb('created_at', '-', ms) })).execute();
  await ctx.db.updateTable('repository_blobs').set((eb) => ({ created_at: eb('created_at', '-', ms) })).execute();
  await ctx.db.updateTable('manifests').set((eb) => ({ created_at: eb('created_at', '-', ms), updated_at: eb('updated_at', '-', ms), touched_at: eb('touched_at', '-', ms) })).execute();
  const ages = s3Ages.get(ctx);
  if (ages) {
    for await (const o of ctx.driver.list('blobs')) ages.set(o.key, (ages.get(o.key) ?? 0) + ms);
    return;
  }
  if (ctx.config.storage.driver !== 'filesystem') throw new Error(`cannot age objects of ${ctx.config.storage.driver} storage`);
  const then = new Date(Date.now() - ms);
  for (const file of await filesUnder(path.join(ctx.config.storage.root, 'blobs'))) await utimes(file, then, then);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...(await filesUnder(full)));
    else files.push(full);
  }
  return files;
}

/** What the stores hold for a digest: bytes, a blobs row, links (repository ids), manifests (repository ids). */
export async function state(ctx: AppContext, digest: string): Promise<{ bytes: boolean; row: boolean; links: string[]; manifests: string[] }> {
  const bytes = (await ctx.driver.stat(await storedKey(ctx, digest))) !== undefined;
  const row = (await ctx.db.selectFrom('blobs').select('digest').where('digest', '=', digest).executeTakeFirst()) !== undefined;
  const links = (await ctx.db.selectFrom('repository_blobs').select('repository_id').where('digest', '=', digest).execute()).map((r) => r.repository_id);
  const manifests = (await ctx.db.selectFrom('manifests').select('repository_id').where('digest', '=', digest).execute()).map((r) => r.repository_id);
  return { bytes, row, links, manifests };
}

/** Where the digest's bytes are: the key its row names, else the digest's own key. */
export async function storedKey(ctx: AppContext, digest: string): Promise<string> {
  const row = await ctx.db.selectFrom('blobs').select('storage_key').where('digest', '=', digest).executeTakeFirst();
  return row?.storage_key ?? blobKey(digest);
}

export async function readOnly(ctx: AppContext, registryId: string): Promise<number> {
  return (await ctx.db.selectFrom('registries').select('read_only').where('id', '=', registryId).executeTakeFirstOrThrow()).read_only;
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A driver over ctx's whose listing (the orphan sweep, outside any transaction) waits until released. */
export function pausedListing(ctx: AppContext): { driver: BlobDriver; paused: Promise<void>; release: () => void } {
  let release!: () => void;
  let onPaused!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const paused = new Promise<void>((resolve) => (onPaused = resolve));
  const driver: BlobDriver = {
    ...ctx.driver,
    async *list(prefix) {
      onPaused();
      await gate;
      yield* ctx.driver.list(prefix);
    },
  };
  return { driver, paused, release };
}
