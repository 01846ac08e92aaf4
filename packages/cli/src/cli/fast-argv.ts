// Which argv the fast path runs: `--version`, and `status` with its own flags, read as commander would read them.
import { apiArgs } from './api-argv.js';
import type { ApiOptions } from './commands/api.js';
import type { StatusOptions } from './commands/status.js';

export type FastCommand =
  | { readonly kind: 'version' }
  | { readonly kind: 'status'; readonly options: StatusOptions; readonly asJson: boolean }
  | { readonly kind: 'api'; readonly options: ApiOptions; readonly asJson: boolean };

/** The status flags that take no value, and the option each sets (commander's camelCase names). */
const STATUS_SWITCHES: Readonly<Record<string, 'offline' | 'showKey' | 'json'>> = {
  '--offline': 'offline',
  '--show-key': 'showKey',
  '--json': 'json',
};

/**
 * What commander would make of argv, when it is one of the forms run before every job:
 * `--version` alone, or `status` with --offline, --show-key, --json and at most one
 * --backend URL (or --backend=URL) and one --profile NAME (or --profile=NAME), the value taken as commander takes it (whatever follows).
 * Anything else (help, a typo, an argument, a repeated --backend) is left to commander, with
 * its messages; undefined then.
 */
export function fastCommand(args: readonly string[]): FastCommand | undefined {
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) return { kind: 'version' };
  if (args[0] === 'api') {
    const options = apiArgs(args.slice(1));
    return options === undefined ? undefined : { kind: 'api', options, asJson: options.json === true };
  }
  if (args[0] !== 'status') return undefined;
  const options: {
    backend?: string;
    profile?: string;
    offline?: boolean;
    showKey?: boolean;
    json?: boolean;
  } = {};
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] ?? '';
    const name = Object.hasOwn(STATUS_SWITCHES, arg) ? STATUS_SWITCHES[arg] : undefined;
    if (name !== undefined) {
      options[name] = true;
      continue;
    }
    const flag = arg.startsWith('--backend')
      ? 'backend'
      : arg.startsWith('--profile')
        ? 'profile'
        : undefined;
    if (flag === undefined || (arg !== `--${flag}` && !arg.startsWith(`--${flag}=`))) return undefined;
    if (options[flag] !== undefined) return undefined;
    const value = arg === `--${flag}` ? args[++i] : arg.slice(`--${flag}=`.length);
    if (value === undefined) return undefined;
    options[flag] = value;
  }
  // As the full parser decides it: anywhere in argv, even as --backend's value.
  return { kind: 'status', options, asJson: args.includes('--json') };
}
