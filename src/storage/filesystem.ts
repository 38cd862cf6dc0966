import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AppError } from '../errors/index.js';
import { blobKey, BlobNotFoundError, uploadedBlobKey, uploadKey, type BlobDriver, type UploadSessions } from './driver.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './permissions.js';
import { rejectingWith } from './rejecting.js';

const NOTHING = async (): Promise<void> => undefined;

/**
 * Keys map to files under `root`. Writes go through fsync and rename, never in place. An
 * upload appends to `uploads/<id>` and is renamed to its digest's key when it finishes.
 * Sessions are tied to this disk: several nodes need shared storage (S3). Every directory is
 * created 0700 and every file 0600: blobs are the registry's private content.
 */
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

  async function read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = resolve(key);
    // Open first so a missing file is a clean BlobNotFoundError, not a stream error later.
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    }
    return createReadStream('', { fd: handle, start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 }) as Readable;
  }

  async function put(key: string, bytes: Buffer): Promise<void> {
    const file = resolve(key);
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const temp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
    const handle = await open(temp, 'w', PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (err) {
      // A write that failed (a full disk) leaves no temp file behind.
      await handle.close().catch(() => undefined);
      await removeFile(temp);
      throw err;
    }
    await handle.close();
    await rename(temp, file);
    await fsyncDir(path.dirname(file));
  }

  /**
   * Writes `source` into the file at `offset` and returns the new size. On failure the file
   * keeps its first `offset` bytes; bytes beyond it from an interrupted attempt are discarded.
   */
  async function writeAt(key: string, source: AsyncIterable<Buffer>, offset: number): Promise<number> {
    const file = resolve(key);
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const handle = await open(file, offset === 0 ? 'w' : 'r+', PRIVATE_FILE_MODE);
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
  }

  const sessions: UploadSessions = {
    portable: false,
    begin: () => ({}),
    async append(id, state, size, source) {
      const written = await writeAt(uploadKey(id), source, size);
      return { state, size: written, settle: NOTHING, undo: NOTHING };
    },
    async read(id, _state, size) {
      if (size === 0) return Readable.from([]);
      return read(uploadKey(id), { start: 0, end: size - 1 });
    },
    async finish(id, _state, size, digest) {
      const target = digest ? blobKey(digest) : uploadedBlobKey(id);
      const source = resolve(uploadKey(id));
      let handle: FileHandle;
      try {
        handle = await open(source, 'r+');
      } catch (err) {
        // An empty upload that never got a PATCH has no file.
        if (isNotFound(err) && size === 0) {
          await put(target, Buffer.alloc(0));
          return target;
        }
        if (isNotFound(err)) throw new BlobNotFoundError(uploadKey(id));
        throw err;
      }
      try {
        const { size: actual } = await handle.stat();
        if (actual !== size) await handle.truncate(size);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const file = resolve(target);
      await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
      // rename() replaces atomically; when the content already exists the bytes are identical.
      await rename(source, file);
      await fsyncDir(path.dirname(file));
      return target;
    },
    async abort(id) {
      await removeFile(resolve(uploadKey(id)));
    },
    async sweep(cutoff, isLive) {
      let removed = 0;
      for await (const object of walk(resolve('uploads'), 'uploads')) {
        if (object.modifiedAt >= cutoff) continue;
        if (await isLive(object.key.slice('uploads/'.length))) continue;
        await removeFile(resolve(object.key));
        removed++;
      }
      return removed;
    },
  };

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

    read,
    put,

    async openRandomAccess(key) {
      let handle: FileHandle;
      try {
        handle = await open(resolve(key), 'r');
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(key);
        throw err;
      }
      const { size } = await handle.stat();
      return {
        size,
        read: async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead,
        close: () => handle.close(),
      };
    },

    async delete(key) {
      await removeFile(resolve(key));
    },

    async *list(prefix) {
      const base = resolve(prefix);
      yield* walk(base, prefix.replace(/\/+$/, ''));
    },

    sessions,

    /** A random id kept in `<root>/berth-storage-id`, made by the first node that starts here. */
    async identity() {
      const file = resolve('berth-storage-id');
      await mkdir(root, { recursive: true, mode: PRIVATE_DIR_MODE });
      try {
        await writeFile(file, `${randomUUID()}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      return `file:${(await readFile(file, 'utf8')).trim()}`;
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

/**
 * unlink, not rm(): rm's generic walk costs ten times as much per file, which a collection
 * deleting tens of thousands of blobs feels. A missing file is not an error.
 */
async function removeFile(file: string): Promise<void> {
  await unlink(file).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT' || (err as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}
