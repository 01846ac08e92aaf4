// The server secrets that key the digests, newest first: from SEKUIRE_SERVER_SECRET, or a 0600 file made once.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  linkSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Secrets } from '../domain/digest.js';
import { isPostgresUrl } from '../store/open.js';
import { CommandError, UsageError } from './errors.js';

export interface LoadedSecret {
  /** The newest: every new digest is made under it. */
  readonly secret: Buffer;
  /** Older secrets, newer first: digests made under them still work (and are re-made on use). */
  readonly older: readonly Buffer[];
  /** The file it came from; undefined when it came from the environment. */
  readonly file?: string;
  readonly created: boolean;
  /** Set when the file is readable or writable by other users: worth a warning. */
  readonly warning?: string;
}

/** Every secret, newest first: what a lookup by digest tries. */
export function allSecrets(loaded: LoadedSecret): Secrets {
  return [loaded.secret, ...loaded.older];
}

const SECRET_PATTERN = /^(?:[0-9a-fA-F]{2}){16,}$/;
const SECRET_BYTES = 32;

/** "new,old,…" (spaces and line breaks around each allowed); undefined when any is not a secret or one repeats. */
function parseSecrets(text: string): { secret: Buffer; older: Buffer[] } | undefined {
  const parts = text.split(',').map((part) => part.trim().toLowerCase());
  if (!parts.every((part) => SECRET_PATTERN.test(part)) || new Set(parts).size !== parts.length)
    return undefined;
  const [secret, ...older] = parts.map((part) => Buffer.from(part, 'hex'));
  return secret === undefined ? undefined : { secret, older };
}

/**
 * SEKUIRE_SERVER_SECRET when set; otherwise the file (--secret-file, else `<db>.secret` beside a
 * SQLite database), created on first use. A PostgreSQL database has no "beside": every instance
 * must be given the same secret explicitly.
 */
export function loadSecret(
  envValue: string | undefined,
  fileFlag: string | undefined,
  database: string,
): LoadedSecret {
  if (envValue !== undefined && envValue !== '') {
    const secrets = parseSecrets(envValue);
    if (secrets === undefined) {
      throw new UsageError(
        'SEKUIRE_SERVER_SECRET must be at least 32 hexadecimal characters (an even number), or several such, newest first, separated by commas; make one with: openssl rand -hex 32',
      );
    }
    return { ...secrets, created: false };
  }
  const file = fileFlag ?? (isPostgresUrl(database) ? undefined : `${database}.secret`);
  if (file === undefined) {
    throw new UsageError(
      'With a PostgreSQL database, give every instance the same server secret: set SEKUIRE_SERVER_SECRET (make one with: openssl rand -hex 32) or --secret-file FILE.',
    );
  }
  // An existing file is only read: a directory that cannot take a new file (read-only, say)
  // must not be blamed on the secret when the secret is already there.
  const created = existsSync(file) ? false : createSecretFile(file);
  return { ...readSecretFile(file), file, created };
}

/**
 * Writes a new secret to a private temporary file, then links it into place: link() fails
 * when the name exists, so two processes starting at once agree on one secret and nobody
 * ever reads a half-written file. Returns false when the file already existed.
 */
function createSecretFile(file: string): boolean {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let fd: number;
  try {
    // The mode is given to open() so the file is never readable by others, not even briefly.
    fd = openSync(temporary, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CommandError(
        `Cannot create the secret file ${file}: its directory does not exist. Check --db.`,
      );
    }
    throw new CommandError(`Cannot create the secret file beside ${file}: ${(error as Error).message}`);
  }
  try {
    writeSync(fd, `${randomBytes(SECRET_BYTES).toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new CommandError(`Cannot create the secret file ${file}: ${(error as Error).message}`);
  } finally {
    unlinkSync(temporary);
  }
}

function readSecretFile(file: string): { secret: Buffer; older: Buffer[]; warning?: string } {
  let text: string;
  let mode: number;
  try {
    const fd = openSync(file, 'r');
    try {
      mode = fstatSync(fd).mode;
      text = readFileSync(fd, 'utf8').trim();
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new CommandError(`Cannot read the secret file ${file}: ${(error as Error).message}`);
  }
  const secrets = parseSecrets(text);
  if (secrets === undefined) {
    throw new CommandError(
      `The secret file ${file} does not hold a hex secret (or several, newest first, separated by commas). Restore it from a backup: a new secret makes every existing key invalid.`,
    );
  }
  const warning =
    (mode & 0o077) !== 0
      ? `Warning: the secret file ${file} is accessible by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`
      : undefined;
  return warning === undefined ? secrets : { ...secrets, warning };
}
