import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./packages/cli/package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// A new object for each config: vitest moves the entries out of the `define` it is given.
const define = () => ({ __SEKUIRE_VERSION__: JSON.stringify(pkg.version) });
const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 };

/**
 * No file runs isolated (isolate: false): a worker keeps its modules from one file to the next
 * instead of importing Fastify and the server's sources (which the end-to-end helpers load too)
 * again for each of 101 files. That is safe because no file shares state through a module or
 * the process: none mocks a module, stubs a global, or changes process.env or the working
 * directory; fake timers and umasks are restored by the test that sets them; and no helper
 * registers a hook when it is imported (it would belong to the first file of a worker only).
 * A file that needs any of that gets a project of its own with isolate: true. Measured
 * (2026-12-07, full runs): import summed over files 59 s isolated, 12 s with only test/e2e
 * and test/install isolated, 9 s with none; the suite 141 s with those isolated, 134 s without.
 */
// The code under test in the test's own process (a Context, inject(), the core modules).
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
    // suite against 162 s with 2 (2026-12-07, one run each on a quiet machine); 4 did no better
    // once the in-process files ran without isolation (152 s against 150 s): the CPU is the limit.
    maxWorkers: 3,
    // Vitest queues the files project by project (by name), the longest first within each: 'e2e'
    // sorts before 'in-process', so the long end-to-end files (the canary, the browser ones) start
    // at once and the short in-process files fill the workers at the end, rather than the canary
    // starting after the last in-process file (one run each, 2026-12-07: 140 s against 147 s).
    projects: [
      // Real processes, daemons, browsers and servers (test/e2e, test/install).
      {
        define: define(),
        test: {
          name: 'e2e',
          isolate: false,
          include: ['test/**/*.test.ts'],
          exclude: ['test/bench/**', ...IN_PROCESS],
          ...timeouts,
        },
      },
      { define: define(), test: { name: 'in-process', include: IN_PROCESS, isolate: false, ...timeouts } },
    ],
  },
  define: define(),
});
