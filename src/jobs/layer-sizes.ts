import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { measureUncompressedSize } from '../registry/uncompressed-size.js';
import { blobKey, type BlobDriver } from '../storage/index.js';
import { startPoller, type Poller } from './poller.js';

export type LayerSizeJob = Poller;

type JobContext = { db: Db; driver: BlobDriver; logger: Logger };

const BATCH = 16;

/**
 * Fills `blobs.uncompressed_size` where it is still null, in small batches, reading each
 * blob's media type from the manifests that reference it. Every blob visited gets a value:
 * one that cannot be measured (missing or corrupt bytes, zstd without content sizes on this
 * Node) is logged and gets its compressed size, so no blob is retried forever.
 * Returns how many blobs got a size. Several nodes may run this at once: the work is
 * idempotent and the update only fills a null.
 */
export async function fillUncompressedSizes(ctx: JobContext, shouldStop: () => boolean = () => false): Promise<number> {
  let filled = 0;
  let after = '';
  for (;;) {
    const batch = await ctx.db
      .selectFrom('blobs')
      .select(['digest', 'size', 'storage_key'])
      .where('uncompressed_size', 'is', null)
      .where('digest', '>', after)
      .orderBy('digest')
      .limit(BATCH)
      .execute();
    if (batch.length === 0) return filled;
    after = batch[batch.length - 1]!.digest;
    for (const blob of batch) {
      if (shouldStop()) return filled;
      const mediaType = await mediaTypeOf(ctx.db, blob.digest);
      let size: number;
      try {
        const measured = await measureUncompressedSize(ctx.driver, blob.storage_key ?? blobKey(blob.digest), blob.size, mediaType);
        if (measured === undefined) ctx.logger.info({ digest: blob.digest, mediaType }, 'uncompressed size unknown (zstd without content size); using the compressed size');
        size = measured ?? blob.size;
      } catch (err) {
        ctx.logger.warn({ err, digest: blob.digest, mediaType }, 'could not measure the uncompressed size; using the compressed size');
        size = blob.size;
      }
      const result = await ctx.db.updateTable('blobs').set({ uncompressed_size: size }).where('digest', '=', blob.digest).where('uncompressed_size', 'is', null).executeTakeFirst();
      filled += Number(result.numUpdatedRows);
    }
  }
}

/** How a manifest describes the blob: as a config or layer, else as a manifest; undefined if unreferenced. */
async function mediaTypeOf(db: Db, digest: string): Promise<string | undefined> {
  const ref = await db
    .selectFrom('manifest_refs')
    .select('media_type')
    .where('digest', '=', digest)
    .where('media_type', 'is not', null)
    .orderBy('kind') // 'blob' before 'manifest'
    .limit(1)
    .executeTakeFirst();
  if (ref?.media_type) return ref.media_type;
  const manifest = await db.selectFrom('manifests').select('media_type').where('digest', '=', digest).limit(1).executeTakeFirst();
  return manifest?.media_type;
}

/** Runs `fillUncompressedSizes` every `intervalMs` (default 10 s); passes never overlap. */
export function startLayerSizeJob(ctx: JobContext, intervalMs = 10_000): LayerSizeJob {
  return startPoller(
    async (isStopped) => {
      const filled = await fillUncompressedSizes(ctx, isStopped);
      if (filled > 0) ctx.logger.debug({ filled }, 'filled uncompressed layer sizes');
    },
    intervalMs,
    (err) => ctx.logger.error({ err }, 'layer size job failed'),
  );
}
