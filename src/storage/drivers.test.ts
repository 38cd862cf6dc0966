import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeBlobDriver } from './driver-suite.js';
import { createFilesystemDriver } from './filesystem.js';
import { createMemoryDriver } from './memory.js';
import { createS3Driver } from './s3.js';
import { testS3Options, testStorage } from '../../test/support/storage.js';
import { makeTempDir } from '../../test/support/tmp.js';

describeBlobDriver('filesystem', async () => {
  const root = await makeTempDir('fs');
  return { driver: createFilesystemDriver(root), another: () => createFilesystemDriver(root) };
});
describeBlobDriver('memory', async () => {
  const driver = createMemoryDriver();
  return { driver, another: () => driver };
});
if (testStorage() === 's3') {
  describeBlobDriver('s3', async () => {
    const options = testS3Options(`suite-${randomBytes(6).toString('hex')}`);
    return { driver: createS3Driver(options), another: () => createS3Driver(options) };
  });
}

describe('filesystem driver', () => {
  it('refuses keys that would escape its root', async () => {
    const d = createFilesystemDriver(await makeTempDir('fs'));
    await expect(d.stat('../etc/passwd')).rejects.toThrow(/unsafe/);
    await expect(d.put('/abs', Buffer.from('x'))).rejects.toThrow(/unsafe/);
  });

  it('has one identity per directory, kept across instances', async () => {
    const root = await makeTempDir('fs');
    const first = await createFilesystemDriver(root).identity();
    expect(first).toMatch(/^file:[0-9a-f-]{36}$/);
    expect(await createFilesystemDriver(root).identity()).toBe(first);
    expect(await createFilesystemDriver(await makeTempDir('fs')).identity()).not.toBe(first);
  });
});
