import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../errors/index.js';
import { BlobNotFoundError, type BlobDriver } from './driver.js';

/** Keys map to files under `root`. Writes go through fsync and rename, never in place. */
export function createFilesystemDriver(root: string): BlobDriver {
  return translatingFullDisk(createDriver(root), root);
}

/**
 * A full disk or an exhausted quota becomes one clear `STORAGE_FULL` (507), whichever write
 * path met it. The writes themselves leave nothing half-written behind (truncate, temp files).
 */
function translatingFullDisk(driver: BlobDriver, root: string): BlobDriver {
  return rejectingWith(driver, (err) => {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') return err;
    const what = code === 'ENOSPC' ? 'no space left on the device' : 'the disk quota is exhausted';
    return new AppError('STORAGE_FULL', `the blob store at ${root} is full (${what}); free space and push again`, { cause: err });
  });
}

/** A copy of `target` whose async methods (nested objects' too) reject with `translate(err)`. */
function rejectingWith<T extends object>(target: T, translate: (err: unknown) => unknown): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) {
    if (typeof value === 'function') {
      out[key] = (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(translate(err))) : result;
      };
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = rejectingWith(value as object, translate);
    } else {
      out[key] = value;
    }
  }
  return out as T;
}

function createDriver(root: string): BlobDriver {
  const resolve = (key: string): string => {
    if (key.includes('..') || key.startsWith('/') || key.includes('\0')) throw new Error(`refusing unsafe storage key ${JSON.stringify(key)}`);
    return path.join(root, key);
  };

  async function fsyncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  return {
    name: 'filesystem',

    async stat(key) {
      try {
        const s = await stat(resolve(key));
        return s.isFile() ? { size: s.size } : undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },

    async read(key, range) {
      const file = resolve(key);
      // Open first so a missing file is a clean BlobNotFoundError, not a stream error later.
      let handle: FileHandle;
      try {
        handle = await open(file, 'r');
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(key);
        throw err;
      }
      return createReadStream('', {
        fd: handle,
        start: range?.start,
        end: range?.end,
        highWaterMark: 1024 * 1024,
      }) as Readable;
    },

    async write(key, source, offset) {
      const file = resolve(key);
      await mkdir(path.dirname(file), { recursive: true });
      const handle = await open(file, offset === 0 ? 'w' : 'r+');
      let position = offset;
      try {
        if (offset > 0) {
          const { size } = await handle.stat();
          if (size < offset) throw new Error(`cannot write ${key} at ${offset}: only ${size} bytes stored`);
        }
        // Batch small network chunks into larger writes: fewer syscalls, same memory bound.
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = async (): Promise<void> => {
          if (pendingBytes === 0) return;
          const batch = pending;
          const bytes = pendingBytes;
          pending = [];
          pendingBytes = 0;
          await writeAllAt(handle, batch, position);
          position += bytes;
        };
        for await (const chunk of source) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= 1024 * 1024) await flush();
        }
        await flush();
        await handle.truncate(position);
        return position;
      } catch (err) {
        await handle.truncate(offset).catch(() => undefined);
        throw err;
      } finally {
        await handle.close();
      }
    },

    async put(key, bytes) {
      const file = resolve(key);
      await mkdir(path.dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } catch (err) {
        await handle.close().catch(() => undefined);
        await rm(temp, { force: true });
        throw err;
      }
      await handle.close();
      await rename(temp, file);
      await fsyncDir(path.dirname(file));
    },

    async commit(from, to) {
      const source = resolve(from);
      const target = resolve(to);
      const handle = await open(source, 'r+').catch((err: unknown) => {
        if (isNotFound(err)) throw new BlobNotFoundError(from);
        throw err;
      });
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await mkdir(path.dirname(target), { recursive: true });
      // rename() replaces atomically; when the content already exists the bytes are identical.
      await rename(source, target);
      await fsyncDir(path.dirname(target));
    },

    async delete(key) {
      await rm(resolve(key), { force: true });
    },

    async *list(prefix) {
      const base = resolve(prefix);
      yield* walk(base, prefix.replace(/\/+$/, ''));
    },
  };
}

async function writeAllAt(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers;
  let at = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of remaining) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    remaining = next;
  }
}

async function* walk(dir: string, keyPrefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: number }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    const key = `${keyPrefix}/${entry.name}`;
    if (entry.isDirectory()) {
      yield* walk(full, key);
    } else if (entry.isFile()) {
      const s = await stat(full).catch(() => undefined);
      if (s) yield { key, size: s.size, modifiedAt: s.mtimeMs };
    }
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT' || (err as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}
