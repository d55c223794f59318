/// <reference types="node" />
// The Chromium half of scripts/bench-footprint.sh: the built UI in Debian's Chromium, headed (on
// the DISPLAY the script gives it), over the fake backend with 50,000 conversations of 20 messages
// (a million). Opens a conversation, waits until idle and sums the proportional memory (PSS) of
// Chromium's whole process tree; with --day, plays the simulated day and measures again. Prints
// one JSON line.
//   DISPLAY=:99 npx tsx browser/footprint.ts [--day]
import { readFileSync, readdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CHROMIUM, openApp, serveDist } from './harness';
import { pageCounts, simulateDay } from './day';

/** The children of every process, from /proc. */
function children(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(ppid, [...(map.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended meanwhile
    }
  }
  return map;
}

/** PSS in KiB of each process below this one (not this Node process), by command name. */
function treePss(): Record<string, number> {
  const tree = children();
  const byName: Record<string, number> = {};
  const stack = [...(tree.get(process.pid) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    stack.push(...(tree.get(pid) ?? []));
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kib = Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      // Chromium rewrites its command line as one string: split on NULs and spaces alike.
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      if (!args[0].includes('chromium')) continue; // the fake backend's bundler, say
      const type = args.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
      const name = `chromium ${type}`;
      byName[name] = (byName[name] ?? 0) + kib;
    } catch {
      // a kernel thread or a process that ended
    }
  }
  return byName;
}

const sum = (parts: Record<string, number>) => Object.values(parts).reduce((a, b) => a + b, 0);
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

const day = process.argv.includes('--day');
const idleMs = Number(process.env.ZENTRO_BENCH_IDLE_SECONDS ?? 10) * 1000;
const { url, server } = await serveDist();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: false,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await openApp(browser, url, 50000, 20);
  await page.waitForSelector('[data-testid=conversation-row]');
  await page.waitForFunction(() => performance.getEntriesByName('zentro:inbox-painted').length > 0);
  const paintedMs = await page.evaluate(() => performance.getEntriesByName('zentro:inbox-painted')[0].startTime);
  await page.keyboard.press('j');
  await page.waitForSelector('[data-testid=message]');
  await settle(idleMs);
  const idle = treePss();
  const idleCounts = await pageCounts(page);
  const result: Record<string, unknown> = { painted_after_navigation_ms: Math.round(paintedMs), idle_pss_kib: sum(idle), idle, idle_counts: idleCounts };
  if (day) {
    await simulateDay(page);
    await settle(idleMs);
    const after = treePss();
    result.day_pss_kib = sum(after);
    result.day = after;
    result.day_counts = await pageCounts(page);
  }
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
