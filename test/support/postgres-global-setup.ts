/**
 * Vitest global setup of the `postgres` project: starts one throw-away PostgreSQL 15 cluster
 * for the whole run, hands its superuser URL to tests (`inject('postgresUrl')`, used by
 * database.ts to create a fresh database per test server) and stops it at teardown.
 */
import type { TestProject } from 'vitest/node';
import { missingPostgresTools, startPostgresCluster } from './postgres.js';
import { isCI } from './tools.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the shared cluster's `postgres` database. */
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const missing = missingPostgresTools();
  if (missing.length > 0) {
    // vitest.config.ts leaves the project out when not on CI; reaching this means CI=true
    // or someone forced the project: either way, fail loudly rather than skip.
    throw new Error(
      `postgres project: PostgreSQL 15 binaries missing (${missing.join(', ')}). ` +
        `Install postgresql-15 (see .ci/run).${isCI() ? ' CI=true: a missing tool is a failure.' : ''}`,
    );
  }
  const started = Date.now();
  const cluster = await startPostgresCluster();
  console.log(`postgres: cluster on 127.0.0.1:${cluster.port} ready in ${Date.now() - started} ms`);
  project.provide('postgresUrl', cluster.url);
  return async () => {
    await cluster.stop();
  };
}
