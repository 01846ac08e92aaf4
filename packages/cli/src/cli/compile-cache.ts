// V8's compile cache (Node >= 22.1) for the bundle a command loads, in this user's own cache folder; never a reason to fail.
import { isAbsolute, join } from 'node:path';
import type { Env } from '../core/home.js';

/**
 * This user's cache folder for sekuire: never a shared one such as /tmp (Node's default), where
 * another user could create the folder first and plant code for this process to run. Only
 * absolute paths: HOME="" (a CI job) must not put a folder in the working directory.
 */
export function compileCacheDir(env: Env, platform: NodeJS.Platform): string | undefined {
  const absolute = (path: string | undefined) => (path && isAbsolute(path) ? path : undefined);
  const home = absolute(env.HOME);
  let base: string | undefined;
  if (platform === 'win32') base = absolute(env.LOCALAPPDATA);
  else if (platform === 'darwin') base = home && join(home, 'Library', 'Caches');
  else base = absolute(env.XDG_CACHE_HOME) ?? (home && join(home, '.cache'));
  return base && join(base, 'sekuire', 'compile-cache');
}

/**
 * Turns the cache on before status.cjs or full.cjs is loaded: parsing them is a good part of a
 * short command's time, and their code does not change between runs. Node checks each entry
 * against the file's contents; it disables the cache by itself when it cannot write there, and
 * NODE_COMPILE_CACHE / NODE_DISABLE_COMPILE_CACHE keep working as documented.
 */
export function enableCompileCache(env: Env, platform: NodeJS.Platform): void {
  const dir = compileCacheDir(env, platform);
  if (dir === undefined) return;
  const module = process.getBuiltinModule('node:module') as {
    enableCompileCache?: (directory: string) => unknown;
  };
  try {
    module.enableCompileCache?.(dir);
  } catch {
    // Start-up speed only: a command never fails for it.
  }
}
