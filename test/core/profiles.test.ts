// Profiles on disk: names, where each profile's files are, and writes that survive kill -9 at any point.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readCredentials, writeCredentials } from '../../packages/cli/src/core/credentials.js';
import { readDeviceKey } from '../../packages/cli/src/core/device-key.js';
import {
  deviceKeyPathFor,
  parseProfileName,
  profileDir,
  readActiveProfile,
  resolveProfile,
  writeActiveProfile,
} from '../../packages/cli/src/core/profiles.js';
import { sampleCredentials, useTempDirs } from '../helpers/temp-home.js';
import { startWorker } from '../helpers/worker.js';

const tempDir = useTempDirs();

function newHome(): string {
  const home = join(tempDir(), 'home');
  mkdirSync(home, { mode: 0o700 });
  return home;
}

function credentialsEnv(credentials: object): Record<string, string> {
  return { SEKUIRE_TEST_CREDENTIALS: JSON.stringify(credentials) };
}

describe('profile names and places', () => {
  it.each(['default', 'work', 'a', '0ops', 'ci_2-east', 'x'.repeat(32)])('accepts %s', (name) => {
    expect(parseProfileName(name, '--profile')).toBe(name);
  });

  it.each(['', 'Work', '-x', '_x', '../x', 'a/b', 'x'.repeat(33), 'a b', 'é'])(
    'refuses %j (exit 2)',
    (name) => {
      expect(() => parseProfileName(name, '--profile')).toThrow(
        expect.objectContaining({ exitCode: 2, code: 'invalid_profile' }),
      );
    },
  );

  it('default is SEKUIRE_HOME itself; a named profile is under profiles/; each has its own device key', () => {
    expect(profileDir('/h', 'default')).toBe('/h');
    expect(profileDir('/h', 'work')).toBe('/h/profiles/work');
    expect(deviceKeyPathFor('/h', 'default')).toBe('/h/device-key.json');
    expect(deviceKeyPathFor('/h', 'work')).toBe('/h/profiles/work/device-key.json');
  });

  it('resolves --profile > SEKUIRE_PROFILE > active-profile > default, reading no directory', () => {
    const home = newHome();
    expect(resolveProfile(home, {})).toEqual({ name: 'default', from: 'default', dir: home });
    writeFileSync(join(home, 'active-profile'), 'work\n', { mode: 0o600 });
    expect(resolveProfile(home, {})).toMatchObject({ name: 'work', from: 'active' });
    expect(resolveProfile(home, { SEKUIRE_PROFILE: 'ci' })).toMatchObject({
      name: 'ci',
      from: 'SEKUIRE_PROFILE',
    });
    expect(resolveProfile(home, { SEKUIRE_PROFILE: 'ci' }, 'default')).toEqual({
      name: 'default',
      from: '--profile',
      dir: home,
    });
    writeFileSync(join(home, 'active-profile'), 'Not A Name\n', { mode: 0o600 });
    expect(() => resolveProfile(home, {})).toThrow(expect.objectContaining({ exitCode: 15 }));
  });
});

describe('kill -9', () => {
  it('auth switch killed at any point leaves the old name or the new one, never a part', async () => {
    const home = newHome();
    writeActiveProfile(home, 'b');
    for (const delayMs of [0, 5, 40, 150]) {
      const writer = startWorker(['switch-loop', home, 'alpha-long-profile-name-0000001', 'b']);
      await writer.output('"started"');
      await sleep(delayMs);
      writer.kill('SIGKILL');
      expect((await writer.exited).signal).toBe('SIGKILL');
      expect(['alpha-long-profile-name-0000001', 'b']).toContain(readActiveProfile(home));
      expect(statSync(join(home, 'active-profile')).mode & 0o777).toBe(0o600);
    }
  });

  it('login --profile killed at any point: the profile is whole or absent, default untouched', async () => {
    const home = newHome();
    const mine = sampleCredentials('mine');
    writeCredentials(home, mine);
    const before = readFileSync(join(home, 'auth.json'));
    const looping = sampleCredentials('work');
    for (const delayMs of [0, 5, 40, 150]) {
      const writer = startWorker(['profile-login-loop', home, 'work', '40000'], {
        env: credentialsEnv(looping),
      });
      await writer.output('"started"');
      await sleep(delayMs);
      writer.kill('SIGKILL');
      expect((await writer.exited).signal).toBe('SIGKILL');
      const dir = profileDir(home, 'work');
      const stored = readCredentials(dir)?.credentials;
      if (stored !== undefined) {
        expect(stored.org_name).toMatch(/^\d+:x{40000}$/);
        expect(stored).toEqual({ version: 1, ...looping, org_name: stored.org_name });
      }
      // The device key is created once, whole (a link, never a rename over one).
      if (existsSync(join(dir, 'device-key.json')))
        expect(readDeviceKey(dir)?.thumbprint).toMatch(/^[\w-]{43}$/);
      expect(readFileSync(join(home, 'auth.json'))).toEqual(before);
      // Killed before it made anything, or after: the directories are 0700 whenever they exist.
      expect(readdirSync(home).filter((name) => name !== 'profiles')).toEqual(['auth.json']);
      for (const path of [join(home, 'profiles'), dir]) {
        if (existsSync(path)) expect(statSync(path).mode & 0o777).toBe(0o700);
      }
    }
  });
});
