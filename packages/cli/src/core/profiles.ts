// Profiles: several logins in one SEKUIRE_HOME, each with its own auth.json and device key; which one is in use.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CredentialsFileError, UsageError } from './errors.js';
import type { Env } from './home.js';
import {
  checkPrivateDir,
  ensurePrivateDir,
  readPrivateFile,
  writePrivateFileAtomic,
} from './private-files.js';

export const DEFAULT_PROFILE = 'default';
export const PROFILE_ENV = 'SEKUIRE_PROFILE';
/** The active profile's name, one line; absent means `default`. */
export const ACTIVE_PROFILE_FILE = 'active-profile';
export const PROFILES_DIR = 'profiles';
const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Where the profile in use was named: a flag, the variable, the active-profile file, or nowhere. */
export type ProfileFrom = '--profile' | typeof PROFILE_ENV | 'active' | 'default';

export interface Profile {
  readonly name: string;
  readonly from: ProfileFrom;
  /** The directory that holds its auth.json and device key: SEKUIRE_HOME itself for `default`. */
  readonly dir: string;
}

/** A profile name as given; anything outside [a-z0-9][a-z0-9_-]{0,31} is a usage error (exit 2). */
export function parseProfileName(text: string, where: string): string {
  if (NAME.test(text)) return text;
  throw new UsageError(
    `${where} is not a profile name: "${text.slice(0, 40)}". A name is 1 to 32 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit.`,
    'invalid_profile',
    { hint: "List the profiles with 'sekuire auth list'" },
  );
}

/**
 * The directory of a profile. `default` is SEKUIRE_HOME itself, so a home made before profiles
 * existed is the profile `default` as it is: an upgrade moves nothing.
 */
export function profileDir(home: string, name: string): string {
  return name === DEFAULT_PROFILE ? home : join(home, PROFILES_DIR, name);
}

/** The command that makes a login in this profile: `sekuire login`, with --profile NAME unless it is `default`. */
export function loginCommandFor(profile: string | undefined): string {
  return profile === undefined || profile === DEFAULT_PROFILE
    ? 'sekuire login'
    : `sekuire login --profile ${profile}`;
}

/** Where a profile keeps its device key (one key per profile: see SECURITY.md). */
export function deviceKeyPathFor(home: string, name: string): string {
  return join(profileDir(home, name), 'device-key.json');
}

/** The active profile named in SEKUIRE_HOME/active-profile; undefined when there is none. */
export function readActiveProfile(home: string): string | undefined {
  const file = readPrivateFile(join(home, ACTIVE_PROFILE_FILE), home);
  if (file === undefined) return undefined;
  const text = file.text.trim();
  if (!NAME.test(text)) {
    const path = join(home, ACTIVE_PROFILE_FILE);
    throw new CredentialsFileError('credentials_corrupt', `${path} does not hold a profile name.`, {
      hint: "Run 'sekuire auth switch default' (or another profile's name) to replace it",
      details: { path },
    });
  }
  return text;
}

/** Makes `name` the active profile: one small file, replaced by rename (a kill leaves the old or the new). */
export function writeActiveProfile(home: string, name: string): string {
  return writePrivateFileAtomic(home, ACTIVE_PROFILE_FILE, `${name}\n`);
}

/**
 * The profile a command uses: --profile > SEKUIRE_PROFILE > the active profile > `default`.
 * Reads one small file at most; never lists the profiles.
 */
export function resolveProfile(home: string, env: Env, flag?: string): Profile {
  let name: string;
  let from: ProfileFrom;
  const fromEnv = env[PROFILE_ENV]?.trim();
  if (flag !== undefined) {
    name = parseProfileName(flag, '--profile');
    from = '--profile';
  } else if (fromEnv) {
    name = parseProfileName(fromEnv, PROFILE_ENV);
    from = PROFILE_ENV;
  } else {
    const active = readActiveProfile(home);
    name = active ?? DEFAULT_PROFILE;
    from = active === undefined ? 'default' : 'active';
  }
  const dir = profileDir(home, name);
  // A named profile's files sit two directories down: both are held to the rules SEKUIRE_HOME is.
  if (name !== DEFAULT_PROFILE) {
    checkPrivateDir(home);
    checkPrivateDir(join(home, PROFILES_DIR));
  }
  return { name, from, dir };
}

/** Creates a named profile's directories (0700 each) before anything is written into them. */
export function ensureProfileDir(home: string, name: string): string {
  const dir = profileDir(home, name);
  ensurePrivateDir(home);
  if (name !== DEFAULT_PROFILE) {
    ensurePrivateDir(join(home, PROFILES_DIR));
    ensurePrivateDir(dir);
  }
  return dir;
}

/** Every profile that holds a login, sorted; only `auth list` and `logout --all` call it (status never lists). */
export function listProfileNames(home: string, hasLogin: (dir: string) => boolean): string[] {
  const names = new Set<string>();
  if (hasLogin(home)) names.add(DEFAULT_PROFILE);
  const parent = join(home, PROFILES_DIR);
  const entries = checkPrivateDir(parent) ? readdirSync(parent) : [];
  for (const entry of entries) {
    if (!NAME.test(entry) || entry === DEFAULT_PROFILE) continue;
    try {
      const dir = join(home, PROFILES_DIR, entry);
      if (lstatSync(dir).isDirectory() && hasLogin(dir)) names.add(entry);
    } catch {
      // Gone between the listing and the check: not a profile any more.
    }
  }
  return [...names].sort();
}
