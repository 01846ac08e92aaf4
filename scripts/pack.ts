// npm run pack: the tarballs users install, built from this clone (each package's prepack
// builds it), written to packs/ and listed with their sizes. test/install packs the same way.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every package that ships, in the order users meet them. */
export const PUBLISHED = ['sekuire', 'sekuire-server', 'sekuire-verify'] as const;
export type Published = (typeof PUBLISHED)[number];

export interface Tarball {
  readonly name: Published;
  /** The absolute path of the .tgz. */
  readonly path: string;
  /** What npm pack listed, relative to the package (`dist/cli.cjs`). */
  readonly files: readonly string[];
  readonly size: number;
  readonly unpackedSize: number;
}

interface PackJson {
  name: Published;
  filename: string;
  unpackedSize: number;
  files: { path: string }[];
}

/**
 * Packs every published package into `destination` (emptied first). `build: false` packs the
 * dist/ that `npm run build` left (--ignore-scripts skips prepack): the test suite packs that
 * way because other test files run dist/ while it packs, and prepack deletes it first.
 */
export function packTarballs(
  destination: string,
  options: { build: boolean; env?: NodeJS.ProcessEnv },
): Tarball[] {
  rmSync(destination, { recursive: true, force: true });
  mkdirSync(destination, { recursive: true });
  const args = ['pack', '--json', '--pack-destination', destination];
  if (!options.build) args.push('--ignore-scripts');
  const out = execFileSync('npm', [...args, ...PUBLISHED.flatMap((name) => ['-w', name])], {
    cwd: join(import.meta.dirname, '..'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  return (JSON.parse(out) as PackJson[]).map(({ name, filename, unpackedSize, files }) => {
    const path = join(destination, filename);
    return { name, path, files: files.map((file) => file.path), size: statSync(path).size, unpackedSize };
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = join(import.meta.dirname, '..', 'packs');
  for (const { path, files, size, unpackedSize } of packTarballs(dir, { build: true })) {
    console.log(
      `packs/${path.slice(dir.length + 1)}  ${(size / 1024).toFixed(0)} KB, ${files.length} files, ${(unpackedSize / 1024).toFixed(0)} KB unpacked`,
    );
  }
}
