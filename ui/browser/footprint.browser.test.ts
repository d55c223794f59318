/// <reference types="node" />
// After a simulated day (browser/day.ts: a thousand incoming messages, a hundred conversations
// opened, five searches) the idle inbox holds about what it held before it: the DOM stays a few
// hundred elements, the listeners stay the ones the page started with, and nothing the day opened
// is still in the document. Counts, not timings: Chromium's own counters after a garbage collection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { launch, openApp, serveDist } from './harness';
import { pageCounts, simulateDay } from './day';

let server: Server;
let url: string;
let browser: Browser;

beforeAll(async () => {
  ({ url, server } = await serveDist());
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('the idle inbox after a day', () => {
  it('holds a bounded number of DOM nodes and listeners', { timeout: 180_000 }, async () => {
    const page = await openApp(browser, url, 50000, 20);
    await page.waitForSelector('[data-testid=conversation-row]');
    await page.keyboard.press('j');
    await page.waitForSelector('[data-testid=message]');
    const before = await pageCounts(page);
    const elementsBefore = await page.evaluate(() => document.querySelectorAll('*').length);

    await simulateDay(page);
    await page.waitForTimeout(500);
    const after = await pageCounts(page);
    const elementsAfter = await page.evaluate(() => document.querySelectorAll('*').length);

    // The day happened: a hundred conversations opened, the list and thread reloaded as messages
    // arrived, five searches ran.
    const calls = await page.evaluate(() => (window as unknown as { __FAKE_CALLS__: string[] }).__FAKE_CALLS__);
    expect(calls.filter((c) => c === 'open_conversation').length).toBeGreaterThanOrEqual(100);
    expect(calls.filter((c) => c === 'conversations').length).toBeGreaterThanOrEqual(100);
    expect(calls.filter((c) => c === 'search').length).toBeGreaterThanOrEqual(5);
    // What is in the document: the same screen, a few more messages in the open conversation.
    expect(elementsAfter).toBeLessThanOrEqual(elementsBefore + 100);
    expect(await page.getByTestId('conversation-row').count()).toBeLessThanOrEqual(40);
    expect(await page.getByTestId('message').count()).toBeLessThanOrEqual(360);
    expect(await page.getByRole('dialog').count()).toBe(0);
    // What the renderer holds, detached nodes included: listeners as many as the page started
    // with (give or take the open conversation's), nodes within half again of the start.
    expect(after.listeners).toBeLessThanOrEqual(before.listeners + 10);
    expect(after.nodes).toBeLessThanOrEqual(before.nodes * 1.5);
    expect(after.documents).toBe(before.documents);
    await page.close();
  });
});
