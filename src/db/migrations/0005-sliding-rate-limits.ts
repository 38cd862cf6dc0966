import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen in time and must not follow the live schema types */
export async function up(db: Kysely<any>): Promise<void> {
  // Fixed-window counters give way to a log of accepted requests per identity: each request
  // counts for exactly one hour (and one minute) from when it was made, as DigitalOcean's do.
  // The counters held nothing worth keeping past the hour.
  await db.schema.dropTable('rate_limits').execute();
  await db.schema
    .createTable('rate_limit_keys')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('seen_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rate_limit_keys_seen').on('rate_limit_keys').column('seen_at').execute();
  await db.schema
    .createTable('rate_limit_hits')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limit_hits_pk', ['key', 'at'])
    .execute();
}
