import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttled } from './throttle';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('throttled', () => {
  it('runs at once, folds a burst into one run at the end of the window, and misses no last call', () => {
    const run = vi.fn();
    const ask = throttled(run, 10_000);
    ask();
    expect(run).toHaveBeenCalledTimes(1);
    // A burst of changes within the window: one more run, at its end.
    for (let i = 0; i < 50; i++) ask();
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(9_999);
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(2);
    // Quiet for longer than the window: the next call runs at once again.
    vi.advanceTimersByTime(20_000);
    ask();
    expect(run).toHaveBeenCalledTimes(3);
  });

  it('drops a run still waiting when cancelled', () => {
    const run = vi.fn();
    const ask = throttled(run, 10_000);
    ask();
    ask();
    ask.cancel();
    vi.advanceTimersByTime(20_000);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('asks a window given as a function at each call, so it can follow what the work costs', () => {
    const run = vi.fn();
    let windowMs = 1_000;
    const ask = throttled(run, () => windowMs);
    ask();
    ask();
    vi.advanceTimersByTime(1_000);
    expect(run).toHaveBeenCalledTimes(2);
    // The work grew costly: the next window is longer.
    windowMs = 8_000;
    ask();
    vi.advanceTimersByTime(7_999);
    expect(run).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(3);
  });
});
