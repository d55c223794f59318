/// <reference types="node" />
// The Reports page in Debian's Chromium over the fake backend: opened from the top bar, it shows
// the figures as tiles, draws the heatmap (the busiest hour shaded darkest), the daily volume and
// the channels, lists the agents, and saves a table as CSV with formulas defused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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

describe('reports, in Chromium', () => {
  it('opens from the top bar with tiles, a drawn heatmap and daily chart, tables and CSV', async () => {
    const page = await openApp(browser, url, 30, 20);
    await page.getByTestId('open-reports').click();
    await page.waitForSelector('[data-testid=report-tiles]');
    expect(await page.getByTestId('tile-opened').textContent()).toContain('58');
    expect(await page.getByTestId('tile-first-response').textContent()).toContain('4m');
    // Last 30 days, counted in the desk's zone, asked of Rust.
    expect(await page.getByTestId('report-range').textContent()).toMatch(/^\d{4}-\d{2}-\d{2} – \d{4}-\d{2}-\d{2}$/);

    const cells = page.getByTestId('heat-cell');
    expect(await cells.count()).toBe(168);
    // Drawn, not listed: the busiest hour is a visible, fully opaque cell with a size on screen.
    const busiest = cells.nth(24 + 10);
    const box = await busiest.boundingBox();
    expect(box && box.width > 8 && box.height > 8).toBe(true);
    expect(await busiest.evaluate((el) => getComputedStyle(el).fillOpacity)).toBe('1');
    expect(await cells.nth(0).evaluate((el) => getComputedStyle(el).fillOpacity)).toBe('0');
    const line = page.locator('[data-testid=daily-chart] polyline[data-series=received]');
    expect(((await line.getAttribute('points')) ?? '').split(' ').length).toBe(29);
    expect((await line.boundingBox())?.width ?? 0).toBeGreaterThan(300);

    const shots = join(process.env.ZENTRO_ARTIFACTS_DIR ?? join(import.meta.dirname, '..', '..', 'target', 'artifacts'), 'screenshots');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'reports.png') });

    const agentRows = page.locator('[data-testid=table-agents] tbody tr');
    expect(await agentRows.count()).toBe(2);
    // m1 by the name the workspace's members give (the fake backend's "You"), not by email.
    expect(await agentRows.first().textContent()).toMatch(/^You\s*12\s*40\s*9/);

    await page.getByTestId('csv-agents').click();
    await page.waitForSelector('[data-testid=csv-saved]');
    const saved = await page.evaluate(() => (window as unknown as { __FAKE_CSV__?: { name: string; csv: string } }).__FAKE_CSV__);
    expect(saved?.name).toMatch(/^agents-/);
    expect(saved?.csv.split('\r\n')[0]).toBe('Agent,Email,Assigned,Replied,Resolved,Median first response (seconds)');
    expect(saved?.csv).toContain("'=cmd|' /C calc'!A0");
    await page.screenshot({ path: join(shots, 'reports-csv-saved.png') });
    await page.close();
  });
});
