import type { AppContext } from '../context.js';
import { startPoller, type Poller } from './poller.js';

/** Periodically removes abandoned upload sessions and orphaned temporary files. */
export function startUploadExpiry(ctx: AppContext): Poller {
  const ttlMs = ctx.config.uploadTtlSeconds * 1000;
  return startPoller(
    async () => {
      const removed = await ctx.uploads.expire(Date.now() - ttlMs);
      if (removed > 0) ctx.logger.info({ removed }, 'expired abandoned uploads');
    },
    Math.min(Math.max(ttlMs / 4, 1000), 10 * 60 * 1000),
    (err) => ctx.logger.error({ err }, 'upload expiry failed'),
  );
}
