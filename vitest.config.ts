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
    // End-to-end files each start their own server; two cores, so keep the pool small.
    maxWorkers: 2,
  },
  define: { __SEKUIRE_VERSION__: JSON.stringify(pkg.version) },
});
