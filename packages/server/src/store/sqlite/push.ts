// Tells running servers that the SQLite database changed: one unix socket per server, beside the database.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/** Unix socket paths are limited to 108 bytes on Linux and 104 on macOS, the final NUL included. */
const MAX_SOCKET_PATH = 103;
const REQUEST = 'invalidate\n';
const ANSWER = 'ok\n';

export function socketDirectory(dbPath: string): string {
  return `${dbPath}.servers`;
}

export interface PushListener {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `<db>.servers/<pid>-<random>.sock` (directory 0700, socket 0600) and calls `onInvalidate`
 * for each message, answering once it has run. Resolves undefined where no socket can be made
 * (path too long, read-only directory, a platform without unix sockets): the caller then checks
 * the database on every request instead.
 */
export async function listenForPushes(
  dbPath: string,
  onInvalidate: () => void,
): Promise<PushListener | undefined> {
  const dir = socketDirectory(dbPath);
  // The random part: two containers sharing the database through a volume may share a pid.
  const path = join(dir, `${process.pid}-${randomBytes(3).toString('hex')}.sock`);
  if (process.platform === 'win32' || Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return undefined;
  }
  const server = createServer((socket) => {
    let received = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (!received.includes('\n')) {
        if (received.length > REQUEST.length) socket.destroy();
        return;
      }
      if (received === REQUEST) {
        onInvalidate();
        socket.end(ANSWER);
      } else {
        socket.destroy();
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // The directory is 0700 already; the socket's own mode is the second fence.
    chmodSync(path, 0o600);
  } catch {
    server.close();
    return undefined;
  }
  server.unref();
  return {
    path,
    close: () => closeServer(server, path),
  };
}

function closeServer(server: Server, path: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  });
}

export interface PushReport {
  /** Servers that confirmed they forgot what they had cached. */
  readonly confirmed: number;
  /** Sockets that did not confirm in time (their servers still catch up within a second). */
  readonly unconfirmed: readonly string[];
}

/** Tells every server with a socket in the directory (but `except`) and waits for each answer. */
export async function pushInvalidation(
  dbPath: string,
  timeoutMs: number,
  except?: string,
): Promise<PushReport> {
  const dir = socketDirectory(dbPath);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.sock'));
  } catch {
    return { confirmed: 0, unconfirmed: [] };
  }
  const paths = names.map((name) => join(dir, name)).filter((path) => path !== except);
  const results = await Promise.all(paths.map((path) => tell(path, timeoutMs)));
  return {
    confirmed: results.filter((result) => result === 'confirmed').length,
    unconfirmed: paths.filter((_, index) => results[index] === 'unconfirmed'),
  };
}

function tell(path: string, timeoutMs: number): Promise<'confirmed' | 'gone' | 'unconfirmed'> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let answer = '';
    const finish = (result: 'confirmed' | 'gone' | 'unconfirmed') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('unconfirmed'), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer === ANSWER) finish('confirmed');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // Nobody listens: the server that made it died without removing it.
      if (error.code === 'ECONNREFUSED') {
        try {
          unlinkSync(path);
        } catch {
          // Removed by someone else.
        }
        finish('gone');
      } else if (error.code === 'ENOENT') {
        finish('gone');
      } else {
        finish('unconfirmed');
      }
    });
    socket.on('end', () => finish(answer === ANSWER ? 'confirmed' : 'unconfirmed'));
  });
}
