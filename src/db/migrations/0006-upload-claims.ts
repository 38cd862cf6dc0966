import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen in time and must not follow the live schema types */
export async function up(db: Kysely<any>): Promise<void> {
  // Bytes an upload's request in flight has claimed beyond what it stored, and until when the
  // claim holds (a node that dies mid-stream must not keep the team's allowance forever).
  await db.schema.alterTable('uploads').addColumn('reserved_bytes', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('uploads').addColumn('reserved_until', 'bigint').execute();
  await db.schema.createIndex('uploads_repository').on('uploads').column('repository_id').execute();
}
