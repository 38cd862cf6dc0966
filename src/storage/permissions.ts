import { chmod, lstat, opendir } from 'node:fs/promises';
import path from 'node:path';

/** Directories Berth creates: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Files Berth creates (the database with the signing key, blobs, uploads): owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/** One permission change: the path and its mode before and after. */
export interface ModeChange {
  path: string;
  from: number;
  to: number;
}

/** Stats in flight at once while walking: enough to keep the disk busy, few enough for the loop. */
const CONCURRENCY = 64;

/**
 * Takes group and other permissions away from `root` and everything under it (symbolic links
 * are neither followed nor changed), so data written by an older version or copied in with a
 * lax umask is as private as what Berth creates now. Walks each directory once, stats its
 * entries concurrently and changes only what needs it. A missing root is not an error.
 */
export async function restrictTree(root: string): Promise<ModeChange[]> {
  const changes: ModeChange[] = [];
  const pending: string[] = [root];
  while (pending.length > 0) {
    const batch = pending.splice(0, CONCURRENCY);
    await Promise.all(
      batch.map(async (entry) => {
        const kind = await restrict(entry, changes);
        if (kind === 'directory') for (const child of await children(entry)) pending.push(child);
      }),
    );
  }
  return changes;
}

/** The same for single files (the SQLite database and its -wal and -shm), where they exist. */
export async function restrictFiles(files: readonly string[]): Promise<ModeChange[]> {
  const changes: ModeChange[] = [];
  await Promise.all(files.map((file) => restrict(file, changes)));
  return changes;
}

async function restrict(file: string, changes: ModeChange[]): Promise<'directory' | 'file' | 'other' | undefined> {
  let stats;
  try {
    stats = await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (stats.isSymbolicLink()) return 'other';
  const mode = stats.mode & 0o7777;
  if ((mode & 0o077) !== 0) {
    const to = mode & ~0o077;
    await chmod(file, to);
    changes.push({ path: file, from: mode, to });
  }
  return stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : 'other';
}

async function children(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of await opendir(dir)) names.push(path.join(dir, entry.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return names;
}

/** `0644` style, for log lines. */
export function formatMode(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
