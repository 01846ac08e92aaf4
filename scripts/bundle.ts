// What both packages' builds share: esbuild's settings, the version constant, and the licence
// notices of whatever a bundle inlines (MIT and its kin ask for them in every copy).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { BuildOptions, Metafile } from 'esbuild';

interface PackageJson {
  name: string;
  version: string;
  license?: string;
  dependencies?: Record<string, string>;
}

export async function readPackage(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** esbuild settings every bundle uses: Node 20 syntax, no source maps, the package's version inlined. */
export function commonOptions(pkg: PackageJson): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    define: { __SEKUIRE_VERSION__: JSON.stringify(pkg.version) },
  };
}

/** The package that holds an input file of a metafile: the nearest node_modules/<name> above it. */
function packageDirOf(input: string): string | undefined {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  const scoped = parts[at + 1]?.startsWith('@') ? 2 : 1;
  return parts.slice(0, at + 1 + scoped).join('/');
}

/**
 * Writes one file with the name, version, licence and licence text of every third-party
 * package whose code the given bundles inlined: what the licences ask of a redistribution.
 */
export async function writeLicenses(metafiles: readonly Metafile[], outFile: string): Promise<void> {
  const dirs = new Set<string>();
  for (const metafile of metafiles) {
    for (const input of Object.keys(metafile.inputs)) {
      const dir = packageDirOf(input);
      if (dir) dirs.add(resolve(dir));
    }
  }
  const sections: string[] = [];
  for (const dir of [...dirs].sort()) {
    const pkg = await readPackage(dir);
    const files = (await readdir(dir)).filter((name) => /^(licen[cs]e|copying|notice)/i.test(name)).sort();
    const texts = await Promise.all(files.map((name) => readFile(join(dir, name), 'utf8')));
    sections.push(
      [
        `${pkg.name} ${pkg.version} (${pkg.license ?? 'see its text'})`,
        ...texts.map((text) => text.trim()),
      ].join('\n\n'),
    );
  }
  const header = `Third-party code inlined into this package's bundles: ${dirs.size} packages.\n`;
  await writeFile(outFile, `${header}\n${sections.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`);
}

/** Fails the build when a bundle took a file from outside the allowed folders (a sibling package's src/, say). */
export function assertInputsWithin(metafile: Metafile, root: string, allowed: readonly string[]): void {
  const strays = Object.keys(metafile.inputs).filter((input) => {
    const path = relative(root, resolve(input));
    return !path.includes('node_modules/') && !allowed.some((dir) => path.startsWith(`${dir}/`));
  });
  if (strays.length > 0) throw new Error(`The bundle reaches outside its package: ${strays.join(', ')}`);
}

/** The repository's root: the builds run from each package's folder. */
export const repoRoot = resolve(import.meta.dirname, '..');
