// A private copy of dist/, so a teammate's `npm run build` (which empties dist/) cannot break a run.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ATTEMPTS = 20;

export interface Bins {
  /** Paths inside dist/, from package.json "bin". */
  readonly cli: string;
  readonly server: string;
}

function works(dir: string, bins: Bins): boolean {
  const run = (file: string, arg: string) =>
    spawnSync(process.execPath, [join(dir, file), arg], { stdio: 'ignore', timeout: 30_000 }).status === 0;
  return run(bins.cli, '--version') && run(bins.cli, '--help') && run(bins.server, '--help');
}

/**
 * Copies `dist` into `target` (which must sit inside the project, so the server's bare imports
 * still resolve from node_modules) and checks both bins start; retries while a rebuild is under way.
 */
export async function snapshotDist(dist: string, target: string, bins: Bins): Promise<void> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    rmSync(target, { recursive: true, force: true });
    try {
      if (existsSync(join(dist, bins.cli)) && existsSync(join(dist, bins.server))) {
        cpSync(dist, target, { recursive: true });
        if (works(target, bins)) return;
      }
    } catch {
      // dist/ changed under the copy; try again
    }
    await sleep(3_000);
  }
  throw new Error(`could not take a working copy of ${dist} in ${ATTEMPTS} attempts: run 'npm run build'`);
}
