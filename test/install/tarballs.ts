// The tarballs of this clone, packed from the dist/ that `npm run build` left, refused when stale.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { PUBLISHED, type Published, packTarballs, type Tarball } from '../../scripts/pack.js';

const REPO = resolve(import.meta.dirname, '../..');

/** What each package's build reads: a change to any of them makes its dist/ stale. */
const INPUTS: Record<Published, readonly string[]> = {
  sekuire: ['packages/cli/src', 'packages/cli/build.ts', 'packages/cli/package.json'],
  'sekuire-server': ['packages/server/src', 'packages/server/build.ts', 'packages/server/package.json'],
  'sekuire-verify': [
    'packages/verify/src',
    'packages/verify/build.ts',
    'packages/verify/package.json',
    'packages/verify/tsconfig.build.json',
  ],
};
const FOLDERS: Record<Published, string> = {
  sekuire: 'cli',
  'sekuire-server': 'server',
  'sekuire-verify': 'verify',
};
const SHARED_INPUTS = ['packages/shared/src', 'scripts/bundle.ts'];

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

/**
 * Throws when a source is newer than the oldest file of its package's dist/: the tarball would
 * not be what the sources say. (Packing does not build: prepack deletes dist/ first, while
 * the other test files of the run execute it.)
 */
function assertBuilt(name: Published): void {
  const dist = join(REPO, 'packages', FOLDERS[name], 'dist');
  let built: number;
  try {
    built = Math.min(...files(dist).map((file) => statSync(file).mtimeMs));
  } catch {
    throw new Error(`${relative(REPO, dist)} is missing: run 'npm run build' before this test.`);
  }
  for (const input of [...INPUTS[name], ...SHARED_INPUTS].flatMap((path) => files(join(REPO, path)))) {
    if (statSync(input).mtimeMs > built) {
      throw new Error(
        `${relative(REPO, input)} changed after ${relative(REPO, dist)} was built: run 'npm run build'.`,
      );
    }
  }
}

/** Packs every published package into `destination`, keyed by name. */
export function packCurrent(destination: string): Record<Published, Tarball> {
  for (const name of PUBLISHED) assertBuilt(name);
  const env: NodeJS.ProcessEnv = {};
  // An outer `npm test` exports its configuration as npm_config_*; this pack needs none of it.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('npm_')) env[key] = value;
  const packed = packTarballs(destination, { build: false, env });
  const byName = (name: Published): Tarball => {
    const tarball = packed.find((candidate) => candidate.name === name);
    if (tarball === undefined) throw new Error(`npm pack made no tarball for ${name}`);
    return tarball;
  };
  return {
    sekuire: byName('sekuire'),
    'sekuire-server': byName('sekuire-server'),
    'sekuire-verify': byName('sekuire-verify'),
  };
}
