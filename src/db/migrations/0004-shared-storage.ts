import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen in time and must not follow the live schema types */
export async function up(db: Kysely<any>): Promise<void> {
  // An upload session continues on any node: the driver's state (S3: multipart upload id,
  // parts, tail objects) and the portable sha256 state live in its row.
  await db.schema.alterTable('uploads').addColumn('driver_state', 'text').execute();
  await db.schema.alterTable('uploads').addColumn('hash_state', 'text').execute();
  // Where a blob's bytes are when not under its digest's own key (a finished S3 upload stays
  // where it landed instead of being copied); null means blobs/<alg>/<2 hex>/<hex>.
  await db.schema.alterTable('blobs').addColumn('storage_key', 'text').execute();
  await db.schema.createIndex('blobs_storage_key').on('blobs').column('storage_key').execute();
  // Facts every node must agree on, such as which blob storage this database belongs to.
  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}
