/// <reference types="node" />
// Teams and automation in Debian's Chromium over the fake backend: an admin edits business hours
// and the menu bot on Team → Automation, previews the last 7 days and saves; the inbox filters by
// team, marks first-response targets and lets the member say they are away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import type { AutomationSetup } from '../src/lib/ipc';
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

const rowIds = (page: Page) =>
  page.getByTestId('conversation-row').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-conversation-id'))));

describe('teams and automation, in Chromium', () => {
  it('lets an admin edit hours and the menu, preview the last 7 days, and save', async () => {
    const page = await openApp(browser, url, 30, 20);
    await page.waitForSelector('[data-testid=conversation-row]');
    await page.getByTestId('open-team').click();
    await page.getByTestId('team-tab-automation').click();
    await page.waitForSelector('[data-testid=automation]');
    expect(await page.getByTestId('automation-version').textContent()).toContain('Version 1');

    // Saturday opens 10:00 to 14:00; a span that ends before it starts is refused, with why.
    const saturday = page.locator('[data-testid=hours-editor][data-at=hours] [data-day=Saturday]');
    expect(await saturday.textContent()).toContain('Closed');
    await saturday.getByTestId('span-add').click();
    await saturday.getByTestId('span-start').fill('10:00');
    await saturday.getByTestId('span-end').fill('09:30');
    const spanProblem = saturday.getByTestId('field-problem');
    expect(await spanProblem.textContent()).toContain('later HH:MM');
    expect(await saturday.getByTestId('span-end').getAttribute('aria-invalid')).toBe('true');
    await page.getByTestId('automation-save').click();
    expect(await page.getByTestId('automation-problem').textContent()).toContain('Fix the field marked below');
    await saturday.getByTestId('span-end').fill('14:00');
    await expect.poll(() => spanProblem.count()).toBe(0);

    // The menu: "Orders" to Support, then "Billing questions" to Billing, moved up to be first.
    await page.getByTestId('menu-on').check();
    await page.getByTestId('option-title').first().fill('Orders');
    await page.getByTestId('option-add').click();
    const second = page.getByTestId('menu-option').nth(1);
    await second.getByTestId('option-title').fill('Billing questions');
    await second.getByTestId('option-team').selectOption('billing');
    await second.getByTestId('option-up').click();
    expect(await page.getByTestId('option-title').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))).toEqual([
      'Billing questions',
      'Orders',
    ]);
    expect(await page.getByTestId('automation-dirty').count()).toBe(1);

    // The preview replays the draft: the menu's question would have gone out, naming its rule.
    await page.getByTestId('automation-preview-run').click();
    await page.waitForSelector('[data-testid=automation-preview]');
    expect(await page.getByTestId('preview-conversation').count()).toBe(3);
    const sent = await page.getByTestId('preview-message').allTextContents();
    expect(sent.some((m) => m.includes('menu') && m.includes('What can we help you with?'))).toBe(true);
    expect(await page.getByTestId('preview-team').first().textContent()).toBe('Billing');
    expect(await page.evaluate(() => (window as unknown as { __FAKE_SAVED__?: AutomationSetup }).__FAKE_SAVED__)).toBeUndefined();

    await page.getByTestId('automation-save').click();
    await page.waitForSelector('[data-testid=automation-notice]');
    const saved = await page.evaluate(() => (window as unknown as { __FAKE_SAVED__: AutomationSetup }).__FAKE_SAVED__);
    expect(saved.version).toBe(2);
    expect(saved.setup.hours?.weekly[5]).toEqual([{ start: '10:00', end: '14:00' }]);
    expect(saved.setup.menu?.options.map((o) => [o.title, o.team])).toEqual([
      ['Billing questions', 'billing'],
      ['Orders', 'support'],
    ]);
    expect(await page.getByTestId('automation-dirty').count()).toBe(0);
    expect(await page.getByTestId('automation-version').textContent()).toContain('Version 2');
    await page.close();
  });

  it("says someone else saved, and reloads their version, when the relay refuses a save as a version conflict", async () => {
    const page = await openApp(browser, url, 30, 20);
    await page.waitForSelector('[data-testid=conversation-row]');
    await page.getByTestId('open-team').click();
    await page.getByTestId('team-tab-automation').click();
    await page.waitForSelector('[data-testid=automation]');
    expect(await page.getByTestId('automation-version').textContent()).toContain('Version 1');

    // Another admin's desk saves version 2 meanwhile, through the same command.
    await page.evaluate(async () => {
      const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (cmd: string, args: unknown) => Promise<unknown> } }).__TAURI_INTERNALS__;
      const current = (await internals.invoke('automation_setup', {})) as AutomationSetup;
      await internals.invoke('save_automation_setup', { expectedVersion: 1, setup: { ...current.setup, greeting: { text: 'Hello from the other desk.' } } });
    });

    await page.getByTestId('automation-enabled').uncheck();
    await page.getByTestId('automation-save').click();
    const problem = page.getByTestId('automation-problem');
    await page.waitForSelector('[data-testid=automation-problem]');
    expect(await problem.textContent()).toContain('Someone else saved the automation');
    expect(await problem.getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('automation-save').isDisabled()).toBe(true);

    await page.getByTestId('automation-reload').click();
    await expect.poll(() => page.getByTestId('automation-version').textContent()).toContain('Version 2');
    expect(await problem.count()).toBe(0);
    expect(await page.getByTestId('automation-dirty').count()).toBe(0);
    expect(await page.getByTestId('greeting-text').inputValue()).toBe('Hello from the other desk.');
    await page.close();
  });

  it('narrows the list to a team, marks first-response targets, and sets the member away', async () => {
    const page = await openApp(browser, url, 30, 20);
    await page.waitForSelector('[data-testid=conversation-row]');
    expect((await rowIds(page)).slice(0, 4)).toEqual([1, 2, 3, 4]);
    const due = page.locator('[data-conversation-id="2"] [data-testid=conversation-sla]');
    expect(await due.getAttribute('data-sla')).toBe('due_soon');
    expect(await due.getAttribute('aria-label')).toMatch(/^First response due in \d+m$/);
    const late = page.locator('[data-conversation-id="3"] [data-testid=conversation-sla]');
    expect(await late.getAttribute('aria-label')).toMatch(/^First response overdue by \d+m$/);
    expect(await page.locator('[data-conversation-id="1"] [data-testid=conversation-team]').textContent()).toBe('Support');

    await page.getByTestId('filter-team').selectOption('billing');
    await expect.poll(async () => (await rowIds(page))[0]).toBe(3);
    const ids = await rowIds(page);
    expect(ids.length).toBeGreaterThan(3);
    expect(ids.every((id) => id % 3 === 0)).toBe(true);
    expect(new Set(await page.getByTestId('conversation-team').allTextContents())).toEqual(new Set(['Billing']));

    const presence = page.getByTestId('presence');
    expect(await presence.getAttribute('data-presence')).toBe('available');
    await page.getByTestId('presence-select').selectOption('away');
    await expect.poll(() => presence.getAttribute('data-presence')).toBe('away');
    await page.close();
  });
});
