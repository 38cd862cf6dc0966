import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';
import { missingCephTools, TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY } from './test/support/ceph.js';
import { missingPostgresTools } from './test/support/postgres.js';
import { isCI } from './test/support/tools.js';

// The AWS SDK prints an eight-line notice about Node 22 whenever a client is made, in the
// test processes as in Berth (src/main.ts silences it there); it says nothing about a test.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Every test file runs three times: on SQLite, on PostgreSQL (both with filesystem storage),
// and on PostgreSQL with S3 storage (a throw-away Ceph radosgw). Tests learn the dialect from
// BERTH_TEST_DIALECT and the storage from BERTH_TEST_STORAGE, and get databases and storage
// from test/support/database.ts and storage.ts.
// Files named *.s3.test.ts test what only S3 storage does (redirects, sessions across nodes,
// the multi-node setup) and run in the postgres-s3 project only; files named *.fs.test.ts
// test the filesystem driver's own behaviour (file modes, bytes watched on disk, blobs seeded
// as files) and run in the two filesystem projects only.
const include = ['src/**/*.test.ts', 'test/**/*.test.ts'];
const S3_ONLY = '**/*.s3.test.ts';
const FS_ONLY = '**/*.fs.test.ts';

function project(name: string, dialect: 'sqlite' | 'postgres', storage: 'filesystem' | 's3'): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include,
      exclude: [...configDefaults.exclude, storage === 's3' ? FS_ONLY : S3_ONLY],
      env: {
        BERTH_TEST_DIALECT: dialect,
        BERTH_TEST_STORAGE: storage,
        // The AWS SDK's default chain finds the test cluster's user here (in-process servers
        // and child processes alike).
        ...(storage === 's3' ? { AWS_ACCESS_KEY_ID: TEST_S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: TEST_S3_SECRET_KEY } : {}),
      },
      globalSetup: [
        './test/support/tmp-global-setup.ts',
        ...(dialect === 'postgres' ? ['./test/support/postgres-global-setup.ts'] : []),
        ...(storage === 's3' ? ['./test/support/ceph-global-setup.ts'] : []),
      ],
    },
  };
}

const projects = [project('sqlite', 'sqlite', 'filesystem')];
const missingPostgres = missingPostgresTools();
const missingCeph = missingCephTools();
// Under CI the projects stay even without their servers: their global setups then fail loudly.
if (missingPostgres.length === 0 || isCI()) {
  projects.push(project('postgres', 'postgres', 'filesystem'));
} else {
  process.stderr.write(
    `\n[vitest.config] skipping the postgres project: ${missingPostgres.join(', ')} not found ` +
      '(install postgresql-15; under CI=true this is a failure)\n\n',
  );
}
if ((missingPostgres.length === 0 && missingCeph.length === 0) || isCI()) {
  projects.push(project('postgres-s3', 'postgres', 's3'));
} else {
  process.stderr.write(
    `\n[vitest.config] skipping the postgres-s3 project: ${[...missingPostgres, ...missingCeph].join(', ')} not found ` +
      '(install postgresql-15 and radosgw ceph-mon ceph-osd ceph-common; under CI=true this is a failure)\n\n',
  );
}

export default defineConfig({
  test: {
    projects,
    pool: 'forks',
    // Test files mostly wait on child processes (servers, skopeo, podman), so run a few more
    // than there are cores.
    maxWorkers: Math.max(2, Math.min(6, availableParallelism() + 1)),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    slowTestThreshold: 5_000,
  },
});
