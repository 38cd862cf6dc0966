/**
 * restrictTree: every directory and file under the root loses group and other access, only
 * what needs it is changed (a second pass changes nothing), symbolic links are neither
 * followed nor changed, and a missing root is no error.
 */
import { chmod, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restrictTree } from './permissions.js';

describe('restrictTree', () => {
  it('makes a tree of thousands of files owner-only, once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-perm-'));
    await chmod(root, 0o755);
    const outside = await mkdtemp(join(tmpdir(), 'berth-outside-'));
    await chmod(outside, 0o755);
    for (let d = 0; d < 40; d++) {
      const dir = join(root, 'blobs', 'sha256', d.toString(16).padStart(2, '0'));
      await mkdir(dir, { recursive: true, mode: 0o755 });
      for (let f = 0; f < 50; f++) await writeFile(join(dir, `f${f}`), 'x', { mode: 0o644 });
    }
    await chmod(join(root, 'blobs'), 0o750);
    await chmod(join(root, 'blobs', 'sha256'), 0o711);
    await writeFile(join(root, 'private'), 'x', { mode: 0o600 });
    await symlink(outside, join(root, 'link'));

    const changes = await restrictTree(root);
    // The root, blobs/, sha256/, 40 directories and 2 000 files; not `private`, not the link.
    expect(changes).toHaveLength(1 + 2 + 40 + 2000);
    expect(changes.find((c) => c.path === root)).toEqual({ path: root, from: 0o755, to: 0o700 });
    expect(changes.find((c) => c.path.endsWith('/sha256'))).toMatchObject({ from: 0o711, to: 0o700 });
    expect((await lstat(join(root, 'blobs', 'sha256', '0a', 'f7'))).mode & 0o777).toBe(0o600);
    expect((await lstat(outside)).mode & 0o777).toBe(0o755);
    expect(await restrictTree(root)).toEqual([]);
    expect(await restrictTree(join(root, 'missing'))).toEqual([]);
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });
});
