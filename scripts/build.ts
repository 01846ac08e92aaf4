// Bundles the two bins into dist/: a small CLI entry with lazily loaded chunks, and the server.
import { chmod, readFile, rm } from 'node:fs/promises';
import { type BuildOptions, build } from 'esbuild';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// Bundled CommonJS dependencies call require(); ESM output has none, so give each chunk one.
const requireShim =
  "import { createRequire as __sekuireCreateRequire } from 'node:module';\nconst require = __sekuireCreateRequire(import.meta.url);";

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: requireShim },
  define: { __SEKUIRE_VERSION__: JSON.stringify(pkg.version) },
};

await rm('dist', { recursive: true, force: true });

await Promise.all([
  // The CLI: each command is a dynamic import, so esbuild splits it (and what only it uses)
  // into its own chunk; `--version` and `status --offline` load only what they need.
  build({
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    // Loaded only on platforms where they are needed (see src/core/machine-id.ts, os-facts.ts).
    external: ['systeminformation', 'node-machine-id'],
  }),
  // The reference server keeps its dependencies in node_modules (better-sqlite3 is native).
  build({
    ...common,
    entryPoints: { server: 'src/server/main.ts' },
    outdir: 'dist',
    packages: 'external',
  }),
]);

await Promise.all([chmod('dist/cli.js', 0o755), chmod('dist/server.js', 0o755)]);
