// Builds the sekuire package: dist/cli.cjs, plus the few libraries one command loads, each
// bundled into a file of its own in dist/vendor/ so that the package has no dependencies.
import { chmod, rm } from 'node:fs/promises';
import { build, type Plugin } from 'esbuild';
import {
  assertInputsWithin,
  commonOptions,
  readPackage,
  repoRoot,
  writeLicenses,
} from '../../scripts/bundle.js';

const pkg = await readPackage('.');
const common = commonOptions(pkg);

/**
 * Libraries that only some commands or platforms load, by `await import()`: conf (with ajv,
 * ~190 KB) for `sekuire config set/unset`; systeminformation and node-machine-id off Linux.
 * Each becomes dist/vendor/<name>.<ext>, which only that path reads; the CLI bundle that
 * every command parses keeps its size.
 */
const LAZY = { conf: 'mjs', systeminformation: 'cjs', 'node-machine-id': 'cjs' } as const;

const lazyVendor: Plugin = {
  name: 'lazy-vendor',
  setup(builder) {
    builder.onResolve({ filter: /^(conf|systeminformation|node-machine-id)$/ }, (args) => ({
      path: `./vendor/${args.path}.${LAZY[args.path as keyof typeof LAZY]}`,
      external: true,
    }));
  },
};

await rm('dist', { recursive: true, force: true });

const results = await Promise.all([
  // The CLI runs before every job, so start-up is a feature (docs/PERFORMANCE.md). Measured
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
    plugins: [lazyVendor],
  }),
  ...Object.entries(LAZY).map(([name, ext]) =>
    build({
      ...common,
      format: ext === 'mjs' ? 'esm' : 'cjs',
      stdin: { contents: `export { default } from '${name}';`, resolveDir: '.', loader: 'js' },
      outfile: `dist/vendor/${name}.${ext}`,
      minify: true,
      // conf's dependencies include CommonJS (ajv) that calls require(); ESM output has none.
      banner:
        ext === 'mjs'
          ? {
              js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
            }
          : {},
    }),
  ),
]);

const [cli] = results;
if (cli?.metafile) assertInputsWithin(cli.metafile, repoRoot, ['packages/cli/src', 'packages/shared/src']);
await writeLicenses(
  results.flatMap((result) => (result.metafile ? [result.metafile] : [])),
  'dist/THIRD-PARTY-LICENSES.txt',
);
await chmod('dist/cli.cjs', 0o755);
