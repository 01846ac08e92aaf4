// Private files across processes: born 0600, atomic under concurrency and SIGKILL, stale temps swept.
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  credentialsPath,
  readCredentials,
  writeCredentials,
} from '../../packages/cli/src/core/credentials.js';
import {
  checkWritable,
  createPrivateFile,
  ensurePrivateDir,
  modeText,
  readPrivateFile,
  removePrivateFile,
  writePrivateFileAtomic,
} from '../../packages/cli/src/core/private-files.js';
import { type NewCredentials, sampleCredentials, useTempDirs, withUmask } from '../helpers/temp-home.js';
import { lastJson, NOBODY, runWorker, startWorker } from '../helpers/worker.js';

const tempDir = useTempDirs();
const TEMP_NAME = /^\.auth\.json\.(\d+)\.[0-9a-f]{12}\.tmp$/;

function newHome(): string {
  const home = join(tempDir(), 'home');
  mkdirSync(home, { mode: 0o700 });
  return home;
}

function credentialsEnv(credentials: NewCredentials): Record<string, string> {
  return { SEKUIRE_TEST_CREDENTIALS: JSON.stringify(credentials) };
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  expect(child.status).toBe(0);
  return child.pid ?? 0;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await sleep(1);
  }
}

describe('modeText', () => {
  it('writes the permission bits as four octal digits', () => {
    expect(modeText(0o100600)).toBe('0600');
    expect(modeText(0o40755)).toBe('0755');
    expect(modeText(0o7)).toBe('0007');
    expect(modeText(0)).toBe('0000');
  });
});

describe('writePrivateFileAtomic', () => {
  it('is born 0600: no wider mode is observable while 200 writes happen under umask 022', async () => {
    // On a disk, where each write's fsync keeps the temp file there long enough for the watcher
    // to see it; in the run's RAM folder 200 writes can be over before it looks even once.
    const root = mkdtempSync(join(process.env.SEKUIRE_TEST_DISK_TMPDIR ?? tmpdir(), 'sekuire-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    const stop = join(root, 'stop');
    const watcher = startWorker(['watch', home, stop]);
    await watcher.output('"ready"');
    const writer = startWorker(['write-many', home, '200', '022'], {
      env: credentialsEnv(sampleCredentials()),
    });
    const wrote = await writer.exited;
    writeFileSync(stop, '');
    const watched = lastJson<{ polls: number; tempSightings: number; wider: string[] }>(
      (await watcher.exited).stdout,
    );
    expect(wrote.stderr).toBe('');
    expect(lastJson(wrote.stdout)).toEqual({ ok: true });
    expect(watched.wider).toEqual([]);
    expect(watched.tempSightings).toBeGreaterThan(0);
    expect(readdirSync(home)).toEqual(['auth.json']);
    expect(statSync(credentialsPath(home)).mode & 0o777).toBe(0o600);
  });

  it('leaves exactly one of 8 concurrent writers’ credentials, whole, and no temp file', async () => {
    const root = tempDir();
    const home = join(root, 'home');
    const go = join(root, 'go');
    const all = Array.from({ length: 8 }, (_, i) => sampleCredentials(`writer${i}`, i % 2 ? 'test' : 'live'));
    const writers = all.map((credentials) =>
      startWorker(['write', home, go, '25'], { env: credentialsEnv(credentials) }),
    );
    // Each writer waits for the go file once it has loaded, so that the writes overlap.
    await Promise.all(writers.map((writer) => writer.output('"waiting"')));
    writeFileSync(go, '');
    const exits = await Promise.all(writers.map((writer) => writer.exited));
    for (const exit of exits) {
      expect(exit.stderr).toBe('');
      expect(lastJson(exit.stdout)).toEqual({ ok: true });
    }
    expect(readdirSync(home)).toEqual(['auth.json']);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(credentialsPath(home)).mode & 0o777).toBe(0o600);
    const stored = readCredentials(home)?.credentials;
    expect(all.map((credentials) => ({ version: 1, ...credentials }))).toContainEqual(stored);
  });

  it('leaves a whole auth.json when a writer rewriting it in a loop is killed (SIGKILL)', async () => {
    const home = newHome();
    const original = sampleCredentials('original');
    writeCredentials(home, original);
    const looping = sampleCredentials('looping');
    for (const delayMs of [0, 40, 150]) {
      const writer = startWorker(['write-loop', home, '40000'], { env: credentialsEnv(looping) });
      await writer.output('"started"');
      await sleep(delayMs);
      writer.kill('SIGKILL');
      expect((await writer.exited).signal).toBe('SIGKILL');
      const stored = readCredentials(home)?.credentials;
      if (stored?.org_name === original.org_name) {
        expect(stored).toEqual({ version: 1, ...original });
      } else {
        expect(stored?.org_name).toMatch(/^\d+:x{40000}$/);
        expect(stored).toEqual({ version: 1, ...looping, org_name: stored?.org_name });
      }
    }
  });

  it('keeps the old file intact when a writer is killed mid-write; the next write sweeps its temp', async () => {
    const home = newHome();
    const original = sampleCredentials('original');
    const path = writeCredentials(home, original);
    const before = readFileSync(path);
    const writer = startWorker(['write-huge', home, 'auth.json', String(128 * 1024 * 1024)]);
    await writer.output('"started"');
    const temp = () => readdirSync(home).find((name) => TEMP_NAME.test(name));
    await until(() => {
      const name = temp();
      return name !== undefined && statSync(join(home, name)).size > 0;
    });
    writer.kill('SIGKILL');
    expect((await writer.exited).signal).toBe('SIGKILL');
    expect(readFileSync(path)).toEqual(before);
    expect(readCredentials(home)?.credentials).toEqual({ version: 1, ...original });
    const stale = temp();
    expect(stale === undefined ? undefined : TEMP_NAME.exec(stale)?.[1]).toBe(String(writer.pid));
    expect(statSync(join(home, stale ?? '')).mode & 0o777).toBe(0o600);
    const next = sampleCredentials('next');
    writeCredentials(home, next);
    expect(readdirSync(home)).toEqual(['auth.json']);
    expect(readCredentials(home)?.credentials).toEqual({ version: 1, ...next });
  });

  it('removes temp files of dead writers, keeps those of live ones and anything else', () => {
    const home = newHome();
    const dead = deadPid();
    const staleOfDead = `.auth.json.${dead}.0123456789ab.tmp`;
    const liveOfParent = `.auth.json.${process.ppid}.0123456789ab.tmp`;
    const otherFile = `.device-id.${dead}.0123456789ab.tmp`;
    const unrelated = ['notes.txt', '.auth.json.tmp', `.auth.json.${dead}.tmp`];
    for (const name of [staleOfDead, liveOfParent, otherFile, ...unrelated]) {
      writeFileSync(join(home, name), 'partial', { mode: 0o600 });
    }
    writeCredentials(home, sampleCredentials());
    expect(readdirSync(home).sort()).toEqual([liveOfParent, otherFile, 'auth.json', ...unrelated].sort());
  });

  it('writes other names the same way and returns the path', () => {
    const home = join(tempDir(), 'home');
    const path = withUmask(0o000, () => writePrivateFileAtomic(home, 'state.json', '{"a":1}\n'));
    expect(path).toBe(join(home, 'state.json'));
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readdirSync(home)).toEqual(['state.json']);
  });
});

describe('createPrivateFile', () => {
  it('creates the file 0600 once and never replaces it', () => {
    const home = join(tempDir(), 'home');
    expect(withUmask(0o000, () => createPrivateFile(home, 'device-id', 'first\n'))).toBe(true);
    expect(statSync(join(home, 'device-id')).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(createPrivateFile(home, 'device-id', 'second\n')).toBe(false);
    expect(readFileSync(join(home, 'device-id'), 'utf8')).toBe('first\n');
  });

  it('does not create through a dangling symlink', () => {
    const root = tempDir();
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    symlinkSync(join(root, 'target'), join(home, 'device-id'));
    expect(createPrivateFile(home, 'device-id', 'x\n')).toBe(false);
    expect(existsSync(join(root, 'target'))).toBe(false);
  });
});

describe('ensurePrivateDir', () => {
  it.each([0o000, 0o022, 0o027, 0o077])('creates missing directories 0700 under umask %o', (mask) => {
    const dir = join(tempDir(), 'a', 'b');
    withUmask(mask, () => ensurePrivateDir(dir));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o700);
  });
});

describe('readPrivateFile', () => {
  it('returns undefined for a missing file and the text for a private one', () => {
    const home = newHome();
    expect(readPrivateFile(join(home, 'x'), home)).toBeUndefined();
    writeFileSync(join(home, 'x'), 'hello\n', { mode: 0o600 });
    expect(readPrivateFile(join(home, 'x'), home)).toEqual({
      text: 'hello\n',
      warnings: [],
      ino: statSync(join(home, 'x')).ino,
    });
  });

  it('refuses a FIFO at once instead of waiting for a writer', () => {
    const home = newHome();
    const path = credentialsPath(home);
    expect(spawnSync('mkfifo', ['-m', '600', path]).status).toBe(0);
    expect(lstatSync(path).isFIFO()).toBe(true);
    const run = runWorker(['read', home], { timeoutMs: 15_000 });
    expect(run.signal).toBeNull();
    expect(lastJson(run.stdout)).toEqual({
      ok: false,
      name: 'CredentialsFileError',
      code: 'credentials_corrupt',
      exitCode: 15,
      message: `${path} is not a regular file.`,
      hint: "Remove it, then run 'sekuire login'",
    });
  });
});

describe('removePrivateFile', () => {
  it('removes a file once', () => {
    const home = newHome();
    writeFileSync(join(home, 'x'), 'x', { mode: 0o600 });
    expect(removePrivateFile(home, 'x')).toBe(true);
    expect(removePrivateFile(home, 'x')).toBe(false);
    expect(removePrivateFile(join(home, 'missing'), 'x')).toBe(false);
  });

  it('never removes through a symlinked directory', () => {
    const real = newHome();
    writeFileSync(join(real, 'x'), 'keep', { mode: 0o600 });
    const link = join(tempDir(), 'link');
    symlinkSync(real, link);
    expect(() => removePrivateFile(link, 'x')).toThrow(
      expect.objectContaining({ code: 'credentials_symlink', exitCode: 15 }),
    );
    expect(readFileSync(join(real, 'x'), 'utf8')).toBe('keep');
  });

  it("never removes from another user's directory (as root, too)", () => {
    const home = newHome();
    writeFileSync(join(home, 'x'), 'theirs', { mode: 0o600 });
    chownSync(home, NOBODY, NOBODY);
    expect(() => removePrivateFile(home, 'x')).toThrow(
      expect.objectContaining({ code: 'credentials_owner', exitCode: 15 }),
    );
    expect(readFileSync(join(home, 'x'), 'utf8')).toBe('theirs');
  });

  it('removes the temp files a killed writer left, which may hold the key', () => {
    const home = newHome();
    writeFileSync(join(home, 'x'), 'x', { mode: 0o600 });
    // A pid that is not running, and a live one whose temp file is older than any write takes.
    const dead = join(home, '.x.999999999.abcdef.tmp');
    const old = join(home, `.x.${process.ppid}.abcdef.tmp`);
    const fresh = join(home, `.x.${process.ppid}.123456.tmp`);
    for (const file of [dead, old, fresh]) writeFileSync(file, 'sk_live_...', { mode: 0o600 });
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(old, hourAgo, hourAgo);
    expect(removePrivateFile(home, 'x')).toBe(true);
    expect(readdirSync(home).sort()).toEqual([basename(fresh)]);
  });
});

describe('createPrivateFile, complete or not at all', () => {
  it('creates the file complete, 0600, only once; a reader never sees it empty', () => {
    const home = newHome();
    expect(createPrivateFile(home, 'id', 'first\n')).toBe(true);
    expect(createPrivateFile(home, 'id', 'second\n')).toBe(false);
    expect(readFileSync(join(home, 'id'), 'utf8')).toBe('first\n');
    expect(statSync(join(home, 'id')).mode & 0o777).toBe(0o600);
    expect(readdirSync(home)).toEqual(['id']);
  });
});

describe('checkWritable', () => {
  it('without create, makes nothing and accepts a directory that does not exist yet', () => {
    const home = join(tempDir(), 'not-yet');
    checkWritable(home, 'auth.json', { create: false, size: 10 });
    expect(existsSync(home)).toBe(false);
  });

  it('with create, makes the directory 0700 and leaves no file behind', () => {
    const home = join(tempDir(), 'made');
    checkWritable(home, 'auth.json', { create: true, size: 1024 });
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readdirSync(home)).toEqual([]);
  });

  it.each([
    [
      'auth.json is a directory',
      (home: string) => mkdirSync(join(home, 'auth.json')),
      'credentials_unwritable',
    ],
    [
      'auth.json is a symlink',
      (home: string) => symlinkSync('/etc/passwd', join(home, 'auth.json')),
      'credentials_symlink',
    ],
  ])('refuses when %s, with or without create', (_name, spoil, code) => {
    const home = newHome();
    spoil(home);
    for (const create of [false, true]) {
      expect(() => checkWritable(home, 'auth.json', { create, size: 10 })).toThrow(
        expect.objectContaining({ code, exitCode: 15 }),
      );
    }
  });

  it('refuses a symlinked home and a home that is a file', () => {
    const link = join(tempDir(), 'link');
    symlinkSync(newHome(), link);
    expect(() => checkWritable(link, 'auth.json', { create: false, size: 10 })).toThrow(
      expect.objectContaining({ code: 'credentials_symlink' }),
    );
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    expect(() => checkWritable(join(file, 'sub'), 'auth.json', { create: false, size: 10 })).toThrow(
      expect.objectContaining({ code: 'credentials_unwritable' }),
    );
  });
});
