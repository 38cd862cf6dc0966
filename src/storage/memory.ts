import { Readable } from 'node:stream';
import { blobKey, BlobNotFoundError, uploadedBlobKey, uploadKey, type BlobDriver } from './driver.js';

const NOTHING = async (): Promise<void> => undefined;

/** An in-process driver for tests of code above the storage seam. */
export function createMemoryDriver(): BlobDriver {
  const objects = new Map<string, { bytes: Buffer; modifiedAt: number }>();
  const read = async (key: string, range?: { start: number; end: number }): Promise<Readable> => {
    const o = objects.get(key);
    if (!o) throw new BlobNotFoundError(key);
    return Readable.from(range ? [o.bytes.subarray(range.start, range.end + 1)] : [o.bytes]);
  };
  const id = `memory:${Math.random().toString(36).slice(2)}`;
  return {
    name: 'memory',
    identity: async () => id,
    async stat(key) {
      const o = objects.get(key);
      return o ? { size: o.bytes.length } : undefined;
    },
    read,
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
    async put(key, bytes) {
      objects.set(key, { bytes: Buffer.from(bytes), modifiedAt: Date.now() });
    },
    async delete(key) {
      objects.delete(key);
    },
    async *list(prefix) {
      const base = `${prefix.replace(/\/+$/, '')}/`;
      for (const [key, o] of [...objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (key.startsWith(base)) yield { key, size: o.bytes.length, modifiedAt: o.modifiedAt };
      }
    },
    sessions: {
      portable: false,
      begin: () => ({}),
      async append(id, state, size, source) {
        const key = uploadKey(id);
        const existing = objects.get(key)?.bytes ?? Buffer.alloc(0);
        if (existing.length < size) throw new Error(`cannot write ${key} at ${size}: only ${existing.length} bytes stored`);
        const chunks: Buffer[] = [existing.subarray(0, size)];
        for await (const chunk of source) chunks.push(chunk);
        const bytes = Buffer.concat(chunks);
        objects.set(key, { bytes, modifiedAt: Date.now() });
        return { state, size: bytes.length, settle: NOTHING, undo: NOTHING };
      },
      async read(id, _state, size) {
        if (size === 0) return Readable.from([]);
        return read(uploadKey(id), { start: 0, end: size - 1 });
      },
      async finish(id, _state, size, digest) {
        const o = objects.get(uploadKey(id)) ?? (size === 0 ? { bytes: Buffer.alloc(0), modifiedAt: Date.now() } : undefined);
        if (!o) throw new BlobNotFoundError(uploadKey(id));
        const target = digest ? blobKey(digest) : uploadedBlobKey(id);
        objects.set(target, { bytes: o.bytes.subarray(0, size), modifiedAt: Date.now() });
        objects.delete(uploadKey(id));
        return target;
      },
      async abort(id) {
        objects.delete(uploadKey(id));
      },
      async sweep(cutoff, isLive) {
        let removed = 0;
        for (const [key, o] of [...objects]) {
          if (!key.startsWith('uploads/') || o.modifiedAt >= cutoff) continue;
          if (await isLive(key.slice('uploads/'.length))) continue;
          objects.delete(key);
          removed++;
        }
        return removed;
      },
    },
  };
}
