import { describe, expect, it } from 'vitest';
import { describeBlobDriver } from './driver-suite.js';
import { createFilesystemDriver } from './filesystem.js';
import { createMemoryDriver } from './memory.js';
import { makeTempDir } from '../../test/support/tmp.js';

describeBlobDriver('filesystem', async () => createFilesystemDriver(await makeTempDir('fs')));
describeBlobDriver('memory', async () => createMemoryDriver());

describe('filesystem driver', () => {
  it('refuses keys that would escape its root', async () => {
    const d = createFilesystemDriver(await makeTempDir('fs'));
    await expect(d.stat('../etc/passwd')).rejects.toThrow(/unsafe/);
    await expect(d.put('/abs', Buffer.from('x'))).rejects.toThrow(/unsafe/);
  });
});
