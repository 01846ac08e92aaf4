// Finds the external tools the benchmark uses (hyperfine, GNU time), installing them with apt when missing.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Tool {
  /** Absolute path, or undefined when the tool is missing and could not be installed. */
  readonly path: string | undefined;
  /** What happened: found, installed, or why it is missing. */
  readonly note: string;
}

export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function apt(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 300_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`;
  return { ok: result.status === 0, output };
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** The executable `name` from PATH, else `apt-get install -y pkg` (after `apt-get update` if needed). */
export function ensureTool(name: string, pkg: string, fixedPath?: string): Tool {
  const present = fixedPath !== undefined ? existsExecutable(fixedPath) : findExecutable(name);
  if (present !== undefined) return { path: present, note: 'found' };
  if (findExecutable('apt-get') === undefined) return { path: undefined, note: 'missing, and no apt-get' };
  if (process.getuid?.() !== 0)
    return { path: undefined, note: 'missing, and not root: cannot apt-get install' };
  process.stderr.write(`bench: ${name} is missing; installing the Debian package ${pkg}...\n`);
  let install = apt(['install', '-y', '--no-install-recommends', pkg]);
  if (!install.ok) {
    const update = apt(['update']);
    if (!update.ok) return { path: undefined, note: `apt-get update failed: ${lastLine(update.output)}` };
    install = apt(['install', '-y', '--no-install-recommends', pkg]);
  }
  if (!install.ok)
    return { path: undefined, note: `apt-get install ${pkg} failed: ${lastLine(install.output)}` };
  const installed = fixedPath !== undefined ? existsExecutable(fixedPath) : findExecutable(name);
  return installed === undefined
    ? { path: undefined, note: `apt-get installed ${pkg} but ${name} is still not found` }
    : { path: installed, note: `installed with apt-get (${pkg})` };
}

function existsExecutable(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

/** The first line of `tool --version`, or undefined. */
export function toolVersion(path: string): string | undefined {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  return result.stdout.trim().split('\n')[0];
}

/** Whether `tool --help` mentions an option, e.g. hyperfine's `--input`. */
export function helpMentions(path: string, option: string): boolean {
  const result = spawnSync(path, ['--help'], { encoding: 'utf8' });
  return `${result.stdout ?? ''}`.includes(option);
}
