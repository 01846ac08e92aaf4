// Bundles the two bins into dist/: the CLI as one minified CommonJS file, the server as ESM.
import { chmod, cp, readFile, rm } from 'node:fs/promises';
import { type BuildOptions, build } from 'esbuild';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __SEKUIRE_VERSION__: JSON.stringify(pkg.version) },
};

await rm('dist', { recursive: true, force: true });

await Promise.all([
  // The CLI runs before every job, so start-up is a feature (README, Performance). Measured
  // here: Node's ESM loader costs ~3.5 ms on its first import plus a few per chunk, so an
  // ESM build split into chunks made `status --offline` ~20 ms slower than one CommonJS
  // file. Dynamic imports stay lazy inside the bundle (esbuild wraps them in init
  // functions): the prompt library and the HTTP client are parsed but never run on paths
  // that do not use them; minifying keeps that parse short.
  build({
    ...common,
    format: 'cjs',
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.cjs' },
    minify: true,
    // Loaded from node_modules only where they are needed: machine-id.ts and os-facts.ts on some
    // platforms; conf (with ajv, ~190 KB) by `sekuire config set/unset` alone, which keeps the
    // bundle every other command parses at its old size. conf is ESM: import() stays native.
    external: ['systeminformation', 'node-machine-id', 'conf'],
  }),
  // The reference server keeps its dependencies in node_modules (better-sqlite3 is native).
  build({
    ...common,
    format: 'esm',
    entryPoints: { server: 'src/server/main.ts' },
    outdir: 'dist',
    packages: 'external',
    // Bundled CommonJS code calls require(); ESM output has none, so give it one.
    banner: {
      js: "import { createRequire as __sekuireCreateRequire } from 'node:module';\nconst require = __sekuireCreateRequire(import.meta.url);",
    },
  }),
]);

// The dashboard's templates and assets, beside the server bundle (see src/server/http/web-root.ts).
await cp('src/server/web/views', 'dist/web/views', { recursive: true });
await cp('src/server/web/assets', 'dist/web/assets', { recursive: true });

await Promise.all([chmod('dist/cli.cjs', 0o755), chmod('dist/server.js', 0o755)]);
