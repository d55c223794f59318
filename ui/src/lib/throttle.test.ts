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
});
