import type { Logger } from 'pino';
import type { GarbageCollectionService } from '../gc/index.js';

export interface GcWorker {
  /** Stops polling and waits for the tick in progress, if any. */
  stop(): Promise<void>;
  /** Runs a tick soon (e.g. right after a run was requested or cancelled). */
  kick(): void;
}

/**
 * Executes garbage collection runs: every `intervalMs` (default 2 s) one `runPending` tick
 * claims what is waiting, on this node or left by a crashed one. Ticks never overlap; a kick
 * during a tick runs the next one as soon as it ends.
 */
export function startGcWorker(ctx: { gc: GarbageCollectionService; logger: Logger }, intervalMs = 2_000): GcWorker {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let kicked = false;

  const schedule = (delay: number): void => {
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
    timer.unref();
  };

  function tick(): void {
    if (stopped || running) return;
    kicked = false;
    running = ctx.gc
      .runPending()
      .then((finished) => {
        if (finished > 0) ctx.logger.debug({ finished }, 'garbage collection runs finished');
      })
      .catch((err: unknown) => ctx.logger.error({ err }, 'garbage collection worker tick failed'))
      .finally(() => {
        running = undefined;
        if (!stopped) schedule(kicked ? 0 : intervalMs);
      });
  }

  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    kick() {
      if (stopped) return;
      if (running) kicked = true;
      else schedule(0);
    },
  };
}
