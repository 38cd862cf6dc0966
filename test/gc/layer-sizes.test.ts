import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { fillUncompressedSizes, startLayerSizeJob } from '../../src/jobs/layer-sizes.js';
import { blobKey } from '../../src/storage/index.js';
import { LAYER_GZIP, newRegistry, openContext, pushImage, repository, upload, waitFor } from './fixtures.js';

const LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
const hasZstdDecoder = typeof (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';

let ctx: AppContext;
let repo: string;

beforeEach(async () => {
  ctx = await openContext();
  repo = await repository(ctx, await newRegistry(ctx, 'sizes'), 'app');
});
afterEach(() => ctx.close());

async function uncompressed(digest: string): Promise<number | null> {
  return (await ctx.db.selectFrom('blobs').select('uncompressed_size').where('digest', '=', digest).executeTakeFirstOrThrow()).uncompressed_size;
}

/** One zstd frame of raw blocks; with a 4-byte Frame_Content_Size or without one. */
function zstd(content: Buffer, withSize: boolean): Buffer {
  const header = withSize ? Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 2 << 6, 0x58, 0, 0, 0, 0]) : Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0x58]);
  if (withSize) header.writeUInt32LE(content.length, 6);
  const block = (content.length << 3) | 1; // last, raw
  return Buffer.concat([header, Buffer.from([block & 0xff, (block >> 8) & 0xff, (block >> 16) & 0xff]), content]);
}

describe('layer size job', () => {
  it('fills uncompressed sizes from the bytes and the referencing media types', async () => {
    const tarLike = Buffer.alloc(200_000, 'a');
    const gz = await upload(ctx, repo, zlib.gzipSync(tarLike), LAYER_GZIP);
    const zs = await upload(ctx, repo, zstd(randomBytes(5000), true), LAYER_ZSTD);
    const zsUnknown = await upload(ctx, repo, zstd(randomBytes(700), false), LAYER_ZSTD);
    const tar = await upload(ctx, repo, randomBytes(4096), LAYER_TAR);
    const image = await pushImage(ctx, repo, { tag: 'v1', layers: [gz, zs, zsUnknown, tar] });
    // Not referenced by any manifest yet: the magic number still tells gzip.
    const loose = await upload(ctx, repo, zlib.gzipSync(Buffer.alloc(12_345, 'b')));
    // Recorded but its bytes are gone: measured as its compressed size, not retried forever.
    const broken = await upload(ctx, repo, zlib.gzipSync(Buffer.alloc(50_000, 'c')));
    await ctx.driver.delete(blobKey(broken.digest));

    expect(await uncompressed(gz.digest)).toBeNull();
    expect(await fillUncompressedSizes(ctx)).toBe(8); // 6 blobs + config + manifest
    expect(await uncompressed(gz.digest)).toBe(200_000);
    expect(await uncompressed(zs.digest)).toBe(5000);
    expect(await uncompressed(zsUnknown.digest)).toBe(hasZstdDecoder ? 700 : zsUnknown.size);
    expect(await uncompressed(tar.digest)).toBe(4096);
    expect(await uncompressed(loose.digest)).toBe(12_345);
    expect(await uncompressed(broken.digest)).toBe(broken.size);
    expect(await uncompressed(image.config.digest)).toBe(image.config.size);
    expect(await uncompressed(image.digest)).toBe(image.size);
    expect(await fillUncompressedSizes(ctx)).toBe(0);
  });

  it('runs in the background, picks up new blobs when kicked, and stops', async () => {
    const job = startLayerSizeJob(ctx, 60_000);
    const first = await upload(ctx, repo, zlib.gzipSync(Buffer.alloc(1000, 'x')));
    job.kick();
    await waitFor(async () => (await uncompressed(first.digest)) === 1000);
    const second = await upload(ctx, repo, zlib.gzipSync(Buffer.alloc(2000, 'y')));
    job.kick();
    await waitFor(async () => (await uncompressed(second.digest)) === 2000);
    await job.stop();
    job.kick(); // no effect once stopped
  });

  it('stops between blobs when asked', async () => {
    for (let i = 0; i < 3; i++) await upload(ctx, repo, randomBytes(100));
    let calls = 0;
    expect(await fillUncompressedSizes(ctx, () => ++calls > 1)).toBe(1);
  });
});
