import { defineConfig } from 'vitest/config';

// Browser tests: Node drives Debian's Chromium (playwright-core) against the built UI (ui/dist).
export default defineConfig({
  test: {
    environment: 'node',
    include: ['browser/**/*.browser.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
