// Secret hygiene: a real key runs through every command and path; only two outputs may show it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, Machine } from '../helpers/cli.js';
import { type FakeBackend, json, startFakeBackend } from '../helpers/fake-backend.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let key: string;
let keyId: string;
const runs: { label: string; run: CliRun; allowed: 'stdout' | 'none' }[] = [];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startServer();
  ({ key, id: keyId } = await server.createKey());
});
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await server?.stop();
});

function machine(id: string, env: Record<string, string> = {}): Machine {
  const created = new Machine(id, {
    SEKUIRE_BACKEND_URL: server.url,
    SEKUIRE_RETRIES: '0',
    SEKUIRE_DEBUG: '1',
    ...env,
  });
  cleanups.push(() => created.cleanup());
  return created;
}

async function fake(handler: Parameters<typeof startFakeBackend>[0]): Promise<FakeBackend> {
  const backend = await startFakeBackend(handler);
  cleanups.push(() => backend.close());
  return backend;
}

async function record(
  label: string,
  m: Machine,
  args: string[],
  input?: string,
  allowed: 'stdout' | 'none' = 'none',
) {
  const run = await m.run(args, input === undefined ? {} : { input });
  runs.push({ label: `${label}: sekuire ${args.join(' ')} (exit ${run.code})`, run, allowed });
  return run;
}

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

describe('the key never leaks', () => {
  it('runs every path', async () => {
    const a = machine('canary-a');
    await record('login', a, ['login', '--with-key', '--verbose'], key);
    await record('login', a, ['login', '--with-key', '--json'], key);
    for (const args of withJson(EVERY_COMMAND)) await record('success', a, args);
    await record('token', a, ['auth', 'token'], undefined, 'stdout');
    await record('token', a, ['auth', 'token', '--json'], undefined, 'stdout');
    await record('show-key', a, ['status', '--show-key'], undefined, 'stdout');
    await record('show-key json', a, ['status', '--show-key', '--json']);

    // Errors: another device (copied file and the backend's 409), a key in argv, a near-miss key.
    const b = machine('canary-b');
    mkdirSync(b.home, { recursive: true, mode: 0o700 });
    writeFileSync(b.authFile, (await import('node:fs')).readFileSync(a.authFile), { mode: 0o600 });
    for (const args of withJson([
      ['status'],
      ['auth', 'whoami'],
      ['auth', 'test', '--verbose'],
      ['logout'],
    ])) {
      await record('copied file', b, args);
    }
    const c = machine('canary-c');
    for (const args of withJson([['login', '--with-key']])) await record('bound elsewhere', c, args, key);
    await record('argv', c, ['login', key]);
    await record('argv json', c, ['login', key, '--json']);
    await record('unknown option with key', c, ['status', `--key=${key}`]);
    await record('near miss', c, ['login', '--with-key'], `${key}x`);
    await record('near miss env', machine('canary-env', { SEKUIRE_API_KEY: `${key.slice(0, -1)}` }), [
      'status',
    ]);
    await record('env key', machine('canary-env2', { SEKUIRE_API_KEY: key }), [
      'auth',
      'test',
      '--verbose',
      '--json',
    ]);

    // Misbehaving backends: each error message and JSON error object.
    const recorder = await fake(json(200, {}));
    const backends = [
      await fake(json(503, { error: 'down', message: `echo ${key}` })),
      await fake(json(403, { error: 'forbidden', message: `no access for ${key}` })),
      await fake(json(402, { error: 'plan_limit_exceeded', upgrade_url: `https://x.test/?k=${key}` })),
      await fake(json(400, { error: 'invalid_request', message: `bad key ${key}` })),
      await fake((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(`<p>${key}</p>`);
      }),
      await fake((_request, response) => {
        response.writeHead(307, { location: `${recorder.url}/?key=${key}` });
        response.end();
      }),
    ];
    for (const backend of backends) {
      const m = machine('canary-fake', { SEKUIRE_API_KEY: key, SEKUIRE_BACKEND_URL: backend.url });
      for (const args of withJson([['status'], ['auth', 'test', '--verbose'], ['auth', 'whoami']])) {
        await record(`fake ${backend.url}`, m, args);
      }
    }
    expect(recorder.requests).toEqual([]);

    // Revoked, then logged out: the stored key through every remaining path.
    await server.revokeKey(keyId);
    for (const args of withJson([['status'], ['auth', 'test', '--verbose'], ['logout']])) {
      await record('revoked', a, args);
    }
    const corrupt = machine('canary-corrupt');
    mkdirSync(corrupt.home, { recursive: true, mode: 0o700 });
    writeFileSync(corrupt.authFile, `{"api_key": "${key}", "broken": `, { mode: 0o600 });
    for (const args of withJson([['status'], ['auth', 'token'], ['logout']]))
      await record('corrupt', corrupt, args);

    expect(runs.length).toBeGreaterThan(60);
    const leaks = runs.flatMap(({ label, run, allowed }) => [
      ...(run.stderr.includes(key) ? [`${label}: stderr`] : []),
      ...(allowed === 'none' && run.stdout.includes(key) ? [`${label}: stdout`] : []),
    ]);
    expect(leaks).toEqual([]);
    // The two places that show it do show it.
    expect(runs.filter((r) => r.allowed === 'stdout').every((r) => r.run.stdout.includes(key))).toBe(true);
  });
});
