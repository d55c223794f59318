/// <reference types="node" />
// Serves ui/dist on loopback and opens it in Debian's Chromium with the fake backend injected.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';

const DIST = join(import.meta.dirname, '..', 'dist');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

export const CHROMIUM = process.env.ZENTRO_CHROMIUM ?? '/usr/bin/chromium';

export async function serveDist(): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]));
    const file = join(DIST, path === '/' ? 'index.html' : path);
    if (!file.startsWith(DIST)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/`, server };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let fakeBackend: Promise<string> | undefined;

/** fake-backend.ts, with the fixtures it shares with the unit tests, as one classic script for the page. */
function bundleFakeBackend(): Promise<string> {
  fakeBackend ??= build({
    configFile: false,
    root: import.meta.dirname,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      lib: { entry: join(import.meta.dirname, 'fake-backend.ts'), formats: ['iife'], name: 'zentroFakeBackend' },
    },
  }).then((result) => {
    const output = (Array.isArray(result) ? result[0] : result) as { output?: { type: string; code?: string }[] };
    const chunk = output.output?.find((file) => file.type === 'chunk');
    if (!chunk?.code) throw new Error('bundling browser/fake-backend.ts produced no script');
    return chunk.code;
  });
  return fakeBackend;
}

/** A page of the app over the fake backend with `conversations` conversations, the first with `messages` messages. */
export async function openApp(browser: Browser, url: string, conversations: number, messages: number): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const backend = await bundleFakeBackend();
  await page.addInitScript(`window.__FAKE__ = { conversations: ${conversations}, messages: ${messages} };\n${backend}`);
  await page.goto(url);
  return page;
}
