/**
 * `run` at most once every `everyMs`: the first call runs at once; calls within the window after
 * it are folded into one more run at the window's end, so the last change is never missed.
 * For work that reads the whole cache (the status bar's counts over a million messages), asked
 * for on every change, where a busy inbox changes many times a second.
 */
export function throttled(run: () => unknown, everyMs: number): Throttled {
  let last = -Infinity;
  let pending: ReturnType<typeof setTimeout> | null = null;
  const fire = () => {
    pending = null;
    last = Date.now();
    run();
  };
  const ask = () => {
    if (pending) return;
    const wait = last + everyMs - Date.now();
    if (wait <= 0) fire();
    else pending = setTimeout(fire, wait);
  };
  ask.cancel = () => {
    if (pending) clearTimeout(pending);
    pending = null;
  };
  return ask;
}

/** A throttled call; `cancel` drops a run still waiting for its window (on unmount). */
export type Throttled = (() => void) & { cancel: () => void };
