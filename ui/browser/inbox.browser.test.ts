/// <reference types="node" />
// The built UI in Debian's Chromium over a fake backend: what the DOM holds at scale, and the
// flows that need a real browser (layout, scrolling, keyboard).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { launch, openApp, serveDist } from './harness';

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

describe('the inbox at scale, in Chromium', () => {
  it('keeps a list of 50,000 conversations to a few dozen rows while scrolling to the end', async () => {
    const page = await openApp(browser, url, 50000, 100);
    await page.waitForSelector('[data-testid=conversation-row]');
    const list = page.locator('ul[role=listbox]');
    let most = 0;
    for (let step = 0; step < 40; step++) {
      await list.evaluate((el) => el.scrollBy(0, 4000));
      await page.waitForTimeout(20);
      most = Math.max(most, await page.locator('[data-testid=conversation-row]').count());
    }
    expect(most).toBeLessThanOrEqual(40);
    // Pages load as the list scrolls: deep rows exist.
    const deepest = await page.locator('[data-testid=conversation-row]').last().getAttribute('data-conversation-id');
    expect(Number(deepest)).toBeGreaterThan(500);
    await page.close();
  });

  it('keeps a conversation of 100,000 messages to a few hundred rows, paging both ways', async () => {
    const page = await openApp(browser, url, 10, 100000);
    await page.getByText('Ana Souza').click();
    await page.waitForSelector('[data-testid=message]');
    const thread = page.getByTestId('messages');
    let most = 0;
    for (let step = 0; step < 30; step++) {
      await thread.evaluate((el) => (el.scrollTop = 0));
      await page.waitForTimeout(60);
      most = Math.max(most, await page.getByTestId('message').count());
    }
    expect(most).toBeLessThanOrEqual(360);
    const oldestShown = Number(await page.getByTestId('message').first().getAttribute('data-message-id'));
    expect(oldestShown).toBeLessThan(100000 - 1000); // far back in history
    // And back down again: newer pages replace older ones.
    for (let step = 0; step < 10; step++) {
      await thread.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.waitForTimeout(60);
      most = Math.max(most, await page.getByTestId('message').count());
    }
    expect(most).toBeLessThanOrEqual(360);
    const newestShown = Number(await page.getByTestId('message').last().getAttribute('data-message-id'));
    expect(newestShown).toBeGreaterThan(oldestShown + 300);
    await page.close();
  });

  it('searches with Ctrl+K and jumps to a message deep in history', async () => {
    const page = await openApp(browser, url, 10, 2000);
    await page.waitForSelector('[data-testid=conversation-row]');
    await page.keyboard.press('Control+k');
    await page.getByTestId('search-input').fill('invo');
    await expect.poll(() => page.getByTestId('search-hit').count()).toBe(1);
    expect(await page.locator('[data-testid=search-hit] mark').textContent()).toBe('invoice');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.highlighted');
    expect(await page.locator('.highlighted').textContent()).toContain('invoice for March');
    expect(await page.getByTestId('message').count()).toBeLessThanOrEqual(360);
    await page.close();
  });

  it('keeps the keyboard inside an open dialog, closes it on Escape, and gives focus back', async () => {
    const page = await openApp(browser, url, 10, 20);
    await page.waitForSelector('[data-testid=conversation-row]');
    // Ctrl+K: the palette's field has the focus, typing searches.
    await page.keyboard.press('Control+k');
    await page.keyboard.type('invo');
    await expect.poll(() => page.getByTestId('search-hit').count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('search-palette').count()).toBe(0);

    await page.getByTestId('open-canned').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=canned-replies]');
    const insideDialog = () => page.evaluate(() => !!document.activeElement?.closest('[role=dialog]'));
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
      expect(await insideDialog()).toBe(true);
    }
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('canned-replies').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('open-canned');
    await page.close();
  });
});
