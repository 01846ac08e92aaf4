// What scripts and CI rely on: SEKUIRE_API_KEY, auth token, auth test, backend pinning, help, completion.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { type FakeBackend, json } from '../helpers/fake-backend.js';

const backend = useBackend();
const machine = (id = 'scripts', env: Record<string, string> = {}): TestMachine => backend.machine(id, env);
const recorder = (): Promise<FakeBackend> => backend.fake(json(500, { error: 'recorder' }));

describe('SEKUIRE_API_KEY', () => {
  it('works for a key bound to no device, and status names the variable', async () => {
    const { key, id } = await backend.server.createKey();
    const m = machine('ci-runner', { SEKUIRE_API_KEY: key });
    const status = await m.run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Source: SEKUIRE_API_KEY (environment variable)');
    expect(status.stdout).toContain(
      "Binding: the key is not bound to any device (run 'sekuire login' to bind it here)",
    );
    const asJson = (await m.run(['status', '--json'])).json();
    expect(asJson).toMatchObject({ source: { type: 'env', name: 'SEKUIRE_API_KEY' }, key: { id } });
    expect(JSON.stringify(asJson)).not.toContain(key);
  });

  it('takes precedence over a stored login, and says so on stderr', async () => {
    const stored = await backend.server.createKey({ email: 'stored@example.com' });
    const fromEnv = await backend.server.createKey({ email: 'env@example.com' });
    const m = machine('shadowed');
    expect((await m.run(['login', '--with-key'], { input: stored.key })).code).toBe(0);
    const whoami = await m.run(['whoami'], { env: { SEKUIRE_API_KEY: fromEnv.key } });
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toContain('Email: env@example.com');
    expect(whoami.stderr).toContain(
      `SEKUIRE_API_KEY is set and takes precedence over the login stored in ${m.authFile}`,
    );
    const status = await m.run(['status'], { env: { SEKUIRE_API_KEY: fromEnv.key } });
    expect(status.stdout).toContain('Source: SEKUIRE_API_KEY (environment variable)');
    const plain = await m.run(['status']);
    expect(plain.stdout).toContain(`Source: ${m.authFile}`);
  });

  it('login and logout say what they change while it is set', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('login-with-env', { SEKUIRE_API_KEY: key });
    const login = await m.run(['login', '--with-key'], { input: key });
    expect(login.code).toBe(0);
    expect(login.stderr).toContain('SEKUIRE_API_KEY is set and takes precedence over this login');
    const logout = await m.run(['logout', '--json']);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain('SEKUIRE_API_KEY is still set');
    expect(logout.json()).toMatchObject({ removed: true, api_key_env_set: true });
  });
});

describe('auth token and auth test', () => {
  it('auth token prints the key in use alone; --json carries it too', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('token');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const token = await m.run(['auth', 'token']);
    expect(token.code).toBe(0);
    expect(token.stdout).toBe(`${key}\n`);
    expect(token.stderr).toBe('');
    expect((await m.run(['auth', 'token', '--json'])).json()).toEqual({
      key,
      source: { type: 'file', path: m.authFile },
    });
    const none = await machine('token-none').run(['auth', 'token']);
    expect(none.code).toBe(10);
    expect(none.stdout).toBe('');
  });

  it('auth test --verbose prints the URL and response time to stderr, the key redacted', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('auth-test');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const run = await m.run(['auth', 'test', '--verbose']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`> GET ${backend.server.url}/api/v1/cli/status`);
    expect(run.stderr).toMatch(/^< HTTP 200 in \d+ ms$/m);
    expect(run.stderr).toMatch(
      new RegExp(`^> X-API-Key: ${key.slice(0, 11)}\\.\\.\\.${key.slice(-3)}$`, 'mi'),
    );
    expect(run.stderr + run.stdout).not.toContain(key);
    expect(run.stdout).toMatch(/^Response time: \d+ ms$/m);
    const asJson = (await m.run(['auth', 'test', '--json'])).json();
    expect(asJson).toMatchObject({ ok: true, url: `${backend.server.url}/api/v1/cli/status`, attempts: 1 });
  });

  it('auth test --with-key tests a key from stdin without writing anything', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('auth-test-stdin');
    const run = await m.run(['auth', 'test', '--with-key', '--url', backend.server.url], { input: key });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Source: standard input (--with-key)');
    const bad = await m.run(['auth', 'test', '--with-key'], { input: 'sk_live_nope' });
    expect(bad.code).toBe(2);
  });
});

describe('a stored key goes only to the backend it was verified with', () => {
  it('ignores SEKUIRE_BACKEND_URL for the stored key, with a note; a flag sends it elsewhere', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('pinned');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const other = await recorder();
    const status = await m.run(['status'], { env: { SEKUIRE_BACKEND_URL: other.url } });
    expect(status.code).toBe(0);
    expect(status.stderr).toContain('SEKUIRE_BACKEND_URL is not used for the stored key');
    expect(other.requests).toEqual([]);

    const flagged = await m.run(['auth', 'whoami', '--backend-url', other.url]);
    expect(flagged.code).toBe(13);
    expect(other.requests.length).toBeGreaterThan(0);
    expect(other.requests[0]?.headers['x-api-key']).toBe(key);
    expect(JSON.parse(readFileSync(m.authFile, 'utf8')).backend).toBe(backend.server.url);
  });
});

describe('--backend on every command that talks to a backend', () => {
  it('whoami, status, auth test and logout take it; the old spellings are aliases; two different URLs are refused', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('flags', { SEKUIRE_API_KEY: key });
    for (const args of [['auth', 'whoami'], ['status'], ['auth', 'test']]) {
      const run = await m.run([...args, '--backend', backend.server.url]);
      expect(run.code, args.join(' ')).toBe(0);
    }
    expect((await m.run(['auth', 'whoami', '--backend-url', backend.server.url])).code).toBe(0);
    expect((await m.run(['auth', 'test', '--url', backend.server.url])).code).toBe(0);
    const both = await m.run([
      'auth',
      'whoami',
      '--backend',
      backend.server.url,
      '--backend-url',
      'https://x.example',
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('--backend and --backend-url name two different backends; give one.\n');
  });

  it('logout --backend unbinds on the backend it names', async () => {
    const { key } = await backend.server.createKey();
    const m = machine('logout-flag');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const other = await recorder();
    const run = await m.run(['logout', '--json', '--backend', other.url], { env: { SEKUIRE_RETRIES: '0' } });
    expect(run.code).toBe(0);
    expect(other.requests.map((request) => [request.method, request.url])).toEqual([
      ['POST', '/api/v1/cli/logout'],
    ]);
    expect(run.json()).toMatchObject({
      removed: true,
      unbound: null,
      unbind_error: { code: 'backend_error' },
    });
  });
});

describe('help answers the question', () => {
  const commands = [
    ['login'],
    ['logout'],
    ['status'],
    ['whoami'],
    ['auth', 'whoami'],
    ['auth', 'token'],
    ['auth', 'test'],
    ['auth'],
    ['completion'],
  ];
  it.each(commands)('%s --help has a description, flags, an example and exit codes', async (...words) => {
    const run = await machine('help').run([...words, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: sekuire /);
    expect(run.stdout).toContain('Options:');
    expect(run.stdout).toContain('Examples:\n  $ ');
    expect(run.stdout).toMatch(/Exit codes:\n\s+0 {2}success/);
  });

  it.each(['bash', 'zsh', 'fish'])('completion %s prints a script naming every command', async (shell) => {
    const run = await machine('completion').run(['completion', shell]);
    expect(run.code).toBe(0);
    for (const word of ['login', 'logout', 'status', 'whoami', 'auth', 'token', 'with-key', 'rebind']) {
      expect(run.stdout).toContain(word);
    }
  });

  it('the bash script completes subcommands and flags in a real bash', async () => {
    const script = (await machine('completion').run(['completion', 'bash'])).stdout;
    const complete = (line: string) => {
      const words = line.split(' ');
      const program = [
        script,
        `COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}`,
        '_sekuire_complete',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template.
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      return execFileSync('bash', ['--norc', '-c', program], { encoding: 'utf8' }).trim().split('\n');
    };
    expect(complete('sekuire au')).toEqual(['auth']);
    expect(complete('sekuire auth t').sort()).toEqual(['test', 'token']);
    expect(complete('sekuire login --with')).toEqual(['--with-key']);
    expect(complete('sekuire auth test --url http://x --verb')).toEqual(['--verbose']);
  });

  it('`sekuire help status` is --help for status (exit 0); `sekuire auth` alone is a usage error', async () => {
    const m = machine('help-command');
    const help = await m.run(['help', 'status']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe((await m.run(['status', '--help'])).stdout);
    const group = await m.run(['auth']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('Usage: sekuire auth');
  });

  it('--version prints the version alone', async () => {
    const run = await machine('version').run(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
