// Through a real process: exit codes, signals, stdout that cannot be written, HOME, and what a second device sees.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintKey } from '@sekuire/shared/key';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_PATH, type Machine, runCli } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { silent } from '../helpers/fake-backend.js';
import { NOBODY } from '../helpers/worker.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0' });
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function loggedIn(id: string, key: string): Promise<Machine> {
  const m = e2e.machine(id);
  const run = await m.run(['login', '--with-key'], { input: key });
  expect(run.code, run.stderr).toBe(0);
  return m;
}

describe('exit codes through a real process', () => {
  it('0, 2, 10 and 13 reach the shell', async () => {
    const { key } = await e2e.server.createKey();
    const m = await loggedIn('codes', key);
    expect((await m.run(['status'])).code).toBe(0);
    expect((await m.run(['status', '--bogus'])).code).toBe(2);
    expect((await e2e.machine('nobody-here').run(['status'])).code).toBe(10);
    const down = await m.run(['status', '--backend', 'http://127.0.0.1:1']);
    expect(down.code).toBe(13);
    expect(down.stderr).not.toMatch(/\n\s+at /);
  });

  it('130: Ctrl+C (SIGINT) while waiting on the backend', async () => {
    const backend = await e2e.fake(silent);
    const m = e2e.machine('sigint', {
      SEKUIRE_API_KEY: mintKey('live').value,
      SEKUIRE_BACKEND_URL: backend.url,
    });
    const child = spawn(process.execPath, [CLI_PATH, 'status'], {
      env: {
        ...process.env,
        HOME: m.dir,
        SEKUIRE_HOME: m.home,
        SEKUIRE_MACHINE_ID: m.machineId,
        ...m.baseEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await expect.poll(() => backend.requests.length, { timeout: 20_000, interval: 50 }).toBe(1);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  });
});

describe('what a command loads', () => {
  it('status --offline and --version never load the network (node:net, node:http, node:tls, node:dns) or node:crypto; status loads node:net, not node:http', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-trace-'));
    scratch.push(dir);
    const trace = join(dir, 'trace.cjs');
    writeFileSync(
      trace,
      `const Module = require('node:module');
const seen = new Set();
const require0 = Module.prototype.require;
Module.prototype.require = function (id) { seen.add(id.replace(/^node:/, '')); return require0.apply(this, arguments); };
process.on('exit', () => process.stderr.write('REQUIRED ' + [...seen].sort().join(' ') + '\\n'));
`,
    );
    const m = e2e.machine('trace', {
      SEKUIRE_API_KEY: mintKey('test').value,
      NODE_OPTIONS: `--require ${trace}`,
    });
    for (const args of [['status', '--offline'], ['--version']]) {
      const run = await m.run(args);
      expect(run.code, run.stderr).toBe(0);
      const required = /REQUIRED (.*)/.exec(run.stderr)?.[1]?.split(' ') ?? [];
      expect(required.length, run.stderr).toBeGreaterThan(0);
      expect(required.filter((id) => ['net', 'http', 'https', 'tls', 'dns', 'crypto'].includes(id))).toEqual(
        [],
      );
    }
    // A stored login with the file store: its device-key.json is read and its thumbprint
    // checked against auth.json without node:crypto; the key is imported only to sign.
    const stored = await loggedIn('trace-stored', (await e2e.server.createKey()).key);
    const offline = await stored.run(['status', '--offline'], {
      env: { NODE_OPTIONS: `--require ${trace}` },
    });
    expect(offline.code, offline.stderr).toBe(0);
    const storedRequired = /REQUIRED (.*)/.exec(offline.stderr)?.[1]?.split(' ') ?? [];
    expect(storedRequired.length, offline.stderr).toBeGreaterThan(0);
    expect(
      storedRequired.filter((id) => ['net', 'http', 'https', 'tls', 'dns', 'crypto'].includes(id)),
    ).toEqual([]);
    // The request is written and read by core/http/wire.ts on a node:net socket.
    const online = await m.run(['status', '--backend', 'http://127.0.0.1:1']);
    const required = /REQUIRED (.*)/.exec(online.stderr)?.[1]?.split(' ') ?? [];
    expect(required.filter((id) => ['net', 'http', 'https', 'tls', 'dns'].includes(id))).toEqual(['net']);

    // A stored login in a named profile, with its own device key, whose key expires within a
    // day: the profile, the thumbprint check and the expiry warning load no node:crypto either.
    const { key } = await e2e.server.createKey({ expiresInDays: 1 });
    const named = e2e.machine('trace-profile');
    expect((await named.run(['login', '--with-key', '--profile', 'work'], { input: key })).code).toBe(0);
    const traced = { NODE_OPTIONS: `--require ${trace}` };
    for (const [args, env] of [
      [['status', '--offline', '--profile', 'work'], traced],
      [['status', '--offline'], { ...traced, SEKUIRE_PROFILE: 'work' }],
    ] as const) {
      const run = await named.run(args, { env });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('Profile: work');
      expect(run.stderr).toMatch(/^Warning: the API key .* 'sekuire login --profile work' with it\.$/m);
      const loaded = /REQUIRED (.*)/.exec(run.stderr)?.[1]?.split(' ') ?? [];
      expect(loaded.length, run.stderr).toBeGreaterThan(0);
      expect(loaded.filter((id) => ['net', 'http', 'https', 'tls', 'dns', 'crypto'].includes(id))).toEqual(
        [],
      );
    }
  });
});

describe('stdout that cannot be written', () => {
  it.each([[['auth', 'token']], [['status', '--offline', '--json']]])(
    '%j > /dev/full: exit 1 and a message on stderr',
    async (args) => {
      const full = openSync('/dev/full', 'w');
      try {
        const m = e2e.machine('full', { SEKUIRE_API_KEY: mintKey('test').value });
        const run = await m.run(args, { stdout: full });
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(
          'Cannot write the output to standard output: no space left on the device (ENOSPC).',
        );
      } finally {
        closeSync(full);
      }
    },
  );

  it('a pipe the reader closed (| head -c 1) stays quiet and keeps the exit code', () => {
    const m = e2e.machine('pipe', { SEKUIRE_API_KEY: mintKey('test').value });
    const env = { ...process.env, HOME: m.dir, SEKUIRE_HOME: m.home, ...m.baseEnv };
    // `completion bash` writes more than one read takes; `true` closes the pipe at once.
    const out = execFileSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${CLI_PATH}" completion bash 2>err.txt | true; echo "exit=\${PIPESTATUS[0]}"; cat err.txt`,
      ],
      { env, cwd: m.dir, encoding: 'utf8' },
    );
    expect(out).toBe('exit=0\n');
  });
});

describe('HOME', () => {
  it('HOME="" never puts .sekuire in the working directory (a CI checkout)', async () => {
    const { key } = await e2e.server.createKey();
    const checkout = mkdtempSync(join(tmpdir(), 'sekuire-checkout-'));
    scratch.push(checkout);
    chmodSync(checkout, 0o777);
    // As nobody, whose home in the password database (/nonexistent) cannot be created.
    const run = await runCli(['login', '--with-key'], {
      input: key,
      uid: NOBODY,
      cwd: checkout,
      env: { HOME: '', SEKUIRE_BACKEND_URL: e2e.server.url, SEKUIRE_MACHINE_ID: 'home-test' },
    });
    expect(existsSync(join(checkout, '.sekuire'))).toBe(false);
    expect(readdirSync(checkout)).toEqual([]);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain('/nonexistent/.sekuire');
  });
});

describe('a second device', () => {
  it('with auth.json a directory, login --rebind changes nothing on the backend (exit 15)', async () => {
    const { key, id } = await e2e.server.createKey();
    const a = await loggedIn('device-a', key);
    const b = e2e.machine('device-b');
    mkdirSync(b.authFile, { recursive: true });
    const run = await b.run(['login', '--with-key', '--rebind'], { input: key });
    expect(run.code).toBe(15);
    expect((await a.run(['status'])).code).toBe(0);
    expect(((await e2e.server.audit(id)) as { event: string }[]).map((entry) => entry.event)).toEqual([
      'create',
      'bind',
    ]);
  });

  it('auth test creates nothing on a machine without a machine ID', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('no-id', { SEKUIRE_MACHINE_ID: '' });
    const run = await m.run(['auth', 'test', '--with-key'], { input: key });
    expect(run.code).toBe(0);
    expect(existsSync(m.home)).toBe(false);
  });
});
