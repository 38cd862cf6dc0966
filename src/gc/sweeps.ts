/**
 * The steps of a collection, each safe to repeat and to run beside live pushes. The database
 * decides what is garbage; every delete re-checks its condition in the statement that deletes,
 * so whatever a concurrent push committed in between wins.
 *
 *   removeUntaggedManifests   manifests of a repository nothing needs (no tag, no parent, no subject)
 *   unlinkUnreferencedBlobs   repository_blobs links no manifest of the repository references
 *   deleteUnlinkedBlobs       blobs rows (and bytes) linked nowhere, globally
 *   sweepOrphanedBytes        bytes under blobs/ that no blobs row names
 *
 * Everything honours a cutoff: objects written or touched after it are left for a later run,
 * because a push links blobs before its manifest arrives.
 */
import type { ExpressionBuilder, Transaction } from 'kysely';
import type { Database, Db } from '../db/index.js';
import { parseDigest } from '../oci/index.js';
import { blobKey, uploadIdOfBlobKey, type BlobDriver } from '../storage/index.js';

/** Called between units of work; throws to stop the collection (cancelled, lease lost). */
export type Checkpoint = () => Promise<void>;

/** Records freed objects (`count` of them, `size` bytes in all) inside the transaction that deleted their rows, so counts stay exact. */
export type OnFreed = (tx: Transaction<Database>, size: number, count: number) => Promise<void>;

const BATCH = 200;

/** A manifest nothing keeps: untagged, no parent index in the repository, no living subject. */
function unneededManifest(repositoryId: string) {
  return (eb: ExpressionBuilder<Database, 'manifests'>) =>
    eb.and([
      eb.not(eb.exists(eb.selectFrom('tags as t').select('t.name').whereRef('t.manifest_id', '=', 'manifests.id'))),
      eb.not(
        eb.exists(
          eb
            .selectFrom('manifest_refs as r')
            .innerJoin('manifests as parent', 'parent.id', 'r.manifest_id')
            .select('r.position')
            .where('r.kind', '=', 'manifest')
            .where('parent.repository_id', '=', repositoryId)
            .whereRef('r.digest', '=', 'manifests.digest'),
        ),
      ),
      eb.or([
        eb('manifests.subject_digest', 'is', null),
        eb.not(
          eb.exists(
            eb
              .selectFrom('manifests as subject')
              .select('subject.id')
              .where('subject.repository_id', '=', repositoryId)
              .whereRef('subject.digest', '=', 'manifests.subject_digest'),
          ),
        ),
      ]),
    ]);
}

/**
 * Removes the repository's manifests that have no tag, are no child of a remaining manifest
 * of the repository and are no referrer of a manifest that still exists, and that were last
 * pushed or tagged before `cutoff`. Repeats until nothing more goes: an untagged index's
 * children, and the referrers of a removed manifest, become removable once it is gone.
 * A removed manifest takes its refs and its own repository link (its bytes are a blob) along.
 * Works a batch per transaction, so an index of thousands of children costs tens of them.
 * Returns how many manifests were removed.
 */
export async function removeUntaggedManifests(db: Db, repositoryId: string, cutoff: number, checkpoint: Checkpoint): Promise<number> {
  let removed = 0;
  for (;;) {
    let removedThisPass = 0;
    let after = '';
    for (;;) {
      await checkpoint();
      const batch = await db
        .selectFrom('manifests')
        .select(['id', 'digest'])
        .where('repository_id', '=', repositoryId)
        .where('touched_at', '<', cutoff)
        .where('id', '>', after)
        .where(unneededManifest(repositoryId))
        .orderBy('id')
        .limit(BATCH)
        .execute();
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!.id;
      removedThisPass += await removeManifests(
        db,
        repositoryId,
        batch.map((m) => m.id),
        cutoff,
      );
    }
    removed += removedThisPass;
    if (removedThisPass === 0) return removed;
  }
}

async function removeManifests(db: Db, repositoryId: string, ids: string[], cutoff: number): Promise<number> {
  return db.transaction().execute(async (tx) => {
    // The conditions again, in the deleting statement: a tag or index pushed meanwhile wins.
    // An index and its child in one batch: the statement sees the index, so the child stays
    // for the next pass.
    const removed = await tx
      .deleteFrom('manifests')
      .where('id', 'in', ids)
      .where('touched_at', '<', cutoff)
      .where(unneededManifest(repositoryId))
      .returning(['id', 'digest'])
      .execute();
    if (removed.length === 0) return 0;
    const removedIds = removed.map((m) => m.id);
    // Foreign keys cascade these in both dialects; explicit deletes keep that obvious.
    await tx.deleteFrom('manifest_refs').where('manifest_id', 'in', removedIds).execute();
    await tx.deleteFrom('tags').where('manifest_id', 'in', removedIds).execute();
    await tx
      .deleteFrom('repository_blobs')
      .where('repository_id', '=', repositoryId)
      .where(
        'digest',
        'in',
        removed.map((m) => m.digest),
      )
      .where((eb) => eb.not(eb.exists(refsInRepository(eb, repositoryId))))
      .execute();
    return removed.length;
  });
}

/** Refs of the repository's manifests that name `repository_blobs.digest`. */
function refsInRepository(eb: ExpressionBuilder<Database, 'repository_blobs'>, repositoryId: string) {
  return eb
    .selectFrom('manifest_refs as r')
    .innerJoin('manifests as m', 'm.id', 'r.manifest_id')
    .select('r.position')
    .where('m.repository_id', '=', repositoryId)
    .whereRef('r.digest', '=', 'repository_blobs.digest');
}

function unreferencedLink(repositoryId: string) {
  return (eb: ExpressionBuilder<Database, 'repository_blobs'>) =>
    eb.and([
      eb.not(eb.exists(refsInRepository(eb, repositoryId))),
      eb.not(
        eb.exists(
          eb.selectFrom('manifests as own').select('own.id').where('own.repository_id', '=', repositoryId).whereRef('own.digest', '=', 'repository_blobs.digest'),
        ),
      ),
    ]);
}

/**
 * Unlinks blobs from the repository that no manifest of it references (neither as a config,
 * layer or child, nor as a manifest's own bytes) and that were linked before `cutoff`.
 * Returns how many links were removed. The blobs themselves are judged globally later.
 */
export async function unlinkUnreferencedBlobs(db: Db, repositoryId: string, cutoff: number, checkpoint: Checkpoint): Promise<number> {
  let unlinked = 0;
  let after = '';
  for (;;) {
    await checkpoint();
    const batch = await db
      .selectFrom('repository_blobs')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('created_at', '<', cutoff)
      .where('digest', '>', after)
      .where(unreferencedLink(repositoryId))
      .orderBy('digest')
      .limit(BATCH)
      .execute();
    if (batch.length === 0) return unlinked;
    after = batch[batch.length - 1]!.digest;
    const result = await db
      .deleteFrom('repository_blobs')
      .where('repository_id', '=', repositoryId)
      .where(
        'digest',
        'in',
        batch.map((b) => b.digest),
      )
      .where('created_at', '<', cutoff)
      .where(unreferencedLink(repositoryId))
      .executeTakeFirst();
    unlinked += Number(result.numDeletedRows);
  }
}

/**
 * Deletes every blob that no repository links and that was recorded before `cutoff`: the rows
 * (re-checking that no link appeared) and then their bytes, a batch per transaction. Holding
 * the rows' locks while the bytes go makes a concurrent push of the same digest wait for the
 * commit and then see the bytes gone, instead of recording a row for bytes about to vanish. A
 * crash between the byte deletes and the commit leaves unlinked rows without bytes: invisible
 * to every repository, healed by a re-push (which writes bytes it does not find), removed by
 * the next collection. `onFreed` counts objects actually removed from storage, in the same
 * transaction. (On SQLite the transaction holds the process's one connection meanwhile;
 * nothing inside it may wait for another query.) Returns the number of objects and bytes freed.
 */
export async function deleteUnlinkedBlobs(
  db: Db,
  driver: BlobDriver,
  cutoff: number,
  checkpoint: Checkpoint,
  onFreed?: OnFreed,
): Promise<{ blobs: number; bytes: number }> {
  const freed = { blobs: 0, bytes: 0 };
  const unlinked = (eb: ExpressionBuilder<Database, 'blobs'>) =>
    eb.not(eb.exists(eb.selectFrom('repository_blobs as rb').select('rb.repository_id').whereRef('rb.digest', '=', 'blobs.digest')));
  let after = '';
  for (;;) {
    await checkpoint();
    const batch = await db
      .selectFrom('blobs')
      .select(['digest', 'storage_key'])
      .where('created_at', '<', cutoff)
      .where('digest', '>', after)
      .where(unlinked)
      .orderBy('digest')
      .limit(BATCH)
      .execute();
    if (batch.length === 0) return freed;
    after = batch[batch.length - 1]!.digest;
    await checkpoint();
    const done = await db.transaction().execute(async (tx) => {
      // The keys as the deleting transaction sees them: a re-push may have moved one meanwhile.
      const deleted = await tx
        .deleteFrom('blobs')
        .where(
          'digest',
          'in',
          batch.map((b) => b.digest),
        )
        .where('created_at', '<', cutoff)
        .where(unlinked)
        .returning(['digest', 'storage_key'])
        .execute();
      const gone = { blobs: 0, bytes: 0 };
      // The batch's bytes go concurrently: the rows are ours until the commit either way.
      await Promise.all(
        deleted.map(async ({ digest, storage_key }) => {
          const key = storage_key ?? blobKey(digest);
          const stored = await driver.stat(key);
          if (!stored) return;
          await driver.delete(key);
          gone.blobs++;
          gone.bytes += stored.size;
        }),
      );
      if (gone.blobs > 0) await onFreed?.(tx, gone.bytes, gone.blobs);
      return gone;
    });
    freed.blobs += done.blobs;
    freed.bytes += done.bytes;
  }
}

/** `blobs/sha256/ab/abcd…` → `sha256:abcd…`, or undefined for keys that are not blob objects. */
export function digestOfKey(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length !== 4 || parts[0] !== 'blobs') return undefined;
  const digest = parseDigest(`${parts[1]}:${parts[3]}`);
  if (typeof digest !== 'object') return undefined;
  return blobKey(digest.value) === key ? digest.value : undefined;
}

/**
 * Deletes bytes under `blobs/` that no blobs row names and that were last modified more than
 * `olderThanMs` ago, e.g. left by a crash between a blob's commit and its row insert, or
 * written under a digest's own key while its row names another key. Keys the registry did not
 * write (temporary files of a driver) are left alone. Lists storage page by page: memory stays
 * bounded whatever the number of objects.
 *
 * A digest's own key: while deleting, the sweep holds the digest's row (a placeholder when
 * there is none), so a push recording that digest meanwhile waits and then finds the bytes
 * gone rather than trusting them. A finished upload's key (`blobs/uploads/<id>`): only that
 * upload can ever claim it, and it does so in the transaction that removes its session row,
 * so the session row is checked first and the blob rows second.
 * Returns the number of objects and bytes removed.
 */
export async function sweepOrphanedBytes(
  db: Db,
  driver: BlobDriver,
  olderThanMs: number,
  hooks: { checkpoint?: Checkpoint; onFreed?: OnFreed } = {},
): Promise<{ blobs: number; bytes: number }> {
  const cutoff = Date.now() - olderThanMs;
  const freed = { blobs: 0, bytes: 0 };
  for await (const object of driver.list('blobs')) {
    await hooks.checkpoint?.();
    if (object.modifiedAt >= cutoff) continue;
    const digest = digestOfKey(object.key);
    const uploadId = digest ? undefined : uploadIdOfBlobKey(object.key);
    let size: number | undefined;
    if (digest) {
      size = await sweepDigestKey(db, driver, digest, object, hooks.onFreed);
    } else if (uploadId) {
      size = await sweepUploadedKey(db, driver, uploadId, object.key, hooks.onFreed);
    }
    if (size !== undefined) {
      freed.blobs++;
      freed.bytes += size;
    }
  }
  return freed;
}

async function sweepDigestKey(db: Db, driver: BlobDriver, digest: string, object: { key: string; size: number }, onFreed?: OnFreed): Promise<number | undefined> {
  const row = await db.selectFrom('blobs').select('storage_key').where('digest', '=', digest).executeTakeFirst();
  if (row && row.storage_key === null) return undefined;
  return db.transaction().execute(async (tx) => {
    let placeholder = false;
    if (!row) {
      const claimed = await tx
        .insertInto('blobs')
        .values({ digest, size: object.size, uncompressed_size: null, created_at: 0 })
        .onConflict((oc) => oc.column('digest').doNothing())
        .executeTakeFirst();
      if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return undefined;
      placeholder = true;
    } else {
      // Lock the row; it must still name another key.
      const locked = await tx
        .updateTable('blobs')
        .set((eb) => ({ storage_key: eb.ref('storage_key') }))
        .where('digest', '=', digest)
        .where('storage_key', 'is not', null)
        .executeTakeFirst();
      if (Number(locked.numUpdatedRows) === 0) return undefined;
    }
    const stored = await driver.stat(object.key);
    if (stored) await driver.delete(object.key);
    if (placeholder) await tx.deleteFrom('blobs').where('digest', '=', digest).execute();
    if (!stored) return undefined;
    await onFreed?.(tx, stored.size, 1);
    return stored.size;
  });
}

async function sweepUploadedKey(db: Db, driver: BlobDriver, uploadId: string, key: string, onFreed?: OnFreed): Promise<number | undefined> {
  if (await db.selectFrom('uploads').select('id').where('id', '=', uploadId).executeTakeFirst()) return undefined;
  if (await db.selectFrom('blobs').select('digest').where('storage_key', '=', key).executeTakeFirst()) return undefined;
  const stored = await driver.stat(key);
  if (!stored) return undefined;
  await driver.delete(key);
  if (onFreed) await db.transaction().execute((tx) => onFreed(tx, stored.size, 1));
  return stored.size;
}
