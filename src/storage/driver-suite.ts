import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BlobNotFoundError, type BlobDriver } from './driver.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function* failingAfter(chunks: Buffer[]): AsyncIterable<Buffer> {
  for (const c of chunks) yield c;
  throw new Error('client went away');
}

/** The contract every BlobDriver keeps; each driver's test file runs it. */
export function describeBlobDriver(name: string, make: () => Promise<BlobDriver>): void {
  describe(`BlobDriver: ${name}`, () => {
    it('writes, stats and reads, whole and by range', async () => {
      const d = await make();
      expect(await d.stat('uploads/a')).toBeUndefined();
      expect(await d.write('uploads/a', Readable.from([Buffer.from('hello '), Buffer.from('world')]), 0)).toBe(11);
      expect(await d.stat('uploads/a')).toEqual({ size: 11 });
      expect((await readAll(await d.read('uploads/a'))).toString()).toBe('hello world');
      expect((await readAll(await d.read('uploads/a', { start: 6, end: 10 }))).toString()).toBe('world');
    });

    it('appends at an offset and discards bytes beyond it', async () => {
      const d = await make();
      await d.write('uploads/b', Readable.from([Buffer.from('abcdef')]), 0);
      expect(await d.write('uploads/b', Readable.from([Buffer.from('XY')]), 3)).toBe(5);
      expect((await readAll(await d.read('uploads/b'))).toString()).toBe('abcXY');
    });

    it('keeps the first offset bytes when a write fails', async () => {
      const d = await make();
      await d.write('uploads/c', Readable.from([Buffer.from('1234')]), 0);
      await expect(d.write('uploads/c', failingAfter([Buffer.from('5678')]), 4)).rejects.toThrow('client went away');
      expect(await d.stat('uploads/c')).toEqual({ size: 4 });
    });

    it('refuses to write past the end', async () => {
      const d = await make();
      await expect(d.write('uploads/d', Readable.from([Buffer.from('x')]), 5)).rejects.toThrow();
    });

    it('commits atomically to the final key, replacing identical content', async () => {
      const d = await make();
      await d.write('uploads/e', Readable.from([Buffer.from('content')]), 0);
      await d.commit('uploads/e', 'blobs/sha256/ab/abcd');
      expect(await d.stat('uploads/e')).toBeUndefined();
      expect((await readAll(await d.read('blobs/sha256/ab/abcd'))).toString()).toBe('content');
      await d.write('uploads/f', Readable.from([Buffer.from('content')]), 0);
      await d.commit('uploads/f', 'blobs/sha256/ab/abcd');
      expect((await readAll(await d.read('blobs/sha256/ab/abcd'))).toString()).toBe('content');
    });

    it('puts small objects, lists and deletes', async () => {
      const d = await make();
      await d.put('blobs/sha256/cd/cdef', Buffer.from('{}'));
      const keys: string[] = [];
      for await (const o of d.list('blobs')) keys.push(o.key);
      expect(keys).toContain('blobs/sha256/cd/cdef');
      await d.delete('blobs/sha256/cd/cdef');
      await d.delete('blobs/sha256/cd/cdef');
      expect(await d.stat('blobs/sha256/cd/cdef')).toBeUndefined();
    });

    it('reads at positions into the caller\'s buffer, when it offers random access', async (test) => {
      const d = await make();
      if (!d.openRandomAccess) return test.skip();
      await d.put('blobs/sha256/ef/efgh', Buffer.from('0123456789'));
      const object = await d.openRandomAccess('blobs/sha256/ef/efgh');
      try {
        expect(object.size).toBe(10);
        const buffer = Buffer.alloc(6, '.');
        expect(await object.read(buffer, 1, 4, 3)).toBe(4);
        expect(buffer.toString()).toBe('.3456.');
        expect(await object.read(buffer, 0, 6, 8)).toBe(2);
        expect(await object.read(buffer, 0, 6, 10)).toBe(0);
      } finally {
        await object.close();
      }
      await expect(d.openRandomAccess('blobs/sha256/00/missing')).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it('throws BlobNotFoundError for missing objects', async () => {
      const d = await make();
      await expect(d.read('blobs/sha256/00/missing')).rejects.toBeInstanceOf(BlobNotFoundError);
      await expect(d.commit('uploads/missing', 'blobs/x')).rejects.toBeInstanceOf(BlobNotFoundError);
    });
  });
}
