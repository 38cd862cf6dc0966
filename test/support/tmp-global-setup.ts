/** Vitest global setup: one temporary root per project run, removed when the run ends. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory under which tests create their temporary files. */
    berthTmpRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), `berth-test-${project.name}-`));
  project.provide('berthTmpRoot', root);
  return async () => {
    if (process.env.BERTH_TEST_KEEP_TMP) {
      console.log(`kept temporary files in ${root}`);
      return;
    }
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
