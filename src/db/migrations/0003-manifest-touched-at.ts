import type { Kysely } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen in time and must not follow the live schema types */
export async function up(db: Kysely<any>): Promise<void> {
  // When a manifest was last pushed or referenced by a new index: garbage collection's grace
  // clock. Kept apart from updated_at, which the API reports and only the manifest's own
  // pushes and tag changes move.
  await db.schema.alterTable('manifests').addColumn('touched_at', 'bigint').execute();
  await db.updateTable('manifests').set((eb: any) => ({ touched_at: eb.ref('updated_at') })).execute();
}
