// Files only their owner may read: directory 0700, files born 0600, atomic replace, no symlinks.
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { CredentialsFileError } from './errors.js';

// Windows has neither O_NOFOLLOW nor uids; its ACLs are out of scope (see README, Security).
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// Opening a FIFO for reading blocks until someone writes to it; non-blocking, fstat rejects it.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const currentUid = (): number | undefined => process.getuid?.();

/** Larger than any file we write; a bigger one is not ours. */
const MAX_BYTES = 64 * 1024;

export interface PrivateFile {
  readonly text: string;
  /** Problems worth telling the user that do not stop us (a mode looser than 0600). */
  readonly warnings: readonly string[];
  /** The inode read, so that a repair can tell whether the file is still the same one. */
  readonly ino: number;
}

export function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function symlinkError(path: string): CredentialsFileError {
  return new CredentialsFileError(
    'credentials_symlink',
    `${path} is a symbolic link. Sekuire does not follow links for credentials, because a link can point anywhere.`,
    {
      hint: `Replace it with a real directory or file (or point SEKUIRE_HOME at the real directory), then run 'sekuire login'`,
      details: { path },
    },
  );
}

function otherOwnerError(path: string, uid: number): CredentialsFileError {
  return new CredentialsFileError(
    'credentials_owner',
    `${path} belongs to another user (uid ${uid}). Sekuire uses, writes and removes only files you own.`,
    { hint: "Use your own SEKUIRE_HOME, or remove it, then run 'sekuire login'", details: { path } },
  );
}

function ioError(action: 'read' | 'write', path: string, error: unknown): CredentialsFileError {
  const code = codeOf(error) ?? 'unknown';
  const denied = code === 'EACCES' || code === 'EPERM';
  const why = denied
    ? 'permission denied'
    : code === 'ENOSPC'
      ? 'the disk is full'
      : code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'ENOTDIR'
          ? 'a parent is not a directory'
          : code === 'EISDIR'
            ? 'it is a directory'
            : code;
  const hint = denied
    ? 'It should be yours with mode 0600, in a directory of yours with mode 0700; or set SEKUIRE_HOME to a directory you own'
    : code === 'EISDIR'
      ? 'Move it away, or set SEKUIRE_HOME to another directory'
      : code === 'ENOSPC'
        ? 'Free some space, or set SEKUIRE_HOME to a directory on another disk'
        : 'Set SEKUIRE_HOME to a directory you can write';
  return new CredentialsFileError(
    action === 'read' ? 'credentials_unreadable' : 'credentials_unwritable',
    `Cannot ${action} ${path}: ${why}.`,
    { hint, details: { path, errno: code } },
  );
}

function notDirectory(dir: string): CredentialsFileError {
  return new CredentialsFileError('credentials_unwritable', `${dir} is not a directory.`, {
    hint: 'Move it away, or set SEKUIRE_HOME to another directory',
    details: { path: dir },
  });
}

/**
 * Checks the directory that holds private files. Reading refuses one that others can write
 * (they could swap the files in it); writing repairs the mode of a directory we own.
 */
function checkDirectory(dir: string, stats: Stats, repair: boolean): void {
  if (stats.isSymbolicLink()) throw symlinkError(dir);
  if (!stats.isDirectory()) throw notDirectory(dir);
  const uid = currentUid();
  if (uid !== undefined && stats.uid !== uid) throw otherOwnerError(dir, stats.uid);
  if (uid === undefined || (stats.mode & 0o077) === 0) return;
  if (repair) {
    try {
      chmodSync(dir, 0o700);
    } catch (error) {
      throw ioError('write', dir, error);
    }
  } else if ((stats.mode & 0o022) !== 0) {
    throw new CredentialsFileError(
      'credentials_mode',
      `${dir} can be changed by other users (mode ${modeText(stats.mode)}), so the files in it cannot be trusted.`,
      {
        hint: `Run 'chmod 700 ${dir}', then check them, or run 'sekuire login' to replace them`,
        details: { path: dir },
      },
    );
  }
}

/** Checks a directory as a read would (no symlink, ours, not writable by others); false when it does not exist. */
export function checkPrivateDir(dir: string): boolean {
  let stats: Stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false;
    throw ioError('read', dir, error);
  }
  checkDirectory(dir, stats, false);
  return true;
}

/** Creates the directory (0700) if needed and checks it; returns nothing, throws with a fix. */
export function ensurePrivateDir(dir: string): void {
  try {
    // mkdir applies the umask to 0700, which can only make it stricter.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (codeOf(error) !== 'EEXIST') throw ioError('write', dir, error);
  }
  let stats: Stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    throw ioError('write', dir, error);
  }
  checkDirectory(dir, stats, true);
}

/**
 * Reads a private file without following links. Returns undefined when it does not exist.
 * Refuses a file that is not ours or that others can write (they could redirect the key);
 * a file others can read is used, with a warning naming the fix.
 */
export function readPrivateFile(path: string, dir: string): PrivateFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP' || code === 'EMLINK') throw symlinkError(path);
    if (code === 'ENOTDIR') throw notDirectory(dir);
    throw ioError('read', path, error);
  }
  try {
    try {
      checkDirectory(dir, lstatSync(dir), false);
    } catch (error) {
      if (error instanceof CredentialsFileError) throw error;
      throw ioError('read', dir, error);
    }
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new CredentialsFileError('credentials_corrupt', `${path} is not a regular file.`, {
        hint: "Remove it, then run 'sekuire login'",
        details: { path },
      });
    }
    const warnings: string[] = [];
    const uid = currentUid();
    if (uid !== undefined) {
      if (stats.uid !== uid) throw otherOwnerError(path, stats.uid);
      if ((stats.mode & 0o022) !== 0) {
        throw new CredentialsFileError(
          'credentials_mode',
          `${path} can be changed by other users (mode ${modeText(stats.mode)}), so it could send your key to another server.`,
          {
            hint: `Run 'chmod 600 ${path}' and check its contents, or run 'sekuire login' to replace it`,
            details: { path, mode: modeText(stats.mode) },
          },
        );
      }
      if ((stats.mode & 0o044) !== 0) {
        warnings.push(
          `Warning: ${path} is readable by other users (mode ${modeText(stats.mode)}). Run 'chmod 600 ${path}', and revoke the key if someone else may have read it.`,
        );
      }
    }
    if (stats.size > MAX_BYTES) {
      throw new CredentialsFileError(
        'credentials_corrupt',
        `${path} is too large to be a Sekuire file (${stats.size} bytes).`,
        { hint: "Remove it, then run 'sekuire login'", details: { path } },
      );
    }
    const buffer = Buffer.alloc(stats.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return { text: buffer.subarray(0, read).toString('utf8'), warnings, ino: stats.ino };
  } catch (error) {
    if (error instanceof CredentialsFileError) throw error;
    throw ioError('read', path, error);
  } finally {
    closeSync(fd);
  }
}

/** The file about to be replaced must be a regular file (or absent): never a link or a directory. */
function checkTarget(path: string): void {
  try {
    const stats = lstatSync(path);
    if (stats.isSymbolicLink()) throw symlinkError(path);
    if (stats.isDirectory()) {
      throw new CredentialsFileError(
        'credentials_unwritable',
        `${path} is a directory, where Sekuire keeps a file.`,
        { hint: "Move it away, then run 'sekuire login'", details: { path } },
      );
    }
  } catch (error) {
    if (error instanceof CredentialsFileError) throw error;
    if (codeOf(error) !== 'ENOENT') throw ioError('write', path, error);
  }
}

function writeAll(fd: number, data: string | Buffer): void {
  const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let written = 0;
  while (written < buffer.length) written += writeSync(fd, buffer, written);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM';
  }
}

/** A temp file lives for the milliseconds of one write; one older than this was left behind. */
const STALE_TEMP_MS = 60_000;

function tempPattern(name: string): RegExp {
  return new RegExp(`^\\.${name.replace(/[.]/g, '\\.')}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
}

/**
 * Temp files of writers that died before their rename (killed mid-write), or that are older
 * than any write takes: they may hold a key, so they do not stay. Returns how many went.
 */
export function removeStaleTemps(dir: string, name: string, now = Date.now()): number {
  const pattern = tempPattern(name);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const entry of entries) {
    const pid = Number(pattern.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    const path = join(dir, entry);
    let old = false;
    try {
      old = now - lstatSync(path).mtimeMs > STALE_TEMP_MS;
    } catch {
      continue;
    }
    if (!old && isAlive(pid)) continue;
    try {
      unlinkSync(path);
      removed++;
    } catch {
      // Another writer removed it first.
    }
  }
  return removed;
}

function tempPath(dir: string, name: string): string {
  return join(
    dir,
    `.${name}.${process.pid}.${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}.tmp`,
  );
}

/** Creates a temp file 0600 (exclusive, no links followed), writes and fsyncs it; returns its path. */
function writeTemp(dir: string, name: string, data: string | Buffer): string {
  const target = join(dir, name);
  const temp = tempPath(dir, name);
  let fd: number;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
  } catch (error) {
    throw ioError('write', target, error);
  }
  try {
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    unlinkQuietly(temp);
    throw ioError('write', target, error);
  }
  return temp;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already renamed, linked away or never created.
  }
}

/**
 * Replaces dir/name atomically: a temp file in the same directory, created exclusively with
 * mode 0600 (never loosened, never chmod-ed after the write), written, fsync-ed, renamed over
 * the target. Readers see the old file or the new one, never a part; a crash leaves the old.
 */
export function writePrivateFileAtomic(dir: string, name: string, data: string): string {
  ensurePrivateDir(dir);
  const target = join(dir, name);
  checkTarget(target);
  removeStaleTemps(dir, name);
  const temp = writeTemp(dir, name, data);
  try {
    renameSync(temp, target);
  } catch (error) {
    unlinkQuietly(temp);
    throw ioError('write', target, error);
  }
  syncDirectory(dir);
  return target;
}

/**
 * Creates dir/name with mode 0600 only if it does not exist, complete or not at all: the data
 * goes to a temp file first, which is then hard-linked to the name (a link never replaces an
 * existing file). Readers never see an empty or partial file. False when another got there first.
 */
export function createPrivateFile(dir: string, name: string, data: string): boolean {
  ensurePrivateDir(dir);
  removeStaleTemps(dir, name);
  const target = join(dir, name);
  const temp = writeTemp(dir, name, data);
  try {
    linkSync(temp, target);
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return false;
    throw ioError('write', target, error);
  } finally {
    unlinkQuietly(temp);
  }
  syncDirectory(dir);
  return true;
}

/**
 * Removes dir/name (a link is removed, not followed) and any temp file a writer left of it.
 * The directory gets the checks a read gets: never through a symbolic link, never in a
 * directory of another user. False when there was nothing to remove.
 */
export function removePrivateFile(dir: string, name: string): boolean {
  let stats: Stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false;
    throw ioError('write', dir, error);
  }
  if (stats.isSymbolicLink()) throw symlinkError(dir);
  if (!stats.isDirectory()) throw notDirectory(dir);
  const uid = currentUid();
  if (uid !== undefined && stats.uid !== uid) throw otherOwnerError(dir, stats.uid);
  removeStaleTemps(dir, name);
  const path = join(dir, name);
  try {
    unlinkSync(path);
    return true;
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false;
    throw ioError('write', path, error);
  }
}

/**
 * Removes dir/name only if it is still the blank file that was read (same inode, same size):
 * repairs a leftover without removing a file another process has just put in its place.
 */
export function removeBlankFile(dir: string, name: string, seen: { ino: number; size: number }): void {
  const path = join(dir, name);
  try {
    const stats = lstatSync(path);
    if (stats.isFile() && stats.size === seen.size && stats.ino === seen.ino) unlinkSync(path);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw ioError('write', path, error);
  }
}

/** The closest directory above `path` that exists (for checks before anything is created). */
function existingAncestor(path: string): { dir: string; stats: Stats } {
  let dir = dirname(path);
  for (;;) {
    try {
      return { dir, stats: lstatSync(dir) };
    } catch (error) {
      const parent = dirname(dir);
      if (codeOf(error) !== 'ENOENT' || parent === dir) throw ioError('write', dir, error);
      dir = parent;
    }
  }
}

/**
 * Checks, before anything is sent anywhere, that dir/name can be written: with `create`, the
 * directory is made (0700) and a temp file of `size` bytes is written, fsync-ed and removed,
 * which finds a full disk, a read-only file system or a directory in the way. Without `create`
 * nothing is made: a missing directory is checked through the closest parent that exists.
 */
export function checkWritable(dir: string, name: string, options: { create: boolean; size: number }): void {
  const target = join(dir, name);
  let exists = true;
  try {
    checkDirectory(dir, lstatSync(dir), false);
  } catch (error) {
    if (error instanceof CredentialsFileError && error.code !== 'credentials_mode') throw error;
    if (codeOf(error) === 'ENOENT') exists = false;
    else if (!(error instanceof CredentialsFileError)) throw ioError('write', dir, error);
  }
  if (exists) checkTarget(target);
  if (!exists && !options.create) {
    const parent = existingAncestor(dir);
    if (!parent.stats.isDirectory()) throw notDirectory(parent.dir);
    try {
      accessSync(parent.dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw ioError('write', dir, error);
    }
    return;
  }
  if (!options.create) {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw ioError('write', target, error);
    }
    return;
  }
  ensurePrivateDir(dir);
  unlinkQuietly(writeTemp(dir, name, Buffer.alloc(options.size, 0x20)));
}

/** Makes a rename durable; some platforms cannot fsync a directory, which is fine there. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Windows and some network file systems refuse; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
