import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  /** The last data that loaded completely; kept while a reload runs or after it fails. */
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again; resolves once the new data (or error) is in. */
  reload: () => Promise<void>;
}

/**
 * Runs `load` when `deps` change and on reload(). A load replaces the data only when all of
 * it arrived: a page never shows half of one answer and half of another, and a failed load
 * leaves the last good data in place (with the error). A newer load aborts an older one.
 * Components showing something else entirely are remounted (keyed) instead.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const current = useRef<AbortController | undefined>(undefined);
  const loader = useRef(load);
  loader.current = load;

  const run = useCallback(async () => {
    current.current?.abort();
    const controller = new AbortController();
    current.current = controller;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await loader.current(controller.signal);
      if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
    } catch (error) {
      if (!controller.signal.aborted) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, []);

  useEffect(() => {
    void run();
    return () => current.current?.abort();
  }, deps);

  return { ...state, reload: run };
}
