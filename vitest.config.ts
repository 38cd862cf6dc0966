import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';
import { missingPostgresTools } from './test/support/postgres.js';
import { isCI } from './test/support/tools.js';

// Every test file runs twice: once against SQLite, once against PostgreSQL. Tests learn the
// dialect from BERTH_TEST_DIALECT and get databases from test/support/database.ts.
const include = ['src/**/*.test.ts', 'test/**/*.test.ts'];

function project(dialect: 'sqlite' | 'postgres'): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name: dialect,
      include,
      env: { BERTH_TEST_DIALECT: dialect },
      globalSetup: [
        './test/support/tmp-global-setup.ts',
        ...(dialect === 'postgres' ? ['./test/support/postgres-global-setup.ts'] : []),
      ],
    },
  };
}

const projects = [project('sqlite')];
const missingPostgres = missingPostgresTools();
if (missingPostgres.length === 0 || isCI()) {
  // Under CI the project stays even without PostgreSQL: its global setup then fails loudly.
  projects.push(project('postgres'));
} else {
  process.stderr.write(
    `\n[vitest.config] skipping the postgres project: ${missingPostgres.join(', ')} not found ` +
      '(install postgresql-15; under CI=true this is a failure)\n\n',
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
