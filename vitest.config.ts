import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./packages/cli/package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// A new object for each config: vitest moves the entries out of the `define` it is given.
const define = () => ({ __SEKUIRE_VERSION__: JSON.stringify(pkg.version) });
const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 };

/**
 * Files that run the code under test in their own process (commands through a Context, the app
 * through inject(), the core modules): they share no state through a module or the process
 * (none mocks a module, stubs a global or changes process.env or the working directory; the
 * fake timers and umasks are restored by the test that sets them), so a worker keeps its modules
 * from one file to the next instead of importing fastify and the server's sources again for each
 * (isolate: false). The whole suite without isolation: import 59 s -> 11 s summed over workers,
 * CPU 255 s -> 197 s (2026-12-07).
 */
const IN_PROCESS = [
  'test/core/**/*.test.ts',
  'test/server/**/*.test.ts',
  'test/cli/**/*.test.ts',
  'test/verify/**/*.test.ts',
];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**'],
    // Runs once for the whole run (the root project's), its `postgres` provided to every project;
    // the projects below do not extend this config, so that none starts a cluster of its own.
    globalSetup: ['test/global-setup.ts'],
    ...timeouts,
    // End-to-end files each start their own server and spend much of their time waiting (a
    // browser, a poll interval, a child process): on 2 cores, 3 workers measured 142 s for the
    // suite against 162 s with 2 (2026-12-07, one run each on a quiet machine).
    maxWorkers: 3,
    projects: [
      { define: define(), test: { name: 'in-process', include: IN_PROCESS, isolate: false, ...timeouts } },
      // Real processes, daemons, browsers and servers (test/e2e, test/install): isolated as before;
      // they import little, and what they start outlives a module graph.
      {
        define: define(),
        test: {
          name: 'processes',
          include: ['test/**/*.test.ts'],
          exclude: ['test/bench/**', ...IN_PROCESS],
          ...timeouts,
        },
      },
    ],
  },
  define: define(),
});
