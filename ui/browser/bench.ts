/// <reference types="node" />
// The UI benchmark (docs/benchmarks.md): in Chromium over the fake backend, scroll a conversation
// of 100,000 messages and a list of 50,000 conversations, and report the DOM size and frame times.
//   npm --prefix ui run bench
import { launch, openApp, serveDist } from './harness';

type Frames = { frames: number; p50: number; p95: number; max: number; over50: number };

// Runs in the page, as plain JavaScript (no build helpers inside page.evaluate).
const MEASURE = `async ({ scrollerCss, steps, dy }) => {
  const el = document.querySelector(scrollerCss);
  const gaps = [];
  let rows = 0;
  let last = performance.now();
  for (let i = 0; i < steps; i++) {
    if (dy < 0) el.scrollTop = Math.max(0, el.scrollTop + dy);
    else el.scrollTop += dy;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    rows = Math.max(rows, el.querySelectorAll('[data-testid=message], [data-testid=conversation-row]').length);
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 30)); // let pages load
  }
  gaps.sort((a, b) => a - b);
  const at = (p) => gaps[Math.round((gaps.length - 1) * p)];
  return { rows, frames: { frames: gaps.length, p50: at(0.5), p95: at(0.95), max: gaps[gaps.length - 1], over50: gaps.filter((g) => g > 50).length } };
}`;

async function measure(
  page: import('playwright-core').Page,
  scrollerCss: string,
  steps: number,
  dy: number,
): Promise<{ rows: number; frames: Frames }> {
  return page.evaluate(`(${MEASURE})(${JSON.stringify({ scrollerCss, steps, dy })})`) as Promise<{ rows: number; frames: Frames }>;
}

const { url, server } = await serveDist();
const browser = await launch();
try {
  const list = await openApp(browser, url, 50000, 100);
  await list.waitForSelector('[data-testid=conversation-row]');
  const l = await measure(list, 'ul[role=listbox]', 600, 400);
  console.log(`conversation list, 50,000 conversations: max ${l.rows} rows in the DOM; frame p50 ${l.frames.p50.toFixed(1)} ms, p95 ${l.frames.p95.toFixed(1)} ms, max ${l.frames.max.toFixed(1)} ms, ${l.frames.over50} of ${l.frames.frames} frames over 50 ms`);
  const thread = await openApp(browser, url, 10, 100000);
  await thread.getByText('Ana Souza').click();
  await thread.waitForSelector('[data-testid=message]');
  const t = await measure(thread, '[data-testid=messages]', 600, -600);
  console.log(`conversation, 100,000 messages (scrolling up): max ${t.rows} rows in the DOM; frame p50 ${t.frames.p50.toFixed(1)} ms, p95 ${t.frames.p95.toFixed(1)} ms, max ${t.frames.max.toFixed(1)} ms, ${t.frames.over50} of ${t.frames.frames} frames over 50 ms`);
} finally {
  await browser.close();
  server.close();
}
