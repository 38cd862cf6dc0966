/**
 * Databases for tests. The dialect comes from the Vitest project (BERTH_TEST_DIALECT); every
 * call returns a URL to a new, empty database so servers never share state.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { makeTempDir } from './tmp.js';

export type TestDialect = 'sqlite' | 'postgres';

/** The dialect the current project runs against (BERTH_TEST_DIALECT; sqlite when unset). */
export function testDialect(): TestDialect {
  const value = process.env.BERTH_TEST_DIALECT ?? 'sqlite';
  if (value !== 'sqlite' && value !== 'postgres') {
    throw new Error(`BERTH_TEST_DIALECT must be sqlite or postgres, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A fresh database: `sqlite:<new temp dir>/berth.db`, or on postgres a new database
 * `t_<random>` in the run's shared cluster as `postgres://postgres@127.0.0.1:<port>/<db>`.
 */
export async function testDatabaseUrl(): Promise<string> {
  if (testDialect() === 'sqlite') {
    const dir = await makeTempDir('sqlite');
    return `sqlite:${join(dir, 'berth.db')}`;
  }
  const adminUrl = inject('postgresUrl');
  if (!adminUrl) {
    throw new Error('postgresUrl was not provided: run through the `postgres` Vitest project (its global setup starts the cluster)');
  }
  return createPostgresDatabase(adminUrl, 't');
}

/** A new, empty database `<prefix>_<random>` on the PostgreSQL cluster `adminUrl` points at; its URL. */
export async function createPostgresDatabase(adminUrl: string, prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(8).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
