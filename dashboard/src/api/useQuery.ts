import { useCallback, useEffect, useRef, useState } from "react";

export interface Query<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads `load()` whenever `key` changes (and on `reload`); drops answers that arrive after a newer key. */
export function useQuery<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
): Query<T> {
  const [state, setState] = useState<{
    key: string | null;
    data?: T;
    error?: unknown;
    loading: boolean;
  }>({ key: null, loading: key !== null });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    setState((s) => ({ key, data: s.key === key ? s.data : undefined, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, data, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ key, error, loading: false });
      },
    );
    return () => controller.abort();
    // `load` is recreated on every render; the key says when the request changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, generation]);

  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: key !== null && (!current || state.loading),
    reload,
  };
}

/**
 * When the page reads the views derived from a write again, in ms after it (see `useReloadAfterWrite`): at
 * once, then twice more as the bus catches up — in-process in milliseconds, through EventBridge and SQS
 * (AWS mode) in up to a few seconds.
 */
export const RELOAD_AFTER_WRITE_MS = [0, 1_500, 5_000];

/**
 * Re-reads a query after each write the page made (`writes` counts them; 0 = none yet), at the times in
 * `RELOAD_AFTER_WRITE_MS`. Views derived from a write (the overview's due items, the value, the historian's
 * recommendations) are read models the bus updates a moment after the write is accepted, so the first read
 * can still be the old one; the later ones pick up what they computed from it.
 */
export function useReloadAfterWrite(writes: number, reload: () => void) {
  useEffect(() => {
    if (writes === 0) return;
    const timers = RELOAD_AFTER_WRITE_MS.map((ms) => window.setTimeout(reload, ms));
    return () => timers.forEach((t) => window.clearTimeout(t));
  }, [writes, reload]);
}

/**
 * When a page reads a new vehicle's views again while they have not caught up, in ms after it opened: the
 * read models (the overview, the value, the maintenance schedule, even the vehicle itself: 404) are filled
 * by the bus a moment after the registration — in-process in milliseconds, in AWS mode in a second or two.
 * Then it stops: a vehicle may stay without a value.
 */
export const CATCH_UP_MS = [500, 1_000, 2_000, 3_500, 5_000, 8_000, 12_000];

/**
 * Calls `reload` at the times in `CATCH_UP_MS` after `active` became true, each time only while `waiting()`
 * still says the views have not caught up (read at that moment, so a reload in flight does not restart the
 * schedule). Bounded: after the last time, nothing more. Answers whether it may still read again (a 404
 * meanwhile is the read model lagging, not yet an error to show).
 */
export function useCatchUp(active: boolean, waiting: () => boolean, reload: () => void): boolean {
  const still = useRef(waiting);
  still.current = waiting;
  const again = useRef(reload);
  again.current = reload;
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (!active) return;
    setDone(false);
    const timers = CATCH_UP_MS.map((ms, i) =>
      window.setTimeout(() => {
        const wait = still.current();
        if (wait) again.current();
        if (!wait || i === CATCH_UP_MS.length - 1) {
          timers.forEach((t) => window.clearTimeout(t));
          setDone(true);
        }
      }, ms),
    );
    return () => timers.forEach((t) => window.clearTimeout(t));
  }, [active]);
  return active && !done;
}
