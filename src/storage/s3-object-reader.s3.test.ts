/**
 * The direct GET reader (s3-object-reader.ts) against the test radosgw, and against plain HTTP
 * servers answering what S3 never should, to show every such answer is an error rather than
 * wrong bytes. Runs in the postgres-s3 project.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testS3Options, testStorage } from '../../test/support/storage.js';
import { BlobNotFoundError, type BlobDriver } from './driver.js';
import { S3Bucket } from './s3-bucket.js';
import { openObjectReader } from './s3-object-reader.js';
import { createS3Driver } from './s3.js';

if (testStorage() !== 's3') throw new Error('*.s3.test.ts files run in the postgres-s3 project only');

const MiB = 1024 * 1024;

/** A local HTTP server answering every request with `handler`; its URL. */
async function serve(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bucket/key`, server };
}

describe('S3 direct reads', () => {
  const prefix = `reader-${randomBytes(6).toString('hex')}`;
  let bucket: S3Bucket;
  let driver: BlobDriver;
  const bytes = randomBytes(6 * MiB + 17);

  beforeAll(async () => {
    bucket = new S3Bucket(testS3Options(prefix));
    driver = createS3Driver(testS3Options(prefix));
    await bucket.put('blobs/sha256/ab/abcd', bytes);
  });
  afterAll(() => bucket.close());

  it('reads front to back and refuses to seek', async () => {
    const object = await openObjectReader(new URL(await bucket.presignGet('blobs/sha256/ab/abcd', 60)), 'k', { start: 5, end: bytes.length - 1 });
    try {
      const buffer = Buffer.alloc(MiB);
      expect(await object.read(buffer, 0, 10, 5)).toBe(10);
      expect(buffer.subarray(0, 10).equals(bytes.subarray(5, 15))).toBe(true);
      await expect(object.read(buffer, 0, 10, 5)).rejects.toThrow(/front to back: asked for byte 5, next is 15/);
    } finally {
      await object.close();
    }
  });

  it('delivers every byte whether a read is waiting (read in place) or the socket runs ahead (set aside)', async () => {
    const start = 3;
    const object = await openObjectReader(new URL(await bucket.presignGet('blobs/sha256/ab/abcd', 60)), 'k', { start, end: bytes.length - 1 });
    try {
      const out = Buffer.alloc(bytes.length - start);
      const sizes = [7, MiB, 300 * 1024, 2 * MiB + 5, 64 * 1024 - 1];
      let at = 0;
      for (let i = 0; at < out.length; i++) {
        // Every third read comes late, so the socket fills the side buffer (and pauses) meanwhile.
        if (i % 3 === 2) await new Promise((resolve) => setTimeout(resolve, 30));
        const n = await object.read(out, at, Math.min(sizes[i % sizes.length]!, out.length - at), start + at);
        expect(n).toBeGreaterThan(0);
        at += n;
      }
      expect(out.equals(bytes.subarray(start))).toBe(true);
    } finally {
      await object.close();
    }
  });

  it('serves small ranges through the SDK instead'
, async () => {
    expect(await driver.openRandomAccess!('blobs/sha256/ab/abcd', { start: 0, end: MiB })).toBeUndefined();
  });

  it('refuses an answer that is not a 2xx before any byte is read', async () => {
    const url = new URL(await bucket.presignGet('blobs/sha256/ab/abcd', 60));
    url.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    await expect(openObjectReader(url, 'k', { start: 0, end: 10 })).rejects.toThrow(/HTTP 403 SignatureDoesNotMatch/);
    const missing = new URL(await bucket.presignGet('blobs/sha256/00/missing', 60));
    await expect(openObjectReader(missing, 'k', { start: 0, end: 10 })).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('refuses chunked bodies, a body cut short, and a response to another range', async () => {
    const chunked = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 0-9/10' });
      res.write('01234');
      res.end('56789');
    });
    const short = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 0-9/10', 'content-length': '10' });
      res.write('01234');
      setTimeout(() => res.destroy(), 50);
    });
    const shifted = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 1-10/20', 'content-length': '10' });
      res.end('0123456789');
    });
    try {
      await expect(openObjectReader(new URL(chunked.url), 'k', { start: 0, end: 9 })).rejects.toThrow(/Transfer-Encoding chunked/);
      const object = await openObjectReader(new URL(short.url), 'k', { start: 0, end: 9 });
      await expect(object.read(Buffer.alloc(10), 0, 10, 0)).rejects.toThrow(/ended after 5 of 10 bytes/);
      await object.close();
      await expect(openObjectReader(new URL(shifted.url), 'k', { start: 0, end: 9 })).rejects.toThrow(/Content-Range bytes 1-10\/20/);
    } finally {
      for (const s of [chunked, short, shifted]) s.server.close();
    }
  });

  it('falls back to the SDK when the store answers in a way the direct reader refuses', async () => {
    // A proxy in front of radosgw that sends every GET body chunked: valid HTTP that the SDK
    // reads and the direct reader refuses. The Host header is kept, so signatures still hold.
    const upstream = new URL(testS3Options(prefix).endpoint!);
    const proxy = await serve((req, res) => {
      const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const headers = { ...answer.headers };
        if (req.method === 'GET') delete headers['content-length'];
        res.writeHead(answer.statusCode!, headers);
        answer.pipe(res);
      });
      req.pipe(forward);
    });
    const proxied = createS3Driver({ ...testS3Options(prefix), endpoint: new URL(proxy.url).origin });
    try {
      const range = { start: 1, end: bytes.length - 2 };
      expect(await proxied.openRandomAccess!('blobs/sha256/ab/abcd', range)).toBeUndefined();
      const chunks: Buffer[] = [];
      for await (const chunk of await proxied.read('blobs/sha256/ab/abcd', range)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(bytes.subarray(range.start, range.end + 1))).toBe(true);
      await expect(proxied.openRandomAccess!('blobs/sha256/00/missing', range)).rejects.toBeInstanceOf(BlobNotFoundError);
    } finally {
      await proxied.close?.();
      proxy.server.close();
    }
  });

  it('closing part-way drops the connection', async () => {
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    const endless = await serve((req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-${64 * MiB - 1}/${64 * MiB}`, 'content-length': String(64 * MiB) });
      const piece = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (res.write(piece));
      };
      res.on('drain', pump);
      req.socket.on('close', closed);
      pump();
    });
    try {
      const object = await openObjectReader(new URL(endless.url), 'k', { start: 0, end: 64 * MiB - 1 });
      expect(await object.read(Buffer.alloc(MiB), 0, MiB, 0)).toBe(MiB);
      await object.close();
      await gone;
    } finally {
      endless.server.close();
    }
  });
});
