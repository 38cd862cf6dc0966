import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/tmp.js';
import { digestOf } from '../oci/index.js';
import { blobKey, createFilesystemDriver, type BlobDriver } from '../storage/index.js';
import { measureUncompressedSize } from './uncompressed-size.js';

const GZIP_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const ZSTD_LAYER = 'application/vnd.oci.image.layer.v1.tar+zstd';
const hasZstdDecoder = typeof (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';

/** The real filesystem driver, recording every read so tests can see what was read. */
let driver: BlobDriver;
let reads: { key: string; range?: { start: number; end: number } }[];

beforeEach(async () => {
  const real = createFilesystemDriver(await makeTempDir('sizes'));
  reads = [];
  driver = {
    ...real,
    read(key, range) {
      reads.push({ key, range });
      return real.read(key, range);
    },
  };
});

async function store(bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  await driver.put(blobKey(digest), bytes);
  return blobKey(digest);
}

async function measure(bytes: Buffer, mediaType?: string): Promise<number | undefined> {
  return measureUncompressedSize(driver, await store(bytes), bytes.length, mediaType);
}

/** Text-like content that compresses well, as tar layers do. */
function compressible(size: number): Buffer {
  const line = Buffer.from('usr/lib/x86_64-linux-gnu/libexample.so.1.2.3 0644 root root\n');
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i);
  return out;
}

function bytesRead(): number {
  return reads.reduce((sum, r) => sum + (r.range ? r.range.end - r.range.start + 1 : Infinity), 0);
}

describe('gzip', () => {
  it('reads the ISIZE trailer of a single member, with two small ranged reads', async () => {
    const content = compressible(3 * 1024 * 1024 + 17);
    expect(await measure(zlib.gzipSync(content), GZIP_LAYER)).toBe(content.length);
    expect(reads.every((r) => r.range !== undefined)).toBe(true);
    expect(bytesRead()).toBeLessThanOrEqual(64 + 4);
  });

  it('detects gzip by its magic whatever the media type says', async () => {
    const content = compressible(100_000);
    expect(await measure(zlib.gzipSync(content), 'application/vnd.example.thing')).toBe(content.length);
    expect(await measure(zlib.gzipSync(content), undefined)).toBe(content.length);
    expect(await measure(zlib.gzipSync(content), DOCKER_LAYER)).toBe(content.length);
  });

  it('falls back to decompressing concatenated members whose last ISIZE is implausible', async () => {
    const first = randomBytes(200_000);
    const second = randomBytes(50_000);
    const blob = Buffer.concat([zlib.gzipSync(first), zlib.gzipSync(second)]);
    expect(await measure(blob, GZIP_LAYER)).toBe(first.length + second.length);
    expect(reads.some((r) => r.range === undefined)).toBe(true); // streamed
  });

  it('falls back to decompressing BGZF-style members announced in the header', async () => {
    // Compressible members: their last ISIZE alone would look plausible, the header gives it away.
    const parts = [compressible(300_000), compressible(200_000)];
    const blob = Buffer.concat(parts.map((p) => withExtraField(zlib.gzipSync(p), 'BC', Buffer.from([0, 0]))));
    expect(await measure(blob, GZIP_LAYER)).toBe(500_000);
    expect(reads.some((r) => r.range === undefined)).toBe(true);
  });

  it('falls back for an eStargz-style footer (an empty last member)', async () => {
    const content = compressible(400_000);
    const blob = Buffer.concat([zlib.gzipSync(content), zlib.gzipSync(Buffer.alloc(0))]);
    expect(await measure(blob, GZIP_LAYER)).toBe(content.length);
  });

  it('throws on corrupt gzip so the caller can fall back', async () => {
    const good = zlib.gzipSync(randomBytes(10_000));
    const corrupt = Buffer.concat([good.subarray(0, 10), Buffer.alloc(good.length - 18, 0xff), good.subarray(good.length - 8, good.length - 4), Buffer.from([1, 0, 0, 0])]);
    await expect(measure(corrupt, GZIP_LAYER)).rejects.toThrow();
  });
});

/** Rewrites a gzip member's header to carry one FEXTRA subfield. */
function withExtraField(member: Buffer, id: string, data: Buffer): Buffer {
  const header = Buffer.from(member.subarray(0, 10));
  header[3] = header[3]! | 0x04;
  const extra = Buffer.alloc(2 + 4 + data.length);
  extra.writeUInt16LE(4 + data.length, 0);
  extra.write(id, 2, 'latin1');
  extra.writeUInt16LE(data.length, 4);
  data.copy(extra, 6);
  return Buffer.concat([header, extra, member.subarray(10)]);
}

describe('zstd', () => {
  /** A zstd frame holding `content` in raw blocks, with the content size field in `fcsBytes` bytes (0: absent). */
  function frame(content: Buffer, fcsBytes: 0 | 1 | 2 | 4 | 8, options: { checksum?: boolean; rle?: boolean } = {}): Buffer {
    const fcsFlag = { 0: 0, 1: 0, 2: 1, 4: 2, 8: 3 }[fcsBytes];
    const singleSegment = fcsBytes === 1 ? 1 : 0;
    const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from([(fcsFlag << 6) | (singleSegment << 5) | ((options.checksum ? 1 : 0) << 2)])];
    if (!singleSegment) parts.push(Buffer.from([0x58])); // Window_Descriptor: 2^(10+11) bytes
    const fcs = Buffer.alloc(fcsBytes);
    if (fcsBytes === 1) fcs.writeUInt8(content.length);
    if (fcsBytes === 2) fcs.writeUInt16LE(content.length - 256);
    if (fcsBytes === 4) fcs.writeUInt32LE(content.length);
    if (fcsBytes === 8) fcs.writeBigUInt64LE(BigInt(content.length));
    parts.push(fcs);
    if (options.rle) {
      parts.push(blockHeader(true, 1, content.length), content.subarray(0, 1));
    } else {
      for (let at = 0; at < content.length || at === 0; at += 100_000) {
        const block = content.subarray(at, at + 100_000);
        parts.push(blockHeader(at + 100_000 >= content.length, 0, block.length), block);
        if (content.length === 0) break;
      }
    }
    if (options.checksum) parts.push(Buffer.from([1, 2, 3, 4]));
    return Buffer.concat(parts);
  }

  function blockHeader(last: boolean, type: number, size: number): Buffer {
    const value = (size << 3) | (type << 1) | (last ? 1 : 0);
    return Buffer.from([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff]);
  }

  function skippable(payload: Buffer): Buffer {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(0x184d2a5e, 0);
    header.writeUInt32LE(payload.length, 4);
    return Buffer.concat([header, payload]);
  }

  it('reads Frame_Content_Size in each of its widths', async () => {
    expect(await measure(frame(randomBytes(200), 1), ZSTD_LAYER)).toBe(200);
    expect(await measure(frame(randomBytes(3000), 2), ZSTD_LAYER)).toBe(3000);
    expect(await measure(frame(randomBytes(250_000), 4, { checksum: true }), ZSTD_LAYER)).toBe(250_000);
    expect(await measure(frame(randomBytes(70_000), 8), ZSTD_LAYER)).toBe(70_000);
    expect(await measure(frame(Buffer.alloc(90_000, 7), 4, { rle: true }), ZSTD_LAYER)).toBe(90_000);
  });

  it('sums several frames and skips skippable frames (zstd:chunked)', async () => {
    const blob = Buffer.concat([frame(randomBytes(1000), 2), skippable(randomBytes(77)), frame(randomBytes(120_000), 4, { checksum: true }), skippable(Buffer.alloc(0))]);
    expect(await measure(blob, ZSTD_LAYER)).toBe(121_000);
    // Detected by magic even without a zstd media type, also when a skippable frame comes first.
    expect(await measure(Buffer.concat([skippable(randomBytes(5)), frame(randomBytes(500), 2)]), undefined)).toBe(500);
  });

  it('cannot know the size of a frame without Frame_Content_Size unless Node has a zstd decoder', async () => {
    const result = await measure(frame(randomBytes(900), 0), ZSTD_LAYER);
    expect(result).toBe(hasZstdDecoder ? 900 : undefined);
  });

  it('throws on truncated or corrupt frames', async () => {
    await expect(measure(frame(randomBytes(3000), 2).subarray(0, 1000), ZSTD_LAYER)).rejects.toThrow(/truncated/);
    await expect(measure(Buffer.concat([frame(randomBytes(10), 1), Buffer.from('garbage!')]), ZSTD_LAYER)).rejects.toThrow(/not a zstd frame/);
  });
});

describe('uncompressed blobs', () => {
  it('is the blob size for tar layers and unknown bytes', async () => {
    const tar = Buffer.concat([Buffer.from('etc/hostname'), Buffer.alloc(500)]);
    expect(await measure(tar, 'application/vnd.oci.image.layer.v1.tar')).toBe(tar.length);
    // Media type says gzip, bytes are not: the bytes as stored are what there is.
    expect(await measure(randomBytes(1024).fill(0, 0, 2), GZIP_LAYER)).toBe(1024);
    expect(await measure(Buffer.alloc(0), GZIP_LAYER)).toBe(0);
  });

  it('does not read JSON documents (configs, manifests) at all', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    expect(await measure(config, 'application/vnd.oci.image.config.v1+json')).toBe(config.length);
    expect(await measure(config, 'application/vnd.docker.container.image.v1+json')).toBe(config.length);
    expect(reads).toEqual([]);
  });
});
