// Secret hygiene over the real binary: a real key runs through every command and path; only two outputs may show it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliRun, Machine } from '../helpers/cli.js';
import { useReferenceServer } from '../helpers/e2e.js';
import { type Handler, json } from '../helpers/fake-backend.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0', SEKUIRE_DEBUG: '1' });

const EVERY_COMMAND = [
  ['status'],
  ['status', '--offline'],
  ['auth', 'whoami'],
  ['whoami'],
  ['auth', 'test'],
  ['auth', 'test', '--verbose'],
];

function withJson(commands: string[][]): string[][] {
  return commands.flatMap((args) => [args, [...args, '--json']]);
}

/**
 * Runs each command and fails naming every output that showed the key where it must not. It
 * looks for the key's random part, so a key shown without its prefix counts as a leak too.
 */
async function expectNoLeak(
  key: string,
  m: Machine,
  commands: string[][],
  options: { input?: string; allowStdout?: boolean } = {},
): Promise<CliRun[]> {
  const secret = key.slice(8, 40);
  const runs: CliRun[] = [];
  const leaks: string[] = [];
  for (const args of commands) {
    const run = await m.run(args, options.input === undefined ? {} : { input: options.input });
    runs.push(run);
    const label = `sekuire ${args.join(' ')} (exit ${run.code})`;
    if (run.stderr.includes(secret)) leaks.push(`${label}: stderr`);
    if (!options.allowStdout && run.stdout.includes(secret)) leaks.push(`${label}: stdout`);
  }
  expect(leaks).toEqual([]);
  return runs;
}

async function loggedIn(id: string): Promise<{ m: Machine; key: string; keyId: string }> {
  const { key, id: keyId } = await e2e.server.createKey();
  const m = e2e.machine(id);
  const runs = await expectNoLeak(
    key,
    m,
    [
      ['login', '--with-key', '--verbose'],
      ['login', '--with-key', '--json'],
    ],
    {
      input: key,
    },
  );
  expect(runs.map((run) => run.code)).toEqual([2, 0]);
  return { m, key, keyId };
}

describe('the key never leaks', () => {
  it('through every command that succeeds, as text and JSON', async () => {
    const { m, key } = await loggedIn('canary-ok');
    const runs = await expectNoLeak(key, m, withJson(EVERY_COMMAND));
    expect(runs.every((run) => run.code === 0)).toBe(true);
  });

  it('except where it is asked for: auth token and status --show-key (never in JSON)', async () => {
    const { m, key } = await loggedIn('canary-shown');
    const shown = await expectNoLeak(
      key,
      m,
      [
        ['auth', 'token'],
        ['auth', 'token', '--json'],
        ['status', '--show-key'],
      ],
      { allowStdout: true },
    );
    expect(shown.every((run) => run.stdout.includes(key))).toBe(true);
    await expectNoLeak(key, m, [['status', '--show-key', '--json']]);
  });

  it('through a copied auth.json on another device', async () => {
    const { m, key } = await loggedIn('canary-a');
    const b = e2e.machine('canary-b');
    mkdirSync(b.home, { recursive: true, mode: 0o700 });
    copyFileSync(m.authFile, b.authFile);
    const runs = await expectNoLeak(
      key,
      b,
      withJson([['status'], ['auth', 'whoami'], ['auth', 'test', '--verbose'], ['logout']]),
    );
    expect(runs.map((run) => run.code)).toEqual([12, 12, 12, 12, 12, 12, 0, 0]);
  });

  it('through a login refused because the key is bound elsewhere', async () => {
    const { key } = await loggedIn('canary-owner');
    const c = e2e.machine('canary-c');
    const runs = await expectNoLeak(key, c, withJson([['login', '--with-key']]), { input: key });
    expect(runs.map((run) => run.code)).toEqual([12, 12]);
  });

  it('through a key given as an argument or an option, and near misses', async () => {
    const { key } = await e2e.server.createKey();
    const c = e2e.machine('canary-argv');
    await expectNoLeak(key, c, [
      ['login', key],
      ['login', key, '--json'],
      ['status', `--key=${key}`],
    ]);
    await expectNoLeak(key, c, [['login', '--with-key']], { input: `${key}x` });
    await expectNoLeak(key, c, [['login', '--with-key']], { input: `SEKUIRE_API_KEY="${key}"` });
    await expectNoLeak(key, e2e.machine('canary-env', { SEKUIRE_API_KEY: key.slice(0, -1) }), [['status']]);
    await expectNoLeak(key, e2e.machine('canary-env2', { SEKUIRE_API_KEY: key }), [
      ['auth', 'test', '--verbose', '--json'],
    ]);
  });

  const secret = (key: string) => key.slice(8, 40);
  const misbehaving: [string, (key: string, recorder: string) => Handler][] = [
    ['a 503 echoing the key', (key) => json(503, { error: 'down', message: `echo ${key}` })],
    ['a 403 echoing the key', (key) => json(403, { error: 'forbidden', message: `no access for ${key}` })],
    [
      'a 403 echoing its random part',
      (key) => json(403, { error: 'forbidden', message: `for ${secret(key)}` }),
    ],
    [
      'a 402 with the key in upgrade_url',
      (key) => json(402, { error: 'plan_limit_exceeded', upgrade_url: `https://x.test/?k=${key}` }),
    ],
    ['a 400 echoing the key', (key) => json(400, { error: 'invalid_request', message: `bad key ${key}` })],
    [
      'a 409 naming the device after the key',
      (key) => json(409, { error: 'device_mismatch', bound_device: { name: secret(key), os: key } }),
    ],
    [
      'an HTML page with the key',
      (key) => (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(`<p>${key}</p>`);
      },
    ],
    [
      'a redirect to another origin carrying the key',
      (key, recorder) => (_request, response) => {
        response.writeHead(307, { location: `${recorder}/?key=${key}` });
        response.end();
      },
    ],
  ];
  it.each(misbehaving)('through %s', async (_name, handler) => {
    const { key } = await e2e.server.createKey();
    const recorder = await e2e.fake(json(200, {}));
    const backend = await e2e.fake(handler(key, recorder.url));
    const m = e2e.machine('canary-fake', { SEKUIRE_API_KEY: key, SEKUIRE_BACKEND_URL: backend.url });
    await expectNoLeak(key, m, withJson([['status'], ['auth', 'test', '--verbose'], ['auth', 'whoami']]));
    expect(recorder.requests).toEqual([]);
  });

  it('through a revoked key and logout', async () => {
    const { m, key, keyId } = await loggedIn('canary-revoked');
    await e2e.server.revokeKey(keyId);
    const runs = await expectNoLeak(
      key,
      m,
      withJson([['status'], ['auth', 'test', '--verbose'], ['logout']]),
    );
    expect(runs.map((run) => run.code)).toEqual([11, 11, 11, 11, 0, 0]);
  });

  it('through a corrupt auth.json', async () => {
    const { key } = await e2e.server.createKey();
    const corrupt = e2e.machine('canary-corrupt');
    mkdirSync(corrupt.home, { recursive: true, mode: 0o700 });
    writeFileSync(corrupt.authFile, `{"api_key": "${key}", "broken": `, { mode: 0o600 });
    const runs = await expectNoLeak(key, corrupt, withJson([['status'], ['auth', 'token']]));
    expect(runs.every((run) => run.code === 15)).toBe(true);
    await expectNoLeak(key, corrupt, [['logout', '--json']]);
  });
});

describe("the device's private key never leaves device-key.json", () => {
  /** The private scalar as it could show up: base64url (the JWK), base64, hex. */
  function forms(d: string): string[] {
    const bytes = Buffer.from(d, 'base64url');
    return [d, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('hex')];
  }

  it('in no output, no request, no server log and no database byte', async () => {
    const { m } = await loggedIn('canary-device-key');
    const stored = JSON.parse(readFileSync(join(m.home, 'device-key.json'), 'utf8')) as { d: string };
    const secrets = forms(stored.d);
    const leaks: string[] = [];
    const look = (label: string, text: string) => {
      for (const form of secrets) if (text.includes(form)) leaks.push(label);
    };
    // Every command, verbose and as JSON, against the reference server.
    for (const args of withJson([...EVERY_COMMAND, ['auth', 'token'], ['status', '--show-key']])) {
      const run = await m.run(args);
      look(`sekuire ${args.join(' ')}: stdout`, run.stdout);
      look(`sekuire ${args.join(' ')}: stderr`, run.stderr);
    }
    // What goes over the wire, recorded by a backend of our own (named with --backend).
    const recorder = await e2e.fake(json(200, {}));
    for (const args of [
      ['status', '--backend', recorder.url],
      ['auth', 'whoami', '--backend', recorder.url],
    ]) {
      await m.run(args);
    }
    expect(recorder.requests.length).toBeGreaterThan(0);
    for (const request of recorder.requests) {
      look(`request ${request.url}: headers`, JSON.stringify(request.headers));
      look(`request ${request.url}: body`, request.body);
      // Signed, with the proof headers and nothing else of the key.
      expect(request.headers['signature-input']).toMatch(/^sekuire=\(/);
    }
    const logout = await m.run(['logout', '--json']);
    look('sekuire logout: stdout', logout.stdout);
    look('sekuire logout: stderr', logout.stderr);
    look('server log', e2e.server.stderr());
    for (const file of [e2e.server.dbPath, `${e2e.server.dbPath}-wal`]) {
      if (existsSync(file)) look(file, readFileSync(file).toString('latin1'));
    }
    expect(leaks).toEqual([]);
    // logout keeps the device key: it is the device's identity, not a credential of the key.
    expect(JSON.parse(readFileSync(join(m.home, 'device-key.json'), 'utf8')).d).toBe(stored.d);
  });
});
