// config.json: non-secret defaults in $SEKUIRE_HOME, read with the same checks as auth.json (no conf here).
import { join } from 'node:path';
import { CredentialsFileError } from './errors.js';
import { readPrivateFile } from './private-files.js';

export const CONFIG_FILE = 'config.json';

export type ConfigValue = string | number;

export interface ConfigFile {
  readonly path: string;
  /** Only strings and numbers; anything else is reported when the setting is used. */
  readonly values: Readonly<Record<string, unknown>>;
  readonly warnings: readonly string[];
}

export function configPath(home: string): string {
  return join(home, CONFIG_FILE);
}

/**
 * The stored defaults, or none. A symlink, another owner, a mode others can write, or text
 * that is not a JSON object is refused with the file named (exit 15), as for auth.json.
 */
export function readConfig(home: string): ConfigFile {
  const path = configPath(home);
  const file = readPrivateFile(path, home);
  if (!file || file.text.trim() === '') return { path, values: {}, warnings: file?.warnings ?? [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(file.text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialsFileError('config_corrupt', `${path} does not hold a JSON object.`, {
      hint: "Fix it by hand, or remove it and set the values again with 'sekuire config set'",
      details: { path },
    });
  }
  return { path, values: parsed as Record<string, unknown>, warnings: file.warnings };
}
