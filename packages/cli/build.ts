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

/**
 * main.ts hands any argv its fast path does not run to full-main.ts: in the package that is
 * dist/full.cjs, a bundle of its own, loaded only then, with require() (an import() of it
 * would start Node's ESM loader, a few ms). The two bundles never share an object: each
 * builds its own context and errors.
 */
const fullBundle: Plugin = {
  name: 'full-bundle',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/full-main\.js$/ }, () => ({ path: 'full-main', namespace: 'full' }));
    builder.onLoad({ filter: /.*/, namespace: 'full' }, () => ({
      contents: "require('./full.cjs');",
      loader: 'js',
    }));
    builder.onResolve({ filter: /^\.\/full\.cjs$/ }, () => ({ path: './full.cjs', external: true }));
  },
};

await rm('dist', { recursive: true, force: true });

const results = await Promise.all([
  // The CLI runs before every job, so start-up is a feature (docs/PERFORMANCE.md). Measured
  // here: Node's ESM loader costs ~3.5 ms on its first import plus a few per chunk, so an
  // ESM build split into chunks made `status --offline` ~20 ms slower than one CommonJS
  // file. Dynamic imports stay lazy inside a bundle (esbuild wraps them in init functions),
  // but V8 still has to parse all of it: cli.cjs holds only what --version and status need,
  // and full.cjs (every command, commander, the prompts) is read only for the rest.
  ...[
    { entry: 'src/cli/main.ts', name: 'cli', plugins: [lazyVendor, fullBundle] },
    { entry: 'src/cli/full-main.ts', name: 'full', plugins: [lazyVendor] },
  ].map(({ entry, name, plugins }) =>
    build({
      ...common,
      format: 'cjs',
      entryPoints: { [name]: entry },
      outdir: 'dist',
      outExtension: { '.js': '.cjs' },
      minify: true,
      plugins,
    }),
  ),
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

for (const { metafile } of results.slice(0, 2)) {
  if (metafile === undefined) continue;
  // The one input that is no file: fullBundle's require of full.cjs.
  const files = Object.entries(metafile.inputs).filter(([input]) => !input.startsWith('full:'));
  assertInputsWithin({ ...metafile, inputs: Object.fromEntries(files) }, repoRoot, [
    'packages/cli/src',
    'packages/shared/src',
  ]);
}
await writeLicenses(
  results.flatMap((result) => (result.metafile ? [result.metafile] : [])),
  'dist/THIRD-PARTY-LICENSES.txt',
);
await chmod('dist/cli.cjs', 0o755);
