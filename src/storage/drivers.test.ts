import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeBlobDriver } from './driver-suite.js';
import { createFilesystemDriver } from './filesystem.js';
import { createMemoryDriver } from './memory.js';

describeBlobDriver('filesystem', async () => createFilesystemDriver(await mkdtemp(path.join(tmpdir(), 'berth-fs-'))));
describeBlobDriver('memory', async () => createMemoryDriver());

describe('filesystem driver', () => {
  it('refuses keys that would escape its root', async () => {
    const d = createFilesystemDriver(await mkdtemp(path.join(tmpdir(), 'berth-fs-')));
    await expect(d.stat('../etc/passwd')).rejects.toThrow(/unsafe/);
    await expect(d.put('/abs', Buffer.from('x'))).rejects.toThrow(/unsafe/);
  });
});
