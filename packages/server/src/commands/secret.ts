// The server secret that keys the digests: from SEKUIRE_SERVER_SECRET, or a 0600 file made once.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { isPostgresUrl } from '../store/open.js';
import { CommandError, UsageError } from './errors.js';

export interface LoadedSecret {
  readonly secret: Buffer;
  /** The file it came from; undefined when it came from the environment. */
  readonly file?: string;
  readonly created: boolean;
  /** Set when the file is readable or writable by other users: worth a warning. */
  readonly warning?: string;
}

const SECRET_PATTERN = /^(?:[0-9a-fA-F]{2}){16,}$/;
const SECRET_BYTES = 32;

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
    const text = envValue.trim();
    if (!SECRET_PATTERN.test(text)) {
      throw new UsageError(
        'SEKUIRE_SERVER_SECRET must be at least 32 hexadecimal characters (an even number); make one with: openssl rand -hex 32',
      );
    }
    return { secret: Buffer.from(text, 'hex'), created: false };
  }
  const file = fileFlag ?? (isPostgresUrl(database) ? undefined : `${database}.secret`);
  if (file === undefined) {
    throw new UsageError(
      'With a PostgreSQL database, give every instance the same server secret: set SEKUIRE_SERVER_SECRET (make one with: openssl rand -hex 32) or --secret-file FILE.',
    );
  }
  const created = createSecretFile(file);
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

function readSecretFile(file: string): { secret: Buffer; warning?: string } {
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
  if (!SECRET_PATTERN.test(text)) {
    throw new CommandError(
      `The secret file ${file} does not hold a hex secret. Restore it from a backup: a new secret makes every existing key invalid.`,
    );
  }
  const warning =
    (mode & 0o077) !== 0
      ? `Warning: the secret file ${file} is accessible by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`
      : undefined;
  return warning === undefined
    ? { secret: Buffer.from(text, 'hex') }
    : { secret: Buffer.from(text, 'hex'), warning };
}
