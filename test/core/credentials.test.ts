// auth.json: round trip, modes under every umask, links, owners, loosened modes, corrupt contents.
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { mintKey } from '@sekuire/shared/key';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CREDENTIALS_FILE,
  credentialsPath,
  readCredentials,
  removeCredentials,
  writeCredentials,
} from '../../packages/cli/src/core/credentials.js';
import { CredentialsFileError } from '../../packages/cli/src/core/errors.js';
import { sampleCredentials, useTempDirs, withUmask } from '../helpers/temp-home.js';
import { lastJson, NOBODY, runWorker } from '../helpers/worker.js';

const tempDir = useTempDirs();

/** A home directory (0700) that does not hold auth.json yet. */
function newHome(): string {
  const home = join(tempDir(), 'home');
  mkdirSync(home, { mode: 0o700 });
  return home;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** The CredentialsFileError fn throws; fails the test when it throws nothing or something else. */
function fileError(fn: () => unknown): CredentialsFileError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialsFileError);
    const fileError = error as CredentialsFileError;
    expect(fileError.exitCode).toBe(15);
    return fileError;
  }
  throw new Error('expected a CredentialsFileError, got none');
}

/** The error as a person reads it: the message, then the hint (the next action). */
function said(error: CredentialsFileError): string {
  return error.hint ? `${error.message} ${error.hint}.` : error.message;
}

function corruptMessage(path: string, why: string): string {
  return `${path} ${why}. Run 'sekuire logout' to remove it, then 'sekuire login' to sign in again.`;
}

function symlinkMessage(path: string): string {
  return `${path} is a symbolic link. Sekuire does not follow links for credentials, because a link can point anywhere. Replace it with a real directory or file (or point SEKUIRE_HOME at the real directory), then run 'sekuire login'.`;
}

describe('writeCredentials and readCredentials', () => {
  it('round-trips the credentials with the format version', () => {
    const home = newHome();
    const credentials = sampleCredentials('round');
    const path = writeCredentials(home, credentials);
    expect(path).toBe(join(home, CREDENTIALS_FILE));
    expect(credentialsPath(home)).toBe(path);
    expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify({ version: 1, ...credentials }, null, 2)}\n`);
    expect(readCredentials(home)).toEqual({
      credentials: { version: 1, ...credentials },
      path,
      warnings: [],
      extra: {},
    });
  });

  it('reads nothing when there is no auth.json, or no home at all', () => {
    expect(readCredentials(newHome())).toBeUndefined();
    expect(readCredentials(join(tempDir(), 'missing', 'home'))).toBeUndefined();
  });

  it('fills absent optional fields with empty strings', () => {
    const home = newHome();
    const { api_key, device_fingerprint, backend, org_id, workspace_id } = sampleCredentials();
    const minimal = { api_key, device_fingerprint, backend, org_id, workspace_id };
    writeFileSync(credentialsPath(home), JSON.stringify(minimal), { mode: 0o600 });
    expect(readCredentials(home)?.credentials).toEqual({
      version: 1,
      ...minimal,
      key_id: '',
      environment: '',
      device_name: '',
      os: '',
      user_id: '',
      user_email: '',
      device_key: '',
      org_name: '',
      workspace_name: '',
      verified_at: '',
      expires_at: '',
    });
  });

  it('replaces the previous credentials', () => {
    const home = newHome();
    writeCredentials(home, sampleCredentials('old'));
    const next = sampleCredentials('new', 'test');
    writeCredentials(home, next);
    expect(readCredentials(home)?.credentials).toEqual({ version: 1, ...next });
    expect(readdirSync(home)).toEqual([CREDENTIALS_FILE]);
  });

  it.each([0o000, 0o022, 0o027, 0o077])(
    'creates the directory 0700 and the file 0600 under umask %o',
    (mask) => {
      const home = join(tempDir(), 'nested', 'home');
      withUmask(mask, () => {
        writeCredentials(home, sampleCredentials());
      });
      expect(mode(join(home, '..'))).toBe(0o700);
      expect(mode(home)).toBe(0o700);
      expect(mode(credentialsPath(home))).toBe(0o600);
    },
  );

  it.each([0o000, 0o022, 0o027, 0o077])('keeps 0700/0600 on rewrites under umask %o', (mask) => {
    const home = newHome();
    withUmask(mask, () => {
      for (let i = 0; i < 3; i++) writeCredentials(home, sampleCredentials(String(i)));
    });
    expect(mode(home)).toBe(0o700);
    expect(mode(credentialsPath(home))).toBe(0o600);
  });

  it('tightens an existing directory that others can read or write', () => {
    const home = newHome();
    chmodSync(home, 0o755);
    withUmask(0o000, () => writeCredentials(home, sampleCredentials()));
    expect(mode(home)).toBe(0o700);
  });

  it('leaves no temp file behind', () => {
    const home = newHome();
    for (let i = 0; i < 20; i++) writeCredentials(home, sampleCredentials(String(i)));
    expect(readdirSync(home)).toEqual([CREDENTIALS_FILE]);
  });
});

describe('symbolic links', () => {
  it('refuses to write through a symlinked auth.json and leaves its target alone', () => {
    const root = tempDir();
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    const target = join(root, 'target.json');
    writeFileSync(target, 'precious\n', { mode: 0o600 });
    const link = credentialsPath(home);
    symlinkSync(target, link);
    const error = fileError(() => writeCredentials(home, sampleCredentials()));
    expect(error.code).toBe('credentials_symlink');
    expect(said(error)).toBe(symlinkMessage(link));
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(home)).toEqual([CREDENTIALS_FILE]);
  });

  it('refuses to write through a dangling symlinked auth.json, creating nothing', () => {
    const root = tempDir();
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    const target = join(root, 'would-be-created.json');
    symlinkSync(target, credentialsPath(home));
    expect(fileError(() => writeCredentials(home, sampleCredentials())).code).toBe('credentials_symlink');
    expect(readdirSync(root).sort()).toEqual(['home']);
  });

  it('refuses to write into a symlinked SEKUIRE_HOME and leaves its target alone', () => {
    const root = tempDir();
    const real = join(root, 'real');
    mkdirSync(real, { mode: 0o700 });
    const home = join(root, 'home');
    symlinkSync(real, home);
    const error = fileError(() => writeCredentials(home, sampleCredentials()));
    expect(error.code).toBe('credentials_symlink');
    expect(said(error)).toBe(symlinkMessage(home));
    expect(readdirSync(real)).toEqual([]);
    expect(mode(real)).toBe(0o700);
  });

  it('refuses to read a symlinked auth.json', () => {
    const root = tempDir();
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    writeCredentials(join(root, 'other'), sampleCredentials());
    symlinkSync(credentialsPath(join(root, 'other')), credentialsPath(home));
    const error = fileError(() => readCredentials(home));
    expect(error.code).toBe('credentials_symlink');
    expect(said(error)).toBe(symlinkMessage(credentialsPath(home)));
  });

  it('refuses to read auth.json through a symlinked SEKUIRE_HOME', () => {
    const root = tempDir();
    const real = join(root, 'real');
    writeCredentials(real, sampleCredentials());
    const home = join(root, 'home');
    symlinkSync(real, home);
    const error = fileError(() => readCredentials(home));
    expect(error.code).toBe('credentials_symlink');
    expect(said(error)).toBe(symlinkMessage(home));
  });
});

describe('loosened modes', () => {
  it.each([0o644, 0o640, 0o604])('reads a file with mode %o, warning with the fix', (loose) => {
    const home = newHome();
    const credentials = sampleCredentials();
    const path = writeCredentials(home, credentials);
    chmodSync(path, loose);
    const modeText = `0${loose.toString(8)}`;
    expect(readCredentials(home)).toEqual({
      credentials: { version: 1, ...credentials },
      path,
      warnings: [
        `Warning: ${path} is readable by other users (mode ${modeText}). Run 'chmod 600 ${path}', and revoke the key if someone else may have read it.`,
      ],
      extra: {},
    });
  });

  it.each([0o666, 0o620, 0o602, 0o622])('refuses a file with mode %o that others can write', (loose) => {
    const home = newHome();
    const path = writeCredentials(home, sampleCredentials());
    chmodSync(path, loose);
    const error = fileError(() => readCredentials(home));
    expect(error.code).toBe('credentials_mode');
    expect(said(error)).toBe(
      `${path} can be changed by other users (mode 0${loose.toString(8)}), so it could send your key to another server. Run 'chmod 600 ${path}' and check its contents, or run 'sekuire login' to replace it.`,
    );
  });

  it.each([0o777, 0o770, 0o707, 0o1777])(
    'refuses a directory with mode %o that others can write',
    (loose) => {
      const home = newHome();
      writeCredentials(home, sampleCredentials());
      chmodSync(home, loose);
      const error = fileError(() => readCredentials(home));
      expect(error.code).toBe('credentials_mode');
      expect(said(error)).toBe(
        `${home} can be changed by other users (mode 0${(loose & 0o777).toString(8)}), so the files in it cannot be trusted. Run 'chmod 700 ${home}', then check them, or run 'sekuire login' to replace them.`,
      );
    },
  );

  it('accepts a directory others can only read', () => {
    const home = newHome();
    writeCredentials(home, sampleCredentials());
    chmodSync(home, 0o755);
    expect(readCredentials(home)?.warnings).toEqual([]);
  });

  it('restores 0600 and 0700 on the next write', () => {
    const home = newHome();
    const path = writeCredentials(home, sampleCredentials('old'));
    chmodSync(path, 0o666);
    chmodSync(home, 0o777);
    const next = sampleCredentials('new');
    withUmask(0o000, () => writeCredentials(home, next));
    expect(mode(home)).toBe(0o700);
    expect(mode(path)).toBe(0o600);
    expect(readCredentials(home)).toEqual({
      credentials: { version: 1, ...next },
      path,
      warnings: [],
      extra: {},
    });
  });
});

describe('ownership and permissions', () => {
  it('refuses an auth.json owned by another user', () => {
    const home = newHome();
    const path = writeCredentials(home, sampleCredentials());
    chownSync(path, NOBODY, NOBODY);
    const error = fileError(() => readCredentials(home));
    expect(error.code).toBe('credentials_owner');
    expect(said(error)).toBe(
      `${path} belongs to another user (uid ${NOBODY}). Sekuire uses, writes and removes only files you own. Use your own SEKUIRE_HOME, or remove it, then run 'sekuire login'.`,
    );
  });

  it('refuses a home directory owned by another user, for reading and writing', () => {
    const home = newHome();
    writeCredentials(home, sampleCredentials());
    chownSync(home, NOBODY, NOBODY);
    const message = `${home} belongs to another user (uid ${NOBODY}). Sekuire uses, writes and removes only files you own. Use your own SEKUIRE_HOME, or remove it, then run 'sekuire login'.`;
    expect(said(fileError(() => readCredentials(home)))).toBe(message);
    expect(said(fileError(() => writeCredentials(home, sampleCredentials())))).toBe(message);
  });

  it('reports an unreadable auth.json (mode 000, read by an unprivileged user)', () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    const path = writeCredentials(home, sampleCredentials());
    chownSync(home, NOBODY, NOBODY);
    chownSync(path, NOBODY, NOBODY);
    chmodSync(path, 0o000);
    const run = runWorker(['read', home], { uid: NOBODY });
    expect(run.stderr).toBe('');
    expect(lastJson(run.stdout)).toEqual({
      ok: false,
      name: 'CredentialsFileError',
      code: 'credentials_unreadable',
      exitCode: 15,
      message: `Cannot read ${path}: permission denied.`,
      hint: 'It should be yours with mode 0600, in a directory of yours with mode 0700; or set SEKUIRE_HOME to a directory you own',
    });
  });

  it('reports a home directory the user cannot write (run as an unprivileged user)', () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o500 });
    chownSync(home, NOBODY, NOBODY);
    const credentials = sampleCredentials();
    const run = runWorker(['write', home, root, '1'], {
      uid: NOBODY,
      env: { SEKUIRE_TEST_CREDENTIALS: JSON.stringify(credentials) },
    });
    expect(run.stderr).toBe('');
    expect(lastJson(run.stdout)).toEqual({
      ok: false,
      name: 'CredentialsFileError',
      code: 'credentials_unwritable',
      exitCode: 15,
      message: `Cannot write ${credentialsPath(home)}: permission denied.`,
      hint: 'It should be yours with mode 0600, in a directory of yours with mode 0700; or set SEKUIRE_HOME to a directory you own',
    });
    expect(readdirSync(home)).toEqual([]);
  });
});

describe('unusable auth.json contents', () => {
  const key = mintKey('live').value;
  const valid = { ...sampleCredentials(), api_key: key };
  const without = (field: string) =>
    Object.fromEntries(Object.entries(valid).filter(([name]) => name !== field));
  const cases: [string, string, string][] = [
    ['an empty file', '', 'is empty'],
    ['only whitespace', ' \n\n', 'is empty'],
    ['truncated JSON', JSON.stringify(valid).slice(0, 40), 'is not valid JSON'],
    ['not JSON at all', 'api_key=sk_live_x\n', 'is not valid JSON'],
    ['JSON with a byte-order mark', `\ufeff${JSON.stringify(valid)}`, 'is not valid JSON'],
    ['an array', JSON.stringify([valid]), 'does not hold a JSON object'],
    ['null', 'null', 'does not hold a JSON object'],
    ['a string', '"sk_live_abc"', 'does not hold a JSON object'],
    ['a number', '42', 'does not hold a JSON object'],
    ['an empty object', '{}', 'has no "api_key"'],
    ['no api_key', JSON.stringify(without('api_key')), 'has no "api_key"'],
    ['an empty api_key', JSON.stringify({ ...valid, api_key: '' }), 'has no "api_key"'],
    ['a null api_key', JSON.stringify({ ...valid, api_key: null }), 'has no "api_key"'],
    [
      'a numeric api_key',
      JSON.stringify({ ...valid, api_key: 12345 }),
      'has a "api_key" that is not a string',
    ],
    [
      'an object api_key',
      JSON.stringify({ ...valid, api_key: { value: key } }),
      'has a "api_key" that is not a string',
    ],
    ['no backend', JSON.stringify(without('backend')), 'has no "backend"'],
    ['no device_fingerprint', JSON.stringify(without('device_fingerprint')), 'has no "device_fingerprint"'],
    ['no org_id', JSON.stringify(without('org_id')), 'has no "org_id"'],
    ['no workspace_id', JSON.stringify(without('workspace_id')), 'has no "workspace_id"'],
    [
      'a numeric org_name',
      JSON.stringify({ ...valid, org_name: 7 }),
      'has a "org_name" that is not a string',
    ],
    ['a boolean os', JSON.stringify({ ...valid, os: true }), 'has a "os" that is not a string'],
    [
      'a malformed api_key',
      JSON.stringify({ ...valid, api_key: `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}` }),
      'holds an API key that is not well-formed',
    ],
    [
      'a truncated api_key',
      JSON.stringify({ ...valid, api_key: key.slice(0, 20) }),
      'holds an API key that is not well-formed',
    ],
    [
      'a short device_fingerprint',
      JSON.stringify({ ...valid, device_fingerprint: 'abc' }),
      'holds a device fingerprint that is not 64 hex characters',
    ],
    [
      'an uppercase device_fingerprint',
      JSON.stringify({ ...valid, device_fingerprint: 'AB'.repeat(32) }),
      'holds a device fingerprint that is not 64 hex characters',
    ],
  ];

  it.each(cases)('refuses %s, naming the file and the fix', (_what, text, why) => {
    const home = newHome();
    const path = credentialsPath(home);
    writeFileSync(path, text, { mode: 0o600 });
    const error = fileError(() => readCredentials(home));
    expect(error.code).toBe('credentials_corrupt');
    expect(said(error)).toBe(corruptMessage(path, why));
    expect(error.message).not.toContain(key);
    expect(error.details).toEqual({ path });
  });

  it('refuses a file larger than any Sekuire file', () => {
    const home = newHome();
    const path = credentialsPath(home);
    writeFileSync(path, `${JSON.stringify(valid)}${' '.repeat(70_000)}`, { mode: 0o600 });
    const error = fileError(() => readCredentials(home));
    expect(said(error)).toBe(
      `${path} is too large to be a Sekuire file (${statSync(path).size} bytes). Remove it, then run 'sekuire login'.`,
    );
  });

  it('refuses a directory where auth.json should be, for reading, writing and removing', () => {
    const home = newHome();
    const path = credentialsPath(home);
    mkdirSync(path, { mode: 0o700 });
    const read = fileError(() => readCredentials(home));
    expect(read.code).toBe('credentials_corrupt');
    expect(said(read)).toBe(`${path} is not a regular file. Remove it, then run 'sekuire login'.`);
    const write = fileError(() => writeCredentials(home, sampleCredentials()));
    expect(write.code).toBe('credentials_unwritable');
    expect(said(write)).toBe(
      `${path} is a directory, where Sekuire keeps a file. Move it away, then run 'sekuire login'.`,
    );
    const remove = fileError(() => removeCredentials(home));
    expect(said(remove)).toBe(
      `Cannot write ${path}: it is a directory. Move it away, or set SEKUIRE_HOME to another directory.`,
    );
    expect(readdirSync(home)).toEqual([CREDENTIALS_FILE]);
    expect(lstatSync(path).isDirectory()).toBe(true);
  });

  it('refuses a home that is a file, for reading and writing', () => {
    const root = tempDir();
    const home = join(root, 'home');
    writeFileSync(home, 'not a directory', { mode: 0o600 });
    const message = `${home} is not a directory. Move it away, or set SEKUIRE_HOME to another directory.`;
    expect(said(fileError(() => readCredentials(home)))).toBe(message);
    expect(said(fileError(() => writeCredentials(home, sampleCredentials())))).toBe(message);
    expect(readFileSync(home, 'utf8')).toBe('not a directory');
  });

  it('never throws anything but CredentialsFileError for random bytes', () => {
    const home = newHome();
    const path = credentialsPath(home);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        writeFileSync(path, bytes, { mode: 0o600 });
        try {
          const loaded = readCredentials(home);
          expect(loaded?.credentials.api_key).toMatch(/^sk_(live|test)_[0-9A-Za-z]{38}$/);
        } catch (error) {
          expect(error).toBeInstanceOf(CredentialsFileError);
          expect((error as CredentialsFileError).exitCode).toBe(15);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but CredentialsFileError for random JSON of roughly the right shape', () => {
    const home = newHome();
    const path = credentialsPath(home);
    const field = fc.oneof(fc.constant(undefined), fc.string(), fc.jsonValue(), fc.constant(key));
    const shaped = fc.record(
      {
        api_key: fc.oneof(field, fc.constant(key), fc.constant(mintKey('test').value)),
        device_fingerprint: fc.oneof(field, fc.constant('ab'.repeat(32))),
        backend: field,
        org_id: field,
        workspace_id: field,
        org_name: field,
        version: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(shaped, fc.jsonValue()), (value) => {
        writeFileSync(path, JSON.stringify(value) ?? '', { mode: 0o600 });
        try {
          const loaded = readCredentials(home);
          expect(loaded?.credentials.api_key).toMatch(/^sk_(live|test)_[0-9A-Za-z]{38}$/);
        } catch (error) {
          expect(error).toBeInstanceOf(CredentialsFileError);
          expect((error as CredentialsFileError).exitCode).toBe(15);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('removeCredentials', () => {
  it('removes auth.json and says whether there was one', () => {
    const home = newHome();
    writeCredentials(home, sampleCredentials());
    expect(removeCredentials(home)).toBe(true);
    expect(readdirSync(home)).toEqual([]);
    expect(removeCredentials(home)).toBe(false);
    expect(removeCredentials(join(tempDir(), 'never-created'))).toBe(false);
  });

  it('removes a symlinked auth.json without touching its target', () => {
    const root = tempDir();
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    const target = join(root, 'target.json');
    writeFileSync(target, 'precious\n', { mode: 0o600 });
    symlinkSync(target, credentialsPath(home));
    expect(removeCredentials(home)).toBe(true);
    expect(readdirSync(home)).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });
});
