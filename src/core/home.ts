// Where Sekuire keeps its files: SEKUIRE_HOME, else ~/.sekuire.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export function sekuireHome(env: Env, cwd: string): string {
  const fromEnv = env.SEKUIRE_HOME?.trim();
  if (fromEnv) return resolve(cwd, fromEnv);
  return join(homedir(), '.sekuire');
}
