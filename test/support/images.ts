/**
 * Test images built offline with umoci (TESTING.md "Building test images offline"). Every
 * build gets fresh random layers, so digests never collide across tests or runs (the blob-info
 * cache that skopeo and podman share cannot substitute a differently compressed copy), and
 * everything is written to new temporary directories.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from './exec.js';
import { findExecutable } from './tools.js';
import { makeTempDir } from './tmp.js';

/** Tools the builders need; pass to requireTools() in test files. */
export const IMAGE_TOOLS = ['umoci', 'busybox'] as const;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface ImageLayout {
  /** The OCI layout directory. */
  dir: string;
  /** The tag (ref name) inside the layout. */
  tag: string;
  /** containers-transports reference, `oci:<dir>:<tag>`. */
  ref: string;
  /** Digest of the manifest (or index) the tag names. */
  digest: string;
  /** Its exact bytes. */
  manifest: Buffer;
}

export interface SingleImage extends ImageLayout {
  /** Layer digests in order. */
  layers: string[];
  config: string;
}

export interface PlatformImage {
  architecture: string;
  os: string;
  digest: string;
  /** The layout tag of the platform manifest itself. */
  tag: string;
}

export interface MultiArchImage extends ImageLayout {
  platforms: PlatformImage[];
}

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface IndexJson {
  schemaVersion: number;
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

async function readIndex(dir: string): Promise<IndexJson> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as IndexJson;
}

async function readBlob(dir: string, digest: string): Promise<Buffer> {
  const [algorithm, hex] = digest.split(':');
  return readFile(join(dir, 'blobs', algorithm ?? 'sha256', hex ?? ''));
}

/** Digest and bytes of what `tag` names in the layout. */
export async function resolveTag(dir: string, tag: string): Promise<{ digest: string; manifest: Buffer }> {
  const entry = (await readIndex(dir)).manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!entry) throw new Error(`tag ${tag} not in ${dir}/index.json`);
  return { digest: entry.digest, manifest: await readBlob(dir, entry.digest) };
}

function umoci(args: string[]): Promise<unknown> {
  const rootless = typeof process.getuid === 'function' && process.getuid() !== 0;
  const [command, ...rest] = args;
  if (rootless && (command === 'unpack' || command === 'repack')) {
    return runOk('umoci', [command as string, '--rootless', ...rest]);
  }
  return runOk('umoci', args);
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  await writeFile(path, randomBytes(size));
}

/**
 * Adds a base layer (busybox when available, plus a random id so the layer is unique) and
 * tags it `base`; returns the bundle directory, unpacked and refreshed.
 */
async function initWithBase(dir: string, work: string): Promise<void> {
  await umoci(['init', '--layout', dir]);
  await umoci(['new', '--image', `${dir}:empty`]);
  const bundle = join(work, 'base');
  await umoci(['unpack', '--image', `${dir}:empty`, bundle]);
  const rootfs = join(bundle, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  const busybox = findExecutable('busybox');
  if (busybox) {
    await copyFile(busybox, join(rootfs, 'bin', 'busybox'));
    await symlink('busybox', join(rootfs, 'bin', 'sh'));
  }
  await writeFile(join(rootfs, 'etc', 'berth-test-id'), `${randomBytes(16).toString('hex')}\n`);
  await umoci(['repack', '--image', `${dir}:base`, bundle]);
  await umoci(['config', '--image', `${dir}:base`, '--config.cmd', '/bin/sh']);
  await umoci(['rm', '--image', `${dir}:empty`]);
}

/** Unpacks `from`, adds one layer of `size` random bytes and saves it as `to`. */
async function addRandomLayer(dir: string, work: string, from: string, to: string, size: number): Promise<void> {
  const bundle = join(work, `bundle-${to}`);
  await umoci(['unpack', '--image', `${dir}:${from}`, bundle]);
  await writeRandomFile(join(bundle, 'rootfs', `random-${randomBytes(4).toString('hex')}.bin`), size);
  await umoci(['repack', '--image', `${dir}:${to}`, bundle]);
  await rm(bundle, { recursive: true, force: true });
}

export interface BuildOptions {
  /** Tag inside the layout (default `v1`). */
  tag?: string;
  /** Size of the unique random layer (default 64 KiB). */
  randomLayerBytes?: number;
}

/** A single-platform (linux/amd64) image: a base layer and a unique random layer. */
export async function buildImage(options: BuildOptions = {}): Promise<SingleImage> {
  const tag = options.tag ?? 'v1';
  const root = await makeTempDir('image');
  const dir = join(root, 'layout');
  const work = join(root, 'work');
  await mkdir(work);
  await initWithBase(dir, work);
  await addRandomLayer(dir, work, 'base', tag, options.randomLayerBytes ?? 64 * 1024);
  await umoci(['rm', '--image', `${dir}:base`]);
  await rm(work, { recursive: true, force: true });
  const { digest, manifest } = await resolveTag(dir, tag);
  const parsed = JSON.parse(manifest.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  return { dir, tag, ref: `oci:${dir}:${tag}`, digest, manifest, config: parsed.config.digest, layers: parsed.layers.map((l) => l.digest) };
}

/**
 * A two-platform image: linux/amd64 and linux/arm64 manifests sharing a base layer, each with
 * its own random layer, and an OCI image index listing both, tagged `tag` in the layout.
 */
export async function buildMultiArchImage(options: BuildOptions = {}): Promise<MultiArchImage> {
  const tag = options.tag ?? 'v1';
  const size = options.randomLayerBytes ?? 32 * 1024;
  const root = await makeTempDir('multiarch');
  const dir = join(root, 'layout');
  const work = join(root, 'work');
  await mkdir(work);
  await initWithBase(dir, work);

  const platforms: PlatformImage[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    const platformTag = `${tag}-${architecture}`;
    await addRandomLayer(dir, work, 'base', `${platformTag}-pre`, size);
    await umoci(['config', '--image', `${dir}:${platformTag}-pre`, '--tag', platformTag, '--architecture', architecture, '--os', 'linux']);
    await umoci(['rm', '--image', `${dir}:${platformTag}-pre`]);
    platforms.push({ architecture, os: 'linux', digest: (await resolveTag(dir, platformTag)).digest, tag: platformTag });
  }
  await umoci(['rm', '--image', `${dir}:base`]);
  await rm(work, { recursive: true, force: true });

  const sizes = await Promise.all(platforms.map(async (p) => (await readBlob(dir, p.digest)).length));
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: platforms.map((p, i) => ({
        mediaType: OCI_MANIFEST,
        digest: p.digest,
        size: sizes[i],
        platform: { architecture: p.architecture, os: p.os },
      })),
    }),
  );
  const digest = sha256Digest(index);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), index);
  const layoutIndex = await readIndex(dir);
  layoutIndex.manifests.push({ mediaType: OCI_INDEX, digest, size: index.length, annotations: { [REF_NAME]: tag } });
  await writeFile(join(dir, 'index.json'), JSON.stringify(layoutIndex));
  return { dir, tag, ref: `oci:${dir}:${tag}`, digest, manifest: index, platforms };
}
