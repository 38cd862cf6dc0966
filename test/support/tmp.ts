/**
 * Temporary directories for tests. Everything lives under one root per project run, made by
 * tmp-global-setup.ts and removed at its teardown, so nothing is cached between runs.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

function tmpRoot(): string {
  return inject('berthTmpRoot') ?? tmpdir();
}

/** A fresh empty temporary directory under the run's temporary root. */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpRoot(), `${prefix}-`));
}
