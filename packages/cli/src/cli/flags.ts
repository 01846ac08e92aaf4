// Flags shared by commands: --backend (with the aliases older commands had) and how they combine.
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { Flag } from '../core/settings.js';

export interface BackendOptions {
  readonly backend?: string;
  readonly backendUrl?: string;
  readonly url?: string;
}

const ALIAS_KEYS = { '--backend-url': 'backendUrl', '--url': 'url' } as const;

/** Adds --backend URL, and the command's older spelling as an alias, to a command that talks to a backend. */
export function backendOption(
  command: Command,
  description: string,
  alias?: keyof typeof ALIAS_KEYS,
): Command {
  command.option('--backend <url>', description);
  // createOption, not `new Option`: this file is loaded by the fast path too, which never loads commander.
  if (alias) command.addOption(command.createOption(`${alias} <url>`, 'the same as --backend'));
  return command;
}

/** The backend named on the command line, if any; two spellings with two different URLs are refused. */
export function backendFlag(options: BackendOptions): Flag | undefined {
  const given = (
    [
      ['--backend', options.backend],
      ['--backend-url', options.backendUrl],
      ['--url', options.url],
    ] as const
  ).filter(
    (entry): entry is readonly ['--backend' | '--backend-url' | '--url', string] => entry[1] !== undefined,
  );
  const first = given[0];
  if (!first) return undefined;
  const other = given.find(([, value]) => value.trim() !== first[1].trim());
  if (other) {
    throw new UsageError(
      `${first[0]} and ${other[0]} name two different backends; give one.`,
      'conflicting_flags',
    );
  }
  return { value: first[1], name: first[0] };
}

export interface ProfileOptions {
  readonly profile?: string;
}

/** Adds --profile NAME: which stored login (and device key) the command uses. */
export function profileOption(
  command: Command,
  description = 'use this profile (default: SEKUIRE_PROFILE, else the active profile)',
): Command {
  return command.option('--profile <name>', description);
}
