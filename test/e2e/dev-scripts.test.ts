// npm run serve and npm run demo, run as a newcomer would (on the built dist/), each in a temp folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-scripts-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Script {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text`; rejects if the script exits first. */
  waitFor(text: string): Promise<void>;
  exited: Promise<number | null>;
}

/** Runs scripts/<name>.ts with tsx in one process (no wrapper in between, so signals reach it as sent). */
function runScript(name: string, env: Record<string, string>): Script {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', resolvePromise));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (text) =>
      new Promise((resolvePromise, reject) => {
        const check = () => {
          if (!stdout.includes(text)) return;
          child.stdout.off('data', check);
          resolvePromise();
        };
        child.stdout.on('data', check);
        check();
        void exited.then((code) =>
          reject(
            new Error(`scripts/${name}.ts exited (${code}) before printing "${text}"\n${stdout}\n${stderr}`),
          ),
        );
      }),
  };
}

async function signIn(origin: string, email: string, password: string): Promise<Response> {
  return fetch(`${origin}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
}

describe('npm run serve', { timeout: 120_000 }, () => {
  /** Starts serve.ts on any free port with its folder in `dir`; answers what it printed. */
  async function serve(dir: string) {
    const script = runScript('serve', { SEKUIRE_SERVE_DIR: join(dir, 'serve'), SEKUIRE_SERVE_PORT: '0' });
    await script.waitFor('to start afresh.\n');
    const origin = /^Sekuire reference server on (http:\/\/127\.0\.0\.1:\d+); Ctrl\+C stops it\.$/m.exec(
      script.stdout(),
    )?.[1];
    const password = /^ {2}Password: {3}(\S+)$/m.exec(script.stdout())?.[1];
    if (origin === undefined || password === undefined)
      throw new Error(`unexpected output:\n${script.stdout()}`);
    return { script, origin, password };
  }

  it('prints the dashboard, a user who can sign in, and the CLI commands that log in; Ctrl+C stops it', async () => {
    const dir = tempDir();
    const { script, origin, password } = await serve(dir);
    const lines = script.stdout().split('\n');
    expect(lines).toContain(`  Dashboard:  ${origin}/dashboard`);
    expect(lines).toContain('  Email:      dev@example.com');
    expect(lines).toContain(`  node packages/cli/dist/cli.cjs login --backend ${origin}`);
    expect(lines).toContain('  node packages/cli/dist/cli.cjs status');
    expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(statSync(join(dir, 'serve')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'serve', 'user.json')).mode & 0o777).toBe(0o600);

    const signedIn = await signIn(origin, 'dev@example.com', password);
    expect(signedIn.status).toBe(200);
    const { access_token } = (await signedIn.json()) as { access_token: string };
    // What the dashboard's Create button does, then the printed login (with the key piped in).
    const created = await fetch(`${origin}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'newcomer' }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const machine = new Machine('serve-newcomer');
    cleanups.push(() => machine.cleanup());
    const login = await machine.run(['login', '--backend', origin, '--with-key'], { input: key });
    expect(login.code, login.stderr).toBe(0);
    expect((await machine.run(['status'])).code).toBe(0);
    expect(script.stdout() + script.stderr()).not.toContain(key.slice(8, 40));

    script.child.kill('SIGINT');
    expect(await script.exited).toBe(0);
    expect(script.stdout().endsWith('Stopped.\n')).toBe(true);
    await expect(fetch(`${origin}/api/v1/health`)).rejects.toThrow();
  });

  it('a second run reuses the database and prints the same credentials', async () => {
    const dir = tempDir();
    const first = await serve(dir);
    expect(first.script.stdout()).toContain('Created this user;');
    first.script.child.kill('SIGTERM');
    expect(await first.script.exited).toBe(0);

    const second = await serve(dir);
    expect(second.password).toBe(first.password);
    expect(second.script.stdout()).toContain('The user of the first run;');
    expect((await signIn(second.origin, 'dev@example.com', second.password)).status).toBe(200);
    second.script.child.kill('SIGTERM');
    expect(await second.script.exited).toBe(0);
  });

  it('a port in use: one line naming the way out, exit 1; a port that is not one: exit 2', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolvePromise) => taken.listen(0, '127.0.0.1', resolvePromise));
    cleanups.push(() => new Promise((resolvePromise) => taken.close(resolvePromise)));
    const port = (taken.address() as { port: number }).port;
    const dir = tempDir();
    const busy = runScript('serve', { SEKUIRE_SERVE_DIR: dir, SEKUIRE_SERVE_PORT: String(port) });
    expect(await busy.exited).toBe(1);
    // One cause and one fix, in this script's words: nothing about a --port it does not have.
    expect(busy.stderr()).not.toContain('--port');
    expect(busy.stderr().split('\n').slice(-2)).toEqual([
      `npm run serve: port ${port} on 127.0.0.1 is already in use by another program (another npm run serve, perhaps). To take any free port instead: SEKUIRE_SERVE_PORT=0 npm run serve`,
      '',
    ]);

    const bad = runScript('serve', { SEKUIRE_SERVE_DIR: dir, SEKUIRE_SERVE_PORT: 'http' });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toBe(
      'npm run serve: SEKUIRE_SERVE_PORT must be a port number (0 for any free one), not "http".\n',
    );
  });
});

describe('npm run demo', { timeout: 120_000 }, () => {
  it('tells the whole story, the keys API included, and shows no key or token whole', async () => {
    const demo = runScript('demo', {});
    expect(await demo.exited, demo.stderr()).toBe(0);
    const out = demo.stdout();
    expect(out).toContain('Demo complete: every step behaved as documented.\n');
    expect(out).toMatch(
      /^Below, sekuire means node packages\/cli\/dist\/cli\.cjs, and sekuire-server means node packages\/server\/dist\/server\.js --db \S+\.$/m,
    );
    for (const request of [
      '$ POST /api/v1/auth/login',
      '$ GET /api/v1/moves',
      '$ POST /api/v1/moves/move_',
      '$ POST /api/v1/keys',
      '$ GET /api/v1/keys',
      '$ DELETE /api/v1/keys/key_',
      '$ POST /api/v1/auth/logout',
    ]) {
      expect(out).toContain(request);
    }
    expect(out).toMatch(
      /^\$ sekuire login --with-key --rebind < key {5}\(finished\)\n(?: {2}.*\n)*? {2}-> exit 0$/m,
    );
    expect(out).toMatch(
      /^# a copy of auth\.json is refused, even on the same machine: the device key stayed behind\n\$ cp .*\n {2}\(stderr\) .*there is no device-key\.json.*\n(?: {2}.*\n)*? {2}-> exit 12$/m,
    );
    expect(out).toMatch(
      /^# the workstation is refused at once\n\$ sekuire status\n(?: {2}.*\n)*? {2}-> exit 11$/m,
    );
    // The key at work: a job calls the example service through sekuire api, then is refused.
    expect(out).toMatch(
      /^\$ sekuire api http:\/\/127\.0\.0\.1:\d+\/deploy -f ref=v1\.4\.2\n {2}\{"id":1,"ref":"v1\.4\.2","by":"ci@example\.com","device":"vm"\}\n {2}-> exit 0$/m,
    );
    expect(out).toMatch(
      /^\$ sekuire api http:\/\/127\.0\.0\.1:\d+\/deploy -f ref=v1\.4\.3\n {2}\(stderr\) HTTP 401 Unauthorized: This API key has been revoked\.\n(?: {2}.*\n)*? {2}-> exit 11$/m,
    );
    // The server's request log stays out of the story.
    expect(out + demo.stderr()).not.toContain('"msg":"request"');
    expect(out + demo.stderr()).not.toMatch(/sk_(?:live|test)_[0-9A-Za-z]{38}/);
    expect(out + demo.stderr()).not.toMatch(/sek_(?:at|rt|ck)_[0-9A-Za-z]{32}/);
  });
});
