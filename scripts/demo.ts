// npm run demo: the whole story on one machine, no terminal needed, nothing outside a temp dir touched.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/dist/cli.cjs');
const serverBin = join(root, 'packages/server/dist/server.js');
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

/** A command left running (it waits for something), its stderr readable while it runs. */
function runInBackground(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  input: string,
): { stderr: () => string; done: Promise<Outcome> } {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
  const done = new Promise<Outcome>((resolvePromise) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? 1, stdout, stderr });
    }),
  );
  return { stderr: () => stderr, done };
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 100));
  }
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

/** Keys and session tokens as a demo may show them: recognisable, never usable. */
function redact(text: string): string {
  return text
    .replace(/\b(sek_(?:at|rt|ck)_)[0-9A-Za-z]{32}\b/g, '$1...')
    .replace(/\b(sk_(?:live|test)_[0-9A-Za-z]{3})[0-9A-Za-z]{32}([0-9A-Za-z]{3})\b/g, '$1...$2');
}

/** One call to the keys and sessions API, shown like the commands: request, answer, status. */
async function api(
  title: string,
  base: string,
  request: { method: string; path: string; token?: string; body?: unknown; shownBody?: unknown },
  expected: number,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${request.path}`, {
    method: request.method,
    headers: {
      ...(request.token !== undefined && { authorization: `Bearer ${request.token}` }),
      ...(request.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  const shownBody = request.shownBody ?? request.body;
  process.stdout.write(`\n# ${title}\n$ ${request.method} ${request.path}`);
  if (request.token !== undefined) process.stdout.write('  (Authorization: Bearer sek_at_...)');
  if (shownBody !== undefined) process.stdout.write(`  ${JSON.stringify(shownBody)}`);
  process.stdout.write(`\n  ${redact(JSON.stringify(answer))}\n  -> HTTP ${response.status}\n`);
  if (response.status !== expected) {
    throw new Error(`${request.method} ${request.path}: expected HTTP ${expected}, got ${response.status}`);
  }
  return answer;
}

async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    // The request log (one JSON line per request) would interleave with the story: warnings only.
    [serverBin, 'start', '--host', '127.0.0.1', '--port', '0', '--db', db, '--log-level', 'warn'],
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

/**
 * A person who manages the organization's keys, signed in through the API: an admin of Acme
 * Corp sees and manages every key of it, the one create-key made for dev@example.com included.
 */
async function adminSession(url: string): Promise<string> {
  const password = randomBytes(15).toString('base64url');
  const person = await run(
    serverBin,
    [
      'create-user',
      '--db',
      db,
      '--email',
      'ada@example.com',
      '--name',
      'Ada',
      '--org',
      'Acme Corp',
      '--role',
      'admin',
      '--password-stdin',
    ],
    {},
    `${password}\n`,
  );
  show(
    'a person who can sign in, an admin of Acme Corp (the password piped in, never in argv)',
    `printf '%s\\n' "$PASSWORD" | sekuire-server create-user --email ada@example.com --name Ada --org "Acme Corp" --role admin --password-stdin`,
    person,
  );
  expectCode(person, 0, 'create-user');
  const session = await api(
    'she signs in through the API',
    url,
    {
      method: 'POST',
      path: '/api/v1/auth/login',
      body: { email: 'ada@example.com', password },
      shownBody: { email: 'ada@example.com', password: '...' },
    },
    200,
  );
  return String(session.access_token);
}

/** `login --rebind` on another device waits until someone who manages the key approves the move. */
async function approvedMove(
  url: string,
  token: string,
  env: Record<string, string>,
  key: string,
): Promise<void> {
  const moving = runInBackground(cli, ['login', '--with-key', '--rebind'], env, key);
  const code = await until(
    'the move code on stderr',
    () => /code=([A-Z0-9]{4}-[A-Z0-9]{4})/.exec(moving.stderr())?.[1],
  );
  process.stdout.write('\n# move the binding to the desktop: the login waits for an approval\n');
  process.stdout.write('$ sekuire login --with-key --rebind < key     (still running)\n');
  for (const line of moving.stderr().split('\n').filter(Boolean))
    process.stdout.write(`  (stderr) ${line}\n`);
  const pending = await api(
    'Ada sees the pending move (or opens the /move page)',
    url,
    { method: 'GET', path: '/api/v1/moves', token },
    200,
  );
  const move = (pending.moves as { id: string; user_code: string }[] | undefined)?.find(
    (candidate) => candidate.user_code === code,
  );
  if (move === undefined) throw new Error(`GET /api/v1/moves: no pending move with the code ${code}`);
  await api('and approves it', url, { method: 'POST', path: `/api/v1/moves/${move.id}/approve`, token }, 200);
  const moved = await moving.done;
  show("the desktop's login completes", 'sekuire login --with-key --rebind < key     (finished)', {
    ...moved,
    stderr: '',
  });
  expectCode(moved, 0, 'sekuire login --with-key --rebind');
}

/**
 * The keys API, as a script would use it: a key created, used by the CLI (last used, device),
 * revoked, and the CLI refused at once.
 */
async function keysThroughApi(url: string, token: string, baseEnv: Record<string, string>): Promise<void> {
  const created = await api(
    'Ada creates a key through the API (the key is in this answer only)',
    url,
    { method: 'POST', path: '/api/v1/keys', token, body: { name: "Ada's workstation", environment: 'live' } },
    201,
  );
  const keyId = String(created.id);
  const workstation = {
    ...baseEnv,
    SEKUIRE_HOME: join(dir, 'workstation'),
    SEKUIRE_MACHINE_ID: 'demo-workstation',
  };
  const login = await run(cli, ['login', '--with-key'], workstation, String(created.key));
  show('log in with it on a workstation', 'sekuire login --with-key < key', login);
  expectCode(login, 0, 'sekuire login --with-key');
  const status = await run(cli, ['status'], workstation);
  show('status', 'sekuire status', status);
  expectCode(status, 0, 'sekuire status');

  const listed = await api(
    'the list (every key of Acme Corp: she is an admin) shows when hers was last used, and on which device',
    url,
    { method: 'GET', path: '/api/v1/keys', token },
    200,
  );
  const entry = (listed.keys as { id: string; last_used_at: string | null; device: unknown }[]).find(
    (key) => key.id === keyId,
  );
  if (entry === undefined || entry.last_used_at === null || entry.device === null) {
    throw new Error('GET /api/v1/keys: no last use or no device for the key the CLI just used');
  }
  await api(
    'revoke it through the API',
    url,
    { method: 'DELETE', path: `/api/v1/keys/${keyId}`, token },
    200,
  );
  const refused = await run(cli, ['status'], workstation);
  show('the workstation is refused at once', 'sekuire status', refused);
  expectCode(refused, 11, 'sekuire status after the revocation');
  await api(
    'sign out: both tokens stop working',
    url,
    { method: 'POST', path: '/api/v1/auth/logout', token },
    200,
  );
}

/**
 * What a key is for: a job calls a service of the organization's own (examples/deploy-api,
 * behind sekuire-verify) through `sekuire api`, signed by the device it is bound to; once the
 * key is revoked, the service refuses it.
 */
async function jobCallsAService(url: string, home: Record<string, string>): Promise<void> {
  const verifyKey = await run(
    serverBin,
    [
      'create-key',
      '--db',
      db,
      '--email',
      'ops@example.com',
      '--org',
      'Acme Corp',
      '--type',
      'server',
      '--permission',
      'verify',
    ],
    {},
  );
  expectCode(verifyKey, 0, 'create-key --type server --permission verify');
  show(
    "a server key for the organization's own deploy service, allowed to ask the server whether a request is genuine",
    'sekuire-server create-key --email ops@example.com --org "Acme Corp" --type server --permission verify',
    { ...verifyKey, stdout: `${verifyKey.stdout.slice(0, 11)}...\n` },
  );
  const jobKey = await run(
    serverBin,
    [
      'create-key',
      '--db',
      db,
      '--email',
      'ci@example.com',
      '--org',
      'Acme Corp',
      '--permission',
      'deploy:write',
      '--json',
    ],
    {},
  );
  expectCode(jobKey, 0, 'create-key --permission deploy:write');
  const minted = JSON.parse(jobKey.stdout) as { key: string; id: string };
  show(
    'a key for a deploy job, with the permission the service asks for',
    'sekuire-server create-key --email ci@example.com --org "Acme Corp" --permission deploy:write',
    { ...jobKey, stdout: `${minted.key.slice(0, 11)}...${minted.key.slice(-3)} (${minted.id})\n` },
  );
  const service = spawn(process.execPath, [join(root, 'examples/deploy-api/server.mjs')], {
    env: { ...process.env, SEKUIRE_URL: url, SEKUIRE_VERIFY_KEY: verifyKey.stdout.trim(), PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: service.stdout as NodeJS.ReadableStream });
    const serviceUrl = await new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the deploy service did not start within 15 s')),
        15_000,
      );
      service.once('exit', (code) => reject(new Error(`the deploy service exited with ${code}`)));
      lines.once('line', (line) => {
        clearTimeout(timer);
        const match = /^Listening on (\S+)$/.exec(line);
        if (match?.[1]) resolvePromise(match[1]);
        else reject(new Error(`unexpected first line from the deploy service: ${line}`));
      });
    });
    process.stdout.write(`\nThe deploy service (examples/deploy-api) listens on ${serviceUrl}.\n`);
    const job = { ...home, SEKUIRE_HOME: join(dir, 'job'), SEKUIRE_MACHINE_ID: 'demo-ci-runner' };
    type Step = [string, string, string[], number, string?];
    const steps: Step[] = [
      [
        'the job logs in once on its runner',
        'sekuire login --with-key < job-key',
        ['login', '--with-key'],
        0,
        minted.key,
      ],
      [
        'the service is an audience the CLI may send this key to',
        `sekuire config set audiences ${serviceUrl}`,
        ['config', 'set', 'audiences', serviceUrl],
        0,
      ],
      [
        'the job deploys: sekuire api signs the request, the service asks the server',
        `sekuire api ${serviceUrl}/deploy -f ref=v1.4.2`,
        ['api', `${serviceUrl}/deploy`, '-f', 'ref=v1.4.2'],
        0,
      ],
    ];
    const runJob = async (list: Step[]) => {
      for (const [title, display, args, code, input] of list) {
        const outcome = await run(cli, args, job, input);
        show(title, display, outcome);
        expectCode(outcome, code, display);
      }
    };
    await runJob(steps);
    const revoked = await run(serverBin, ['revoke-key', '--db', db, '--id', minted.id], {});
    show('the job key leaks and is revoked', `sekuire-server revoke-key --id ${minted.id}`, revoked);
    expectCode(revoked, 0, 'revoke-key');
    await runJob([
      [
        'the next deploy is refused by the service (401: exit 11)',
        `sekuire api ${serviceUrl}/deploy -f ref=v1.4.3`,
        ['api', `${serviceUrl}/deploy`, '-f', 'ref=v1.4.3'],
        11,
      ],
    ]);
  } finally {
    service.kill('SIGTERM');
    await new Promise((resolvePromise) => service.once('exit', resolvePromise));
  }
}

async function main(): Promise<void> {
  const { child, url } = await startServer();
  try {
    process.stdout.write(`Reference server: ${url} (database ${db})\n`);
    // The commands below are shown by their installed names; in this clone they are the builds.
    process.stdout.write(
      'Below, sekuire means node packages/cli/dist/cli.cjs, and sekuire-server means' +
        ` node packages/server/dist/server.js --db ${db}.\n`,
    );
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

    type Step = [string, string, string[], Record<string, string>, number, string?];
    const runSteps = async (steps: Step[]) => {
      for (const [title, display, args, env, code, input] of steps) {
        const outcome = await run(cli, args, env, input);
        show(title, display, outcome);
        expectCode(outcome, code, display);
      }
    };
    await runSteps([
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
    ]);
    // The same machine, another home: the fingerprint matches, but device-key.json stayed behind.
    const copy = { ...laptop, SEKUIRE_HOME: join(dir, 'copy') };
    mkdirSync(copy.SEKUIRE_HOME, { mode: 0o700 });
    copyFileSync(join(laptop.SEKUIRE_HOME, 'auth.json'), join(copy.SEKUIRE_HOME, 'auth.json'));
    await runSteps([
      [
        'a copy of auth.json is refused, even on the same machine: the device key stayed behind',
        'cp ~/.sekuire/auth.json <another home>/ && sekuire status',
        ['status'],
        copy,
        12,
      ],
    ]);
    const token = await adminSession(url);
    await approvedMove(url, token, desktop, key);
    await runSteps([
      ['the laptop has lost access', 'sekuire status', ['status'], laptop, 12],
      ['log out on the desktop (unbinds it on the server)', 'sekuire logout', ['logout'], desktop, 0],
      ['status after logout', 'sekuire status', ['status'], desktop, 10],
    ]);
    await keysThroughApi(url, token, laptop);
    await jobCallsAService(url, laptop);

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
