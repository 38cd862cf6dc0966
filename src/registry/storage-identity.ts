import type { Logger } from 'pino';
import type { Db } from '../db/index.js';

const KEY = 'storage_identity';

/**
 * Ties the database to one blob storage. Every node records the identity of its storage (see
 * `BlobDriver.identity`); a node whose storage differs from the one the database's blobs live
 * in refuses to start instead of serving "blob unknown" for everything the others stored. This
 * is what catches several filesystem nodes on one PostgreSQL: each disk has its own identity.
 * A database without blobs adopts the storage of whichever node starts (a fresh install, or a
 * switch made before the first push).
 */
export async function claimStorage(db: Db, identity: string, logger: Logger): Promise<void> {
  await db.insertInto('settings').values({ key: KEY, value: identity }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const recorded = (await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirstOrThrow()).value;
  if (recorded === identity) return;
  const anyBlob = await db.selectFrom('blobs').select('digest').limit(1).executeTakeFirst();
  if (!anyBlob) {
    await db.updateTable('settings').set({ value: identity }).where('key', '=', KEY).execute();
    logger.warn({ previous: recorded, storage: identity }, 'this database had no blobs yet; it now belongs to this node\'s storage');
    return;
  }
  const several = recorded.startsWith('file:') && identity.startsWith('file:');
  throw new Error(
    `this database's blobs are in storage ${recorded}, but this node's storage is ${identity}. ` +
      (several
        ? 'Each filesystem directory is its own storage: several nodes on one database need shared storage (S3, see README "Scaling out") or the very same directory. '
        : 'Point --storage-url at the storage the database was used with. ') +
      'If you copied the blobs to this storage deliberately, delete the storage_identity row of the settings table once.',
  );
}
