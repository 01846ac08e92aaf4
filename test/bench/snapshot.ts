// A private copy of each package's dist/, so a teammate's `npm run build` (which empties dist/) cannot break a run.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ATTEMPTS = 20;

/** One package's bin: its dist/ folder and the file inside it that package.json "bin" names. */
export interface DistBin {
  /** The package folder's name (cli, server): the snapshot's subfolder for its dist/. */
  readonly name: string;
  readonly dist: string;
  /** Path inside dist/, e.g. cli.cjs. */
  readonly file: string;
}

export interface Bins {
  readonly cli: DistBin;
  readonly server: DistBin;
}

/** The bin `binName` of the package in `packageDir`, as a path inside that package's dist/. */
export function distBin(packageDir: string, binName: string): DistBin {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>;
  };
  const path = pkg.bin?.[binName];
  if (path === undefined) throw new Error(`${packageDir}/package.json has no bin "${binName}"`);
  const dist = join(packageDir, 'dist');
  const file = relative(dist, join(packageDir, path));
  if (file.startsWith('..')) throw new Error(`bin "${binName}" (${path}) is not in ${dist}`);
  return { name: packageDir.split('/').pop() ?? binName, dist, file };
}

/** Where a bin lies in a snapshot taken into `target`. */
export function snapshotPath(target: string, bin: DistBin): string {
  return join(target, bin.name, bin.file);
}

function works(target: string, bins: Bins): boolean {
  const run = (bin: DistBin, arg: string) =>
    spawnSync(process.execPath, [snapshotPath(target, bin), arg], { stdio: 'ignore', timeout: 30_000 })
      .status === 0;
  return run(bins.cli, '--version') && run(bins.cli, '--help') && run(bins.server, '--help');
}

/**
 * Copies each package's dist/ into `target/<package>/` (which must sit inside the project, so
 * the server's bare imports still resolve from node_modules) and checks both bins start;
 * retries while a rebuild is under way.
 */
export async function snapshotDists(target: string, bins: Bins): Promise<void> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    rmSync(target, { recursive: true, force: true });
    try {
      if (
        existsSync(join(bins.cli.dist, bins.cli.file)) &&
        existsSync(join(bins.server.dist, bins.server.file))
      ) {
        for (const bin of [bins.cli, bins.server])
          cpSync(bin.dist, join(target, bin.name), { recursive: true });
        if (works(target, bins)) return;
      }
    } catch {
      // a dist/ changed under the copy; try again
    }
    await sleep(3_000);
  }
  throw new Error(
    `could not take a working copy of the dist/ folders in ${ATTEMPTS} attempts: run 'npm run build'`,
  );
}
