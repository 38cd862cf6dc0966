import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen in time and must not follow the live schema types */
export async function up(db: Kysely<any>): Promise<void> {
  // Layer media types tell the size job how to read a blob's uncompressed size.
  await db.schema.alterTable('manifest_refs').addColumn('media_type', 'text').execute();
  // Uncompressed size, filled in asynchronously; null until known.
  await db.schema.alterTable('blobs').addColumn('uncompressed_size', 'bigint').execute();
  // A tag move or a new tag counts as an update of the manifest for the management API.
  await db.schema.alterTable('manifests').addColumn('updated_at', 'bigint').execute();
  await db.updateTable('manifests').set((eb: any) => ({ updated_at: eb.ref('created_at') })).execute();

  await db.schema
    .createTable('gc_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('registry_id', 'text', (c) => c.notNull().references('registries.id').onDelete('cascade'))
    .addColumn('registry_name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('blobs_deleted', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('freed_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    // A node works on a run only while it holds the lease; another node takes over after it lapses.
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .execute();
  await db.schema.createIndex('gc_runs_registry').on('gc_runs').columns(['registry_id', 'created_at']).execute();

  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limits_pk', ['key', 'window_start'])
    .execute();
}
