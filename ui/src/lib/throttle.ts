/**
 * `run` at most once every `everyMs`: the first call runs at once; calls within the window after
 * it are folded into one more run at the window's end, so the last change is never missed.
 * For work that reads the whole cache (the status bar's counts over a million messages), asked
 * for on every change, where a busy inbox changes many times a second. `everyMs` may be a
 * function, asked at each call: a window that follows what the work last cost.
 */
export function throttled(run: () => unknown, everyMs: number | (() => number)): Throttled {
  let last = -Infinity;
  let pending: ReturnType<typeof setTimeout> | null = null;
  const fire = () => {
    pending = null;
    last = Date.now();
    run();
  };
  const ask = () => {
    if (pending) return;
    const windowMs = typeof everyMs === 'function' ? everyMs() : everyMs;
    const wait = last + windowMs - Date.now();
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
