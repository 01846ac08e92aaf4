// npm run demo: the whole story on one machine, no terminal needed, nothing outside a temp dir touched.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist/cli.cjs');
const serverBin = join(root, 'dist/server.js');
const dir = mkdtempSync(join(tmpdir(), 'sekuire-demo-'));
const db = join(dir, 'sekuire.db');

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  input?: string,
): Promise<Outcome> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [file, ...args],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

function show(title: string, command: string, outcome: Outcome): void {
  process.stdout.write(`\n# ${title}\n$ ${command}\n`);
  for (const line of outcome.stderr.split('\n').filter(Boolean)) process.stdout.write(`  (stderr) ${line}\n`);
  for (const line of outcome.stdout.split('\n').filter(Boolean)) process.stdout.write(`  ${line}\n`);
  process.stdout.write(`  -> exit ${outcome.code}\n`);
}

function expectCode(outcome: Outcome, code: number, what: string): void {
  if (outcome.code !== code) throw new Error(`${what}: expected exit ${code}, got ${outcome.code}`);
}

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [serverBin, 'start', '--host', '127.0.0.1', '--port', '0', '--db', db],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 15 s')), 15_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^Listening on (\S+)$/.exec(line);
      if (match?.[1]) resolvePromise(match[1]);
      else reject(new Error(`unexpected first line from the server: ${line}`));
    });
  });
  return { child, url };
}

async function main(): Promise<void> {
  const { child, url } = await startServer();
  try {
    process.stdout.write(`Reference server: ${url} (database ${db})\n`);
    const created = await run(
      serverBin,
      ['create-key', '--db', db, '--email', 'dev@example.com', '--org', 'Acme Corp'],
      {},
    );
    expectCode(created, 0, 'create-key');
    const key = created.stdout.trim();
    show(
      'mint a test key (printed once; shown masked here)',
      'sekuire-server create-key --email dev@example.com --org "Acme Corp"',
      {
        ...created,
        stdout: `${key.slice(0, 11)}...${key.slice(-3)}\n`,
      },
    );

    const laptop = {
      SEKUIRE_HOME: join(dir, 'laptop'),
      HOME: dir,
      SEKUIRE_MACHINE_ID: 'demo-laptop',
      SEKUIRE_BACKEND_URL: url,
    };
    const desktop = { ...laptop, SEKUIRE_HOME: join(dir, 'desktop'), SEKUIRE_MACHINE_ID: 'demo-desktop' };

    const steps: [string, string, string[], Record<string, string>, number, string?][] = [
      [
        'log in on the laptop (key piped to --with-key)',
        'sekuire login --with-key < key',
        ['login', '--with-key'],
        laptop,
        0,
        key,
      ],
      ['status', 'sekuire status', ['status'], laptop, 0],
      ['who am I', 'sekuire auth whoami', ['auth', 'whoami'], laptop, 0],
      [
        'a second machine is refused: the key is bound to the laptop',
        'sekuire login --with-key < key',
        ['login', '--with-key'],
        desktop,
        12,
        key,
      ],
      [
        'move the binding to the desktop',
        'sekuire login --with-key --rebind < key',
        ['login', '--with-key', '--rebind'],
        desktop,
        0,
        key,
      ],
      ['the laptop has lost access', 'sekuire status', ['status'], laptop, 12],
      ['log out on the desktop (unbinds it on the server)', 'sekuire logout', ['logout'], desktop, 0],
      ['status after logout', 'sekuire status', ['status'], desktop, 10],
    ];
    for (const [title, display, args, env, code, input] of steps) {
      const outcome = await run(cli, args, env, input);
      show(title, display, outcome);
      expectCode(outcome, code, display);
    }
    const audit = await run(serverBin, ['audit', '--db', db], {});
    show('the server audit trail', 'sekuire-server audit', audit);
    expectCode(audit, 0, 'audit');
    process.stdout.write('\nDemo complete: every step behaved as documented.\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolvePromise) => child.once('exit', resolvePromise));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
