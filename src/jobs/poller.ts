/** A background job that can be stopped and asked to run again soon. */
export interface Poller {
  /** Stops polling and waits for the pass in progress, if any. */
  stop(): Promise<void>;
  /** Runs a pass soon (e.g. right after new work was recorded). */
  kick(): void;
}

/**
 * Runs `pass` every `intervalMs`, first right away. Passes never overlap; a kick during a
 * pass runs the next one as soon as it ends. A failed pass is reported and the next one runs
 * on schedule.
 */
export function startPoller(pass: (isStopped: () => boolean) => Promise<void>, intervalMs: number, onError: (err: unknown) => void): Poller {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let kicked = false;

  const schedule = (delay: number): void => {
    clearTimeout(timer);
    timer = setTimeout(run, delay);
    timer.unref();
  };

  function run(): void {
    if (stopped || running) return;
    kicked = false;
    running = pass(() => stopped)
      .catch(onError)
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
