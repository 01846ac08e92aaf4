// Where Sekuire keeps its files: SEKUIRE_HOME, else ~/.sekuire, where ~ is always an absolute path.
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The user's home directory: HOME when it is an absolute path, else the account's home from the
 * password database (`os.userInfo().homedir`). An empty or relative HOME is never used: files
 * would land in the working directory (a CI checkout, say).
 */
export function userHome(env: Env, accountHome: () => string): string {
  const home = env.HOME;
  if (home && isAbsolute(home)) return home;
  let fallback: string | undefined;
  try {
    fallback = accountHome();
  } catch {
    fallback = undefined;
  }
  if (fallback && isAbsolute(fallback)) return fallback;
  const what = home === undefined ? 'not set' : home === '' ? 'empty' : `a relative path (${home})`;
  throw new UsageError(
    `HOME is ${what}, and the account has no home directory to use instead, so there is no safe place for ~/.sekuire.`,
    'no_home',
    { hint: 'Set HOME to an absolute path, or SEKUIRE_HOME to the directory where Sekuire keeps its files' },
  );
}

/** SEKUIRE_HOME (relative to the working directory if it is relative: the user named it), else ~/.sekuire. */
export function sekuireHome(env: Env, cwd: string, accountHome: () => string): string {
  const fromEnv = env.SEKUIRE_HOME?.trim();
  if (fromEnv) return resolve(cwd, fromEnv);
  return join(userHome(env, accountHome), '.sekuire');
}
