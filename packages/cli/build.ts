// Builds the sekuire package: dist/cli.cjs, plus the few libraries one command loads, each
// bundled into a file of its own in dist/vendor/ so that the package has no dependencies.
import { chmod, copyFile, rm } from 'node:fs/promises';
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
 * main.ts (dist/cli.cjs) prints --version and hands any other argv to status-main.ts or
 * full-main.ts: in the package, dist/status.cjs and dist/full.cjs, bundles of their own, each
 * loaded only then, with require() (an import() would start Node's ESM loader, a few ms).
 * The bundles never share an object: each builds its own context and errors.
 */
const ENTRIES = { cli: 'src/cli/main.ts', status: 'src/cli/status-main.ts', full: 'src/cli/full-main.ts' };

const handOver: Plugin = {
  name: 'hand-over',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/(status|full)-main\.js$/ }, (args) => ({
      path: args.path.replace(/^\.\/(\w+)-main\.js$/, '$1'),
      namespace: 'hand-over',
    }));
    builder.onLoad({ filter: /.*/, namespace: 'hand-over' }, (args) => ({
      contents: `require('./${args.path}.cjs');`,
      loader: 'js',
    }));
    builder.onResolve({ filter: /^\.\/(status|full)\.cjs$/ }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

/**
 * The agent, keyring and tpm stores, which `status` needs only for a login that names one:
 * dist/key-store.cjs, required by status.cjs then and only then, so that the file store's
 * `status` parses none of their code. Errors cross back as plain SekuireError shapes, which
 * key-store/stored.ts turns into status.cjs's own classes. full.cjs keeps them inlined.
 */
const storeHandOver: Plugin = {
  name: 'store-hand-over',
  setup(builder) {
    // require(), not import(): an import() would start Node's ESM loader (see handOver).
    builder.onResolve({ filter: /^\.\/open\.js$/ }, (args) =>
      args.importer.endsWith('key-store/stored.ts')
        ? { path: 'key-store', namespace: 'store-hand-over' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'store-hand-over' }, () => ({
      contents: "module.exports = require('./key-store.cjs');",
      loader: 'js',
    }));
    builder.onResolve({ filter: /^\.\/key-store\.cjs$/ }, (args) => ({ path: args.path, external: true }));
  },
};

await rm('dist', { recursive: true, force: true });

const results = await Promise.all([
  // The CLI runs before every job, so start-up is a feature (docs/PERFORMANCE.md). Measured
  // here: Node's ESM loader costs ~3.5 ms on its first import plus a few per chunk, so an
  // ESM build split into chunks made `status --offline` ~20 ms slower than one CommonJS
  // file. Dynamic imports stay lazy inside a bundle (esbuild wraps them in init functions),
  // but V8 still has to parse all of it: cli.cjs holds only the argv check and --version,
  // status.cjs what status needs, full.cjs every command, commander and the prompts.
  ...[
    { entry: ENTRIES.cli, name: 'cli', plugins: [lazyVendor, handOver] },
    { entry: ENTRIES.status, name: 'status', plugins: [lazyVendor, storeHandOver] },
    { entry: ENTRIES.full, name: 'full', plugins: [lazyVendor] },
    { entry: 'src/core/key-store/open.ts', name: 'key-store', plugins: [] },
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
  // The library (package.json "exports"): one bundle per module system, types hand-written in
  // types/index.d.ts (test/core/library.test.ts holds them to the source).
  ...(['esm', 'cjs'] as const).map((format) =>
    build({
      ...common,
      format,
      entryPoints: { index: 'src/library.ts' },
      outdir: 'dist',
      outExtension: { '.js': format === 'esm' ? '.mjs' : '.cjs' },
      // Not minified: a program that uses the library reads its stack traces, and Node prints
      // the source line of an uncaught error, which in a minified bundle is the whole bundle.
      minify: false,
      plugins: [lazyVendor],
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

// The CLI's bundles, key-store.cjs and the library's two: every one whose inputs must be sources.
for (const { metafile } of results.slice(0, Object.keys(ENTRIES).length + 3)) {
  if (metafile === undefined) continue;
  // The inputs that are no files: the requires of status.cjs, full.cjs and key-store.cjs.
  const files = Object.entries(metafile.inputs).filter(([input]) => !/^(store-)?hand-over:/.test(input));
  assertInputsWithin({ ...metafile, inputs: Object.fromEntries(files) }, repoRoot, [
    'packages/cli/src',
    'packages/shared/src',
  ]);
}
await writeLicenses(
  results.flatMap((result) => (result.metafile ? [result.metafile] : [])),
  'dist/THIRD-PARTY-LICENSES.txt',
);
await copyFile('types/index.d.ts', 'dist/index.d.ts');
await chmod('dist/cli.cjs', 0o755);
