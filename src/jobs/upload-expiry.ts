import type { AppContext } from '../context.js';
import { startPoller, type Poller } from './poller.js';

/** Periodically removes abandoned upload sessions, orphaned temporary files and empty repositories. */
export function startUploadExpiry(ctx: AppContext): Poller {
  const ttlMs = ctx.config.uploadTtlSeconds * 1000;
  return startPoller(
    async () => {
      const cutoff = Date.now() - ttlMs;
      const removed = await ctx.uploads.expire(cutoff);
      if (removed > 0) ctx.logger.info({ removed }, 'expired abandoned uploads');
      const emptied = await ctx.repositories.removeEmpty(cutoff);
      if (emptied > 0) ctx.logger.info({ repositories: emptied }, 'removed empty repositories');
    },
    Math.min(Math.max(ttlMs / 4, 1000), 10 * 60 * 1000),
    (err) => ctx.logger.error({ err }, 'upload expiry failed'),
  );
}
