// `sekuire api`'s argv read without commander, as commander would read it (the command runs on the fast path, beside status).
import type { ApiOptions } from './commands/api.js';

/** Flags that take a value, by every spelling, and the option each fills. */
const VALUED: Readonly<
  Record<string, 'method' | 'header' | 'rawField' | 'field' | 'input' | 'backend' | 'profile'>
> = {
  '-X': 'method',
  '--method': 'method',
  '-H': 'header',
  '--header': 'header',
  '-f': 'rawField',
  '--raw-field': 'rawField',
  '-F': 'field',
  '--field': 'field',
  '--input': 'input',
  '--backend': 'backend',
  '--profile': 'profile',
};

const SWITCHES: Readonly<Record<string, 'include' | 'silent' | 'json' | 'verbose'>> = {
  '-i': 'include',
  '--include': 'include',
  '--silent': 'silent',
  '--json': 'json',
  '--verbose': 'verbose',
};

/**
 * The options of `sekuire api ARGS`, or undefined for anything this reader leaves to commander
 * (help, an unknown flag, a missing value, no PATH or two, a repeated -X, --input, --backend or
 * --profile),
 * which then prints its own help or error. Repeated -H, -f and -F add up, as in gh api.
 */
export function apiArgs(args: readonly string[]): ApiOptions | undefined {
  let target: string | undefined;
  const options: {
    method?: string;
    input?: string;
    backend?: string;
    profile?: string;
    include?: boolean;
    silent?: boolean;
    json?: boolean;
    verbose?: boolean;
  } = {};
  const header: string[] = [];
  const rawField: string[] = [];
  const field: string[] = [];
  let onlyPositional = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (onlyPositional || !arg.startsWith('-') || arg === '-') {
      if (target !== undefined) return undefined;
      target = arg;
      continue;
    }
    if (arg === '--') {
      onlyPositional = true;
      continue;
    }
    const switched = Object.hasOwn(SWITCHES, arg) ? SWITCHES[arg] : undefined;
    if (switched !== undefined) {
      options[switched] = true;
      continue;
    }
    let name: string;
    let value: string | undefined;
    const equals = arg.indexOf('=');
    if (arg.startsWith('--') && equals > 0) {
      name = arg.slice(0, equals);
      value = arg.slice(equals + 1);
    } else if (!arg.startsWith('--') && arg.length > 2) {
      // -XPOST, -HAccept:text/plain: commander reads a short flag's value attached.
      name = arg.slice(0, 2);
      value = arg.slice(2);
    } else {
      name = arg;
      value = args[++i];
    }
    const option = Object.hasOwn(VALUED, name) ? VALUED[name] : undefined;
    if (option === undefined || value === undefined) return undefined;
    if (option === 'header') header.push(value);
    else if (option === 'rawField') rawField.push(value);
    else if (option === 'field') field.push(value);
    else {
      if (options[option] !== undefined) return undefined;
      options[option] = value;
    }
  }
  if (target === undefined) return undefined;
  return { ...options, target, header, rawField, field };
}
