// Builds the sekuire-server package: dist/server.js (ESM) with the dashboard's templates and
// assets beside it in dist/web; its npm dependencies stay dependencies (better-sqlite3 is native).
import { chmod, cp, rm } from 'node:fs/promises';
import { build } from 'esbuild';
import { assertInputsWithin, commonOptions, readPackage, repoRoot } from '../../scripts/bundle.js';

const pkg = await readPackage('.');

await rm('dist', { recursive: true, force: true });

const result = await build({
  ...commonOptions(pkg),
  format: 'esm',
  entryPoints: { server: 'src/main.ts' },
  outdir: 'dist',
  // What the package declares is installed beside it; the rest (packages/shared) is inlined.
  external: Object.keys(pkg.dependencies ?? {}),
  // Bundled CommonJS code calls require(); ESM output has none, so give it one.
  banner: {
    js: "import { createRequire as __sekuireCreateRequire } from 'node:module';\nconst require = __sekuireCreateRequire(import.meta.url);",
  },
});
if (result.metafile)
  assertInputsWithin(result.metafile, repoRoot, ['packages/server/src', 'packages/shared/src']);

// The dashboard's templates and assets, beside the bundle (see src/http/pages/web-root.ts).
await cp('src/web/views', 'dist/web/views', { recursive: true });
await cp('src/web/assets', 'dist/web/assets', { recursive: true });
await chmod('dist/server.js', 0o755);
