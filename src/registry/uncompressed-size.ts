/**
 * Uncompressed sizes of layers (DigitalOcean's `size_bytes`), read from the compressed bytes
 * as cheaply as exactness allows. The bytes decide the format (magic numbers); the media type
 * only spares a read for JSON documents, which are never compressed.
 *
 *   gzip  1f 8b …            the trailer's ISIZE (size mod 2^32 of the last member) when it can
 *                            be trusted, else stream-decompress and count
 *   zstd  28 b5 2f fd …      walk the frames (headers and block headers only, no decompression)
 *                            and sum Frame_Content_Size; a frame without one needs a decoder
 *   else                     the blob's own size (tar, JSON, anything uncompressed)
 */
import { Writable, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { BlobDriver } from '../storage/index.js';

/**
 * ISIZE is the size modulo 2^32, so it is only the size if the layer inflates to less than
 * 4 GiB. Below this compressed size a layer would have to shrink more than 32:1 to wrap, which
 * tar layers do not; larger gzip layers are counted by decompressing (in the background job).
 */
export const GZIP_TRAILER_LIMIT = 128 * 1024 * 1024;

const GZIP_MAGIC = 0x8b1f;
const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames: 0x184D2A50–0x184D2A5F (zstd:chunked keeps its metadata in them). */
const ZSTD_SKIPPABLE_MASK = 0xfffffff0;
const ZSTD_SKIPPABLE = 0x184d2a50;

/**
 * The uncompressed size of the blob stored at `key` with `size` bytes, or undefined when it cannot be
 * known here (a zstd frame without a content size while this Node has no zstd decoder).
 * Throws when the bytes are missing or corrupt.
 *
 * @example
 *   await measureUncompressedSize(driver, 'blobs/sha256/ab/ab…', 31_457_280, 'application/vnd.oci.image.layer.v1.tar+gzip') // → 83_886_080
 */
export async function measureUncompressedSize(driver: BlobDriver, key: string, size: number, mediaType?: string | null): Promise<number | undefined> {
  if (size === 0 || mediaType?.endsWith('json')) return size;
  const head = await readRange(driver, key, 0, Math.min(size, 64));
  if (head.length >= 2 && head.readUInt16LE(0) === GZIP_MAGIC) return gzipSize(driver, key, size, head);
  if (head.length >= 4) {
    const magic = head.readUInt32LE(0);
    if (magic === ZSTD_MAGIC || (magic & ZSTD_SKIPPABLE_MASK) >>> 0 === ZSTD_SKIPPABLE) return zstdSize(driver, key);
  }
  return size;
}

async function gzipSize(driver: BlobDriver, key: string, size: number, head: Buffer): Promise<number> {
  if (size < GZIP_TRAILER_LIMIT && size >= 18 && looksSingleMember(head)) {
    const isize = (await readRange(driver, key, size - 4, size)).readUInt32LE(0);
    // Deflate never shrinks data by more than 1032:1, and its worst encoders grow incompressible
    // data by at most 9/8. An ISIZE outside those bounds belongs to the last of several
    // members (eStargz footers and BGZF end blocks have ISIZE 0) or has wrapped. What this
    // cannot see is plain concatenation of compressible members (`cat a.gz b.gz`); the tools
    // that build layers (docker, buildkit, containerd, pigz) write one member.
    const deflated = size - 18;
    if (isize >= Math.floor((deflated * 8) / 9) - 64 && isize <= deflated * 1032 + 1024) return isize;
  }
  return countDecoded(await driver.read(key), zlib.createGunzip());
}

/** False when the first member's header announces a multi-member format (BGZF blocks, eStargz). */
function looksSingleMember(head: Buffer): boolean {
  if (head.length < 10 || head[2] !== 8) return false; // not deflate: let the decoder say what it is
  const FEXTRA = 0x04;
  if ((head[3]! & FEXTRA) === 0) return true;
  if (head.length < 12) return false;
  const end = Math.min(12 + head.readUInt16LE(10), head.length);
  for (let at = 12; at + 4 <= end; at += 4 + head.readUInt16LE(at + 2)) {
    const id = head.toString('latin1', at, at + 2);
    if (id === 'BC' || id === 'SG') return false;
  }
  return true;
}

async function zstdSize(driver: BlobDriver, key: string): Promise<number | undefined> {
  const stream = await driver.read(key);
  let total = 0;
  let complete = true;
  try {
    const cursor = new Cursor(stream);
    while (!(await cursor.atEnd())) {
      const magic = (await cursor.take(4)).readUInt32LE(0);
      if ((magic & ZSTD_SKIPPABLE_MASK) >>> 0 === ZSTD_SKIPPABLE) {
        await cursor.skip((await cursor.take(4)).readUInt32LE(0));
        continue;
      }
      if (magic !== ZSTD_MAGIC) throw new Error(`not a zstd frame (magic ${magic.toString(16)})`);
      const contentSize = await zstdFrame(cursor);
      if (contentSize === undefined) {
        complete = false;
        break;
      }
      total += contentSize;
    }
  } finally {
    stream.destroy();
  }
  if (complete) return total;
  // Node 20 has no zstd decoder; newer Node versions do (zlib.createZstdDecompress).
  const createZstdDecompress = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  return createZstdDecompress ? countDecoded(await driver.read(key), createZstdDecompress()) : undefined;
}

/** Reads one frame after its magic number: returns its Frame_Content_Size (undefined if absent) and skips its blocks. */
async function zstdFrame(cursor: Cursor): Promise<number | undefined> {
  const descriptor = (await cursor.take(1))[0]!;
  if (descriptor & 0x08) throw new Error('corrupt zstd frame header (reserved bit set)');
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const hasChecksum = (descriptor >> 2) & 1;
  if (!singleSegment) await cursor.skip(1); // Window_Descriptor
  await cursor.skip([0, 1, 2, 4][descriptor & 3]!); // Dictionary_ID
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
  let contentSize: number | undefined;
  if (fcsBytes > 0) {
    const field = await cursor.take(fcsBytes);
    contentSize =
      fcsBytes === 1 ? field[0]! : fcsBytes === 2 ? field.readUInt16LE(0) + 256 : fcsBytes === 4 ? field.readUInt32LE(0) : Number(field.readBigUInt64LE(0));
  }
  if (contentSize === undefined) return undefined;
  for (;;) {
    const header = await cursor.take(3);
    const value = header[0]! | (header[1]! << 8) | (header[2]! << 16);
    const type = (value >> 1) & 3;
    if (type === 3) throw new Error('corrupt zstd block (reserved type)');
    await cursor.skip(type === 1 ? 1 : value >>> 3); // an RLE block stores one byte
    if (value & 1) break; // Last_Block
  }
  if (hasChecksum) await cursor.skip(4);
  return contentSize;
}

/** Sequential reads of exact lengths over a stream, holding at most one chunk. */
class Cursor {
  private buffer: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffer.length < n && !this.ended) {
      const next = await this.chunks.next();
      if (next.done) this.ended = true;
      else this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value]);
    }
    return this.buffer.length >= n;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  async take(n: number): Promise<Buffer> {
    if (!(await this.fill(n))) throw new Error('truncated zstd data');
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      if (this.buffer.length === 0 && !(await this.fill(1))) throw new Error('truncated zstd data');
      const k = Math.min(n, this.buffer.length);
      this.buffer = this.buffer.subarray(k);
      n -= k;
    }
  }
}

/** Decodes the stream and counts the output bytes without keeping them. */
async function countDecoded(source: Readable, decoder: Transform): Promise<number> {
  let count = 0;
  await pipeline(
    source,
    decoder,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        count += chunk.length;
        done();
      },
    }),
  );
  return count;
}

/** Bytes [start, end) of an object. */
async function readRange(driver: BlobDriver, key: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await driver.read(key, { start, end: end - 1 })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
