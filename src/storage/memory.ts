import { Readable } from 'node:stream';
import { BlobNotFoundError, type BlobDriver } from './driver.js';

/** An in-process driver for tests of code above the storage seam. */
export function createMemoryDriver(): BlobDriver {
  const objects = new Map<string, { bytes: Buffer; modifiedAt: number }>();
  return {
    name: 'memory',
    async stat(key) {
      const o = objects.get(key);
      return o ? { size: o.bytes.length } : undefined;
    },
    async read(key, range) {
      const o = objects.get(key);
      if (!o) throw new BlobNotFoundError(key);
      return Readable.from(range ? [o.bytes.subarray(range.start, range.end + 1)] : [o.bytes]);
    },
    async openRandomAccess(key) {
      const o = objects.get(key);
      if (!o) throw new BlobNotFoundError(key);
      const bytes = o.bytes;
      return {
        size: bytes.length,
        read: async (buffer, offset, length, position) => bytes.copy(buffer, offset, position, Math.min(position + length, bytes.length)),
        close: async () => undefined,
      };
    },
    async write(key, source, offset) {
      const existing = objects.get(key)?.bytes ?? Buffer.alloc(0);
      if (existing.length < offset) throw new Error(`cannot write ${key} at ${offset}: only ${existing.length} bytes stored`);
      const chunks: Buffer[] = [existing.subarray(0, offset)];
      for await (const chunk of source) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      objects.set(key, { bytes, modifiedAt: Date.now() });
      return bytes.length;
    },
    async put(key, bytes) {
      objects.set(key, { bytes: Buffer.from(bytes), modifiedAt: Date.now() });
    },
    async commit(from, to) {
      const o = objects.get(from);
      if (!o) throw new BlobNotFoundError(from);
      objects.set(to, o);
      objects.delete(from);
    },
    async delete(key) {
      objects.delete(key);
    },
    async *list(prefix) {
      for (const [key, o] of objects) if (key.startsWith(prefix)) yield { key, size: o.bytes.length, modifiedAt: o.modifiedAt };
    },
  };
}
