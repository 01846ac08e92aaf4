import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./packages/cli/package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end files each start their own server and spend much of their time waiting (a
    // browser, a poll interval, a child process): on 2 cores, 3 workers measured 142 s for the
    // suite against 162 s with 2 (2026-12-07, one run each on a quiet machine).
    maxWorkers: 3,
  },
  define: { __SEKUIRE_VERSION__: JSON.stringify(pkg.version) },
});
