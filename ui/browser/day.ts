/// <reference types="node" />
// A day at the desk, compressed: customers write in, the agent opens conversation after
// conversation and searches now and then. Shared by the footprint benchmark (footprint.ts) and the
// test that the idle page stays bounded after it (footprint.browser.test.ts). The real app's day
// in scripts/bench-footprint.sh has the same shape (webhooks to the relay, `j` and Ctrl+K typed).
import type { Page } from 'playwright-core';

/** How much happens in a day. */
export type Day = { incoming: number; opens: number; searches: string[] };

/** The day: a thousand incoming messages, a hundred conversations opened, a few searches. */
export const DAY: Day = { incoming: 1000, opens: 100, searches: ['invoice', 'order', 'refund', 'delivery', 'invo'] };

/** Plays `day` on `page` (the app over the fake backend, with the list loaded). */
export async function simulateDay(page: Page, day: Day = DAY): Promise<void> {
  const perOpen = Math.max(1, Math.floor(day.incoming / Math.max(1, day.opens)));
  const searchEvery = Math.max(1, Math.floor(day.opens / Math.max(1, day.searches.length)));
  let searched = 0;
  for (let i = 0; i < day.opens; i++) {
    // Customers write to the conversations near the top of the list (the open one among them).
    await page.evaluate(
      ({ from, n }) => {
        const fake = window as unknown as { __FAKE_INCOMING__: (id: number) => void };
        for (let k = 0; k < n; k++) fake.__FAKE_INCOMING__(((from + k * 7) % 200) + 1);
      },
      { from: i * perOpen, n: perOpen },
    );
    await page.keyboard.press('j');
    await page.waitForTimeout(150);
    if ((i + 1) % searchEvery === 0 && searched < day.searches.length) {
      await page.keyboard.press('Control+k');
      await page.keyboard.type(day.searches[searched++], { delay: 30 });
      await page.waitForTimeout(300);
      await page.keyboard.press('Escape');
    }
  }
}

/** What the page holds, from Chromium's own counters (after a garbage collection). */
export type PageCounts = { nodes: number; listeners: number; jsHeapUsed: number; documents: number };

/** Collects garbage, then reads the live DOM nodes, event listeners and JS heap of `page`. */
export async function pageCounts(page: Page): Promise<PageCounts> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.send('Performance.enable');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
    return {
      nodes: metric('Nodes'),
      listeners: metric('JSEventListeners'),
      jsHeapUsed: metric('JSHeapUsedSize'),
      documents: metric('Documents'),
    };
  } finally {
    await cdp.detach();
  }
}
