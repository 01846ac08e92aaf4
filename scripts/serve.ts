// npm run serve: the reference server on a fixed port with a ready user, to try the dashboard and the CLI by hand.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..');
const serverBin = join(root, 'packages/server/dist/server.js');
const cliBin = join(root, 'packages/cli/dist/cli.cjs');
/** Everything this script keeps: the database, its secret and the user's password (git-ignored). */
const dir = resolve(process.env.SEKUIRE_SERVE_DIR ?? join(root, '.serve'));
const db = join(dir, 'sekuire.db');
const userFile = join(dir, 'user.json');
const EMAIL = 'dev@example.com';

interface User {
  readonly email: string;
  readonly password: string;
}

class Stop extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** SEKUIRE_SERVE_PORT, else 5556 (the server's own default); 0 takes any free port. */
function port(): number {
  const text = process.env.SEKUIRE_SERVE_PORT ?? '5556';
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65_535) {
    throw new Stop(`SEKUIRE_SERVE_PORT must be a port number (0 for any free one), not "${text}".`, 2);
  }
  return value;
}

/** Paths as the person typing will need them: relative to where they are, when that is shorter. */
function shown(path: string): string {
  const near = relative(process.cwd(), path);
  return near.startsWith('..') || near === '' ? path : near;
}

function readUser(): User | undefined {
  if (!existsSync(userFile)) return undefined;
  const user = JSON.parse(readFileSync(userFile, 'utf8')) as Partial<User>;
  if (typeof user.email !== 'string' || typeof user.password !== 'string') {
    throw new Stop(
      `${userFile} is not what this script wrote. Delete it (or all of ${shown(dir)}) and run again.`,
    );
  }
  return { email: user.email, password: user.password };
}

/** create-user --password-stdin: the password never appears in argv. Sets it again for an existing user. */
function createUser(user: User): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      process.execPath,
      [serverBin, 'create-user', '--db', db, '--email', user.email, '--name', 'Dev', '--password-stdin'],
      { timeout: 60_000 },
      (error, _stdout, stderr) => {
        if (error) reject(new Stop(`create-user failed: ${stderr.trim() || error.message}`));
        else resolvePromise();
      },
    );
    child.stdin?.end(`${user.password}\n`);
  });
}

/**
 * The user of the first run, read back on every later one. The password file is written only
 * once create-user has succeeded, born 0600 (never chmod-after-write) and never overwritten.
 */
async function seededUser(): Promise<{ user: User; created: boolean }> {
  const existing = readUser();
  const freshDatabase = !existsSync(db);
  if (existing !== undefined) {
    // A database deleted by hand: the same person, the same password, in the new one.
    if (freshDatabase) await createUser(existing);
    return { user: existing, created: freshDatabase };
  }
  const user = { email: EMAIL, password: randomBytes(15).toString('base64url') };
  await createUser(user);
  writeFileSync(userFile, `${JSON.stringify(user, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { user, created: true };
}

/** Set by Ctrl+C (SIGINT) or SIGTERM; a second one changes nothing (npm and tsx may relay the first). */
let stopping = false;
let server: ChildProcess | undefined;

function stop(): void {
  if (stopping) return;
  stopping = true;
  if (server === undefined) process.exit(130);
  server.kill('SIGTERM');
}

/** Starts `sekuire-server start`; resolves with its origin once it listens. */
function startServer(listenPort: number): Promise<{ child: ChildProcess; origin: string }> {
  // Its own process group: Ctrl+C reaches this script only, which stops the server once, cleanly.
  const child = spawn(
    process.execPath,
    [serverBin, 'start', '--host', '127.0.0.1', '--port', String(listenPort), '--db', db],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  server = child;
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  // The server's own message for a taken port names its --port flag, which this script does not
  // have: that one line is said in this script's words, every other line passes through.
  let portTaken = false;
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    if (/^error: Port \d+ on \S+ is already in use/.test(line)) portTaken = true;
    else process.stderr.write(`${line}\n`);
  });
  return new Promise((resolvePromise, reject) => {
    const onExit = (code: number | null) => {
      reject(
        portTaken
          ? new Stop(
              `port ${listenPort} on 127.0.0.1 is already in use by another program (another npm run serve, perhaps). To take any free port instead: SEKUIRE_SERVE_PORT=0 npm run serve`,
            )
          : new Stop(`sekuire-server stopped before it listened (exit ${code}; its message is above).`),
      );
    };
    // 'close', not 'exit': the server's last stderr line has been read by then.
    child.once('close', onExit);
    // Later lines (the dashboard link, the note for a database without users) are for people
    // starting it by hand; the block below says all of it. readline keeps reading them anyway.
    lines.once('line', (line) => {
      child.off('close', onExit);
      const origin = /^Listening on (\S+)$/.exec(line)?.[1];
      if (origin === undefined) {
        child.kill('SIGTERM');
        reject(new Stop(`unexpected first line from sekuire-server: ${line}`));
      } else {
        resolvePromise({ child, origin });
      }
    });
  });
}

function banner(origin: string, user: User, created: boolean): string {
  const cli = `node ${shown(cliBin)}`;
  return [
    `Sekuire reference server on ${origin}; Ctrl+C stops it.`,
    '',
    `  Dashboard:  ${origin}/dashboard`,
    `  Email:      ${user.email}`,
    `  Password:   ${user.password}`,
    '',
    `${created ? 'Created this user' : 'The user of the first run'}; the password is kept in ${shown(userFile)} (mode 0600).`,
    'Sign in, press "Create API Key", then "Create", then "Copy". In another terminal here:',
    '',
    `  ${cli} login --backend ${origin}`,
    `  ${cli} status`,
    '',
    'login asks for the key (paste it) and saves it in ~/.sekuire; to leave a login there untouched,',
    `put SEKUIRE_HOME=${shown(join(dir, 'cli'))} in front of both commands.`,
    `Data: ${shown(db)} and its secret beside it. Delete ${shown(dir)} to start afresh.`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Never leave the server behind, whatever ends this script.
  process.on('exit', () => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null)
      server.kill('SIGTERM');
  });
  if (!existsSync(serverBin) || !existsSync(cliBin)) {
    throw new Stop('dist/ is missing: build first (npm run serve builds, then runs this script).');
  }
  const listenPort = port();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { user, created } = await seededUser();
  const { child, origin } = await startServer(listenPort);
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', resolvePromise));
  process.stdout.write(banner(origin, user, created));
  const code = await exited;
  if (!stopping) throw new Stop(`sekuire-server stopped on its own (exit ${code}); its message is above.`);
  process.stdout.write('Stopped.\n');
}

main().catch((error: unknown) => {
  // Stopped while the server was starting: it is gone, which is what was asked for.
  if (stopping && server !== undefined) {
    process.stdout.write('Stopped.\n');
    return;
  }
  process.stderr.write(`npm run serve: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof Stop ? error.exitCode : 1;
});
