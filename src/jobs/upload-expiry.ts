import type { AppContext } from '../context.js';

/** Periodically removes abandoned upload sessions and orphaned temporary files. */
export function startUploadExpiry(ctx: AppContext): { stop(): Promise<void> } {
  const ttlMs = ctx.config.uploadTtlSeconds * 1000;
  const intervalMs = Math.min(Math.max(ttlMs / 4, 1000), 10 * 60 * 1000);
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return;
    running = ctx.uploads
      .expire(Date.now() - ttlMs)
      .then((removed) => {
        if (removed > 0) ctx.logger.info({ removed }, 'expired abandoned uploads');
      })
      .catch((err: unknown) => ctx.logger.error({ err }, 'upload expiry failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
