// Replaced at build time by esbuild (scripts/build.ts) and in tests by vitest.config.ts.
declare const __SEKUIRE_VERSION__: string;
