import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { Metrics } from '../metrics/index.js';
import { startPoller, type Poller } from './poller.js';

type JobContext = { db: Db; metrics: Metrics; logger: Logger };

/**
 * Sets the gauges that come from the database: storage per registry (the figure the API
 * reports), bytes and count of every recorded blob, open upload sessions. Every node exports
 * the same cluster-wide values; aggregate them with max(), not sum().
 */
export async function refreshStorageGauges(ctx: JobContext): Promise<void> {
  const registries = await ctx.db.selectFrom('registries').select(['name', 'storage_usage_bytes']).execute();
  const blobs = await ctx.db
    .selectFrom('blobs')
    .select([sql<number>`count(*)`.as('count'), sql<number>`coalesce(sum(size), 0)`.as('bytes')])
    .executeTakeFirstOrThrow();
  const uploads = await ctx.db.selectFrom('uploads').select(sql<number>`count(*)`.as('count')).executeTakeFirstOrThrow();
  // Reset first so a deleted registry's series disappears.
  ctx.metrics.registryStorageBytes.reset();
  for (const r of registries) ctx.metrics.registryStorageBytes.set({ registry: r.name }, Number(r.storage_usage_bytes));
  ctx.metrics.blobStoreBlobs.set(Number(blobs.count));
  ctx.metrics.blobStoreBytes.set(Number(blobs.bytes));
  ctx.metrics.uploadSessions.set(Number(uploads.count));
}

export interface StorageGauges extends Poller {
  /**
   * Refreshes now unless the last refresh is younger than `maxAgeMs`, waiting at most
   * `waitMs`: a scrape gets fresh figures, and never hangs on a database that is down.
   */
  refreshIfStale(maxAgeMs: number, waitMs: number): Promise<void>;
}

/** Refreshes the database gauges every `intervalMs` (default 30 s); a failed pass keeps the last values. */
export function startStorageGauges(ctx: JobContext, intervalMs = 30_000): StorageGauges {
  let refreshedAt = 0;
  let running: Promise<void> | undefined;
  const refresh = (): Promise<void> =>
    (running ??= refreshStorageGauges(ctx)
      .then(() => {
        refreshedAt = Date.now();
      })
      .finally(() => {
        running = undefined;
      }));
  const poller = startPoller(refresh, intervalMs, (err) => ctx.logger.warn({ err }, 'could not refresh the storage metrics'));
  return {
    ...poller,
    async refreshIfStale(maxAgeMs, waitMs) {
      if (Date.now() - refreshedAt < maxAgeMs) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([refresh().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    },
  };
}
