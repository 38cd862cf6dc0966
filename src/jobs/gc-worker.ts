import type { Logger } from 'pino';
import type { GarbageCollectionService } from '../gc/index.js';
import { startPoller, type Poller } from './poller.js';

export type GcWorker = Poller;

/**
 * Executes garbage collection runs: every `intervalMs` (default 2 s) one `runPending` tick
 * claims what is waiting, on this node or left by a crashed one. Ticks never overlap; a kick
 * (right after a run was requested or cancelled) runs the next one as soon as possible.
 */
export function startGcWorker(ctx: { gc: GarbageCollectionService; logger: Logger }, intervalMs = 2_000): GcWorker {
  return startPoller(
    async () => {
      const finished = await ctx.gc.runPending();
      if (finished > 0) ctx.logger.debug({ finished }, 'garbage collection runs finished');
    },
    intervalMs,
    (err) => ctx.logger.error({ err }, 'garbage collection worker tick failed'),
  );
}
