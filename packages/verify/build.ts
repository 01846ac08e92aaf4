// Builds the sekuire-verify package: dist/index.mjs (ESM), dist/index.cjs (CommonJS) and the
// declarations (dist/*.d.ts, by tsc). No dependencies; fastify is an optional peer, never bundled.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';
import { assertInputsWithin, commonOptions, readPackage, repoRoot } from '../../scripts/bundle.js';

const pkg = await readPackage('.');

await rm('dist', { recursive: true, force: true });

for (const [format, file] of [
  ['esm', 'dist/index.mjs'],
  ['cjs', 'dist/index.cjs'],
] as const) {
  const result = await build({
    ...commonOptions(pkg),
    format,
    entryPoints: ['src/index.ts'],
    outfile: file,
    external: ['fastify'],
  });
  if (result.metafile) assertInputsWithin(result.metafile, repoRoot, ['packages/verify/src']);
}

execFileSync(process.execPath, [`${repoRoot}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
