// The whole product path, in process: every command against the real reference server.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mintKey } from '@sekuire/shared/key';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { MoveApprover, quickSleep } from '../helpers/moves.js';

const backend = useBackend();
const machine = (id: string, env: Record<string, string> = {}): TestMachine => backend.machine(id, env);

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/**
 * A backend nothing answers: port 1 is privileged and unused. A port freed by a probe server
 * could be taken by another test file's server in the meantime, and then it answers.
 */
const NOTHING_LISTENS = 'http://127.0.0.1:1';

describe('login, status, whoami, logout', () => {
  it('runs the documented flow with the documented lines', async () => {
    const { key, id } = await backend.server.createKey({ email: 'dev@example.com', org: 'Acme Corp' });
    const a = machine('machine-a');

    const login = await a.run(['login', '--with-key'], { input: `${key}\n` });
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    const loginLines = login.lines();
    expect(loginLines.slice(0, 4)).toEqual([
      'Login successful! API Key verified and bound to this device.',
      'Device: host-machine-a',
      'OS: linux',
      expect.stringMatching(/^Fingerprint: [0-9a-f]{12}\.\.\.$/),
    ]);
    expect(loginLines.at(-1)).toBe(`Credentials saved to: ${a.authFile}`);
    expect(mode(a.home)).toBe(0o700);
    expect(mode(a.authFile)).toBe(0o600);
    const stored = JSON.parse(readFileSync(a.authFile, 'utf8')) as Record<string, string>;
    expect(stored.api_key).toBe(key);
    expect(stored.key_id).toBe(id);
    expect(stored.backend).toBe(backend.server.url);
    expect(stored.device_fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.org_id).toMatch(/^org_/);
    expect(stored.workspace_id).toMatch(/^ws_/);

    const status = await a.run(['status']);
    expect(status.code).toBe(0);
    expect(status.lines().slice(0, 7)).toEqual([
      'Authentication Status:',
      'Authenticated with API Key',
      `Key: ${key.slice(0, 11)}...${key.slice(-3)}`,
      `Device Fingerprint: ${stored.device_fingerprint?.slice(0, 8)}...`,
      'Device: host-machine-a',
      'OS: linux',
      `Workspace: ${stored.workspace_id}`,
    ]);
    expect(status.stdout).not.toContain(key);

    const whoami = await a.run(['auth', 'whoami']);
    expect(whoami.code).toBe(0);
    expect(whoami.lines()).toEqual([
      'Current User Information:',
      'Authenticated as:',
      'Email: dev@example.com',
      `User ID: ${stored.user_id}`,
      'Organization: Acme Corp',
      '',
      'Device Info:',
      'Device: host-machine-a',
      'OS: linux',
      `Fingerprint: ${stored.device_fingerprint?.slice(0, 8)}...`,
    ]);
    const alias = await a.run(['whoami']);
    expect(alias.stdout).toBe(whoami.stdout);

    const logout = await a.run(['logout']);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toBe('Logging out...\n');
    expect(logout.lines()).toEqual([
      'Logged out successfully!',
      `Credentials removed from: ${a.authFile}`,
      `This device was unbound on ${backend.server.url}.`,
    ]);
    expect(existsSync(a.authFile)).toBe(false);
    const events = (await backend.server.audit(id)) as { event: string }[];
    expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'unbind']);

    const after = await a.run(['status']);
    expect(after.code).toBe(10);
    expect(after.stdout).toBe('');
    expect(after.stderr).toBe("Not logged in\nRun 'sekuire login' to authenticate\n");
  });

  it('gives the same facts as JSON, never the whole key', async () => {
    const { key, id } = await backend.server.createKey();
    const a = machine('machine-json');
    const login = await a.run(['login', '--with-key', '--json'], { input: key });
    expect(login.code).toBe(0);
    const loginJson = login.json<{ key: { id: string; masked: string }; device: { fingerprint: string } }>();
    expect(loginJson.key).toMatchObject({ id, masked: `${key.slice(0, 11)}...${key.slice(-3)}` });
    for (const args of [
      ['status'],
      ['status', '--offline'],
      ['status', '--show-key'],
      ['auth', 'whoami'],
      ['auth', 'test'],
    ]) {
      const run = await a.run([...args, '--json']);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).not.toContain(key);
      expect(() => run.json(), args.join(' ')).not.toThrow();
    }
    const status = (await a.run(['status', '--json'])).json<Record<string, unknown>>();
    expect(status).toMatchObject({
      authenticated: true,
      source: { type: 'file', path: a.authFile },
      profile: { name: 'default', from: 'default' },
      key: { id, environment: 'test' },
      expires_at: null,
      device: { fingerprint: loginJson.device.fingerprint, bound_here: true, id_source: 'machine' },
      backend: backend.server.url,
      checked: 'online',
    });
    const logout = await a.run(['logout', '--json']);
    expect(logout.json()).toEqual({
      logged_out: true,
      profile: 'default',
      credentials_path: a.authFile,
      removed: true,
      backend: backend.server.url,
      unbound: true,
      unbind_error: null,
      api_key_env_set: false,
    });
  });

  it('shows the whole key only with --show-key, and status --offline works without a backend', async () => {
    const { key } = await backend.server.createKey();
    const a = machine('machine-show');
    expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const shown = await a.run(['status', '--show-key']);
    expect(shown.lines()[2]).toBe(`Key: ${key}`);
    const offline = await a.run(['status', '--offline'], {
      env: { SEKUIRE_BACKEND_URL: 'http://127.0.0.1:1' },
    });
    expect(offline.code).toBe(0);
    expect(offline.lines()[0]).toBe('Authentication Status:');
  });
});

describe('bad input gets a clear answer and nothing is written', () => {
  const valid = mintKey('live').value;
  const malformed: [string, string, RegExp][] = [
    ['prefix', `pk${valid.slice(2)}`, /prefix|sk_live_/i],
    ['truncated', valid.slice(0, 30), /truncated/i],
    ['alphabet', `${valid.slice(0, 20)}!${valid.slice(21)}`, /character/i],
    ['checksum', flipLast(mintKey('test').value), /checksum|typo/i],
  ];

  it.each(malformed)('a %s key exits 2 before any network call', async (_name, key, pattern) => {
    // The backend is a closed port: reaching it would exit 13, not 2.
    const a = machine('machine-bad', { SEKUIRE_BACKEND_URL: NOTHING_LISTENS });
    const run = await a.run(['login', '--with-key'], { input: `${key}\n` });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).toContain('Nothing was saved.');
    expect(existsSync(a.home)).toBe(false);
  });

  it('a well-formed key the backend does not know exits 11 and writes nothing', async () => {
    const a = machine('machine-unknown');
    const run = await a.run(['login', '--with-key'], { input: mintKey('live').value });
    expect(run.code).toBe(11);
    expect(run.stderr).toMatch(/rejected: the backend does not know it/);
    expect(existsSync(a.authFile)).toBe(false);
  });

  it('a revoked key: status exits 11 and keeps the file; login exits 11', async () => {
    const { key, id } = await backend.server.createKey();
    const a = machine('machine-revoked');
    expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const before = readFileSync(a.authFile, 'utf8');
    // The server now holds this key in its cache; the revocation comes from another process (this test's).
    expect((await a.run(['status'])).code).toBe(0);
    await backend.server.revokeKey(id);
    const status = await a.run(['status']);
    expect(status.code).toBe(11);
    expect(status.stderr).toContain('it was revoked');
    expect(status.stderr).toContain(`The stored credentials in ${a.authFile} were kept.`);
    expect(readFileSync(a.authFile, 'utf8')).toBe(before);
    const again = await a.run(['login', '--with-key', '--json'], { input: key });
    expect(again.code).toBe(11);
    expect(again.json()).toMatchObject({ error: { code: 'key_revoked' } });
  });

  it('an expired key exits 11', async () => {
    const { key } = await backend.server.createKey({ expiresInDays: 0 });
    const a = machine('machine-expired');
    const run = await a.run(['login', '--with-key'], { input: key });
    expect(run.code).toBe(11);
    expect(run.stderr).toMatch(/^The API key was rejected: it expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.\n/);
  });

  it('a backend that is down exits 13 naming it, and a failed login keeps the working auth.json', async () => {
    const { key } = await backend.server.createKey();
    const a = machine('machine-down');
    expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const before = readFileSync(a.authFile, 'utf8');
    const down = NOTHING_LISTENS;
    const run = await a.run(['login', '--with-key', '--backend', down], { input: key });
    expect(run.code).toBe(13);
    expect(run.stderr).toContain(`Cannot reach the Sekuire backend at ${down}: connection refused`);
    expect(run.stderr).toContain('Check that it is running and that the URL is right');
    expect(readFileSync(a.authFile, 'utf8')).toBe(before);
  });

  it('a corrupt auth.json names the file and the fix, exit 15, no stack trace', async () => {
    const a = machine('machine-corrupt');
    mkdirSync(a.home, { mode: 0o700, recursive: true });
    writeFileSync(a.authFile, '{"api_key": ', { mode: 0o600 });
    const run = await a.run(['status']);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(a.authFile);
    expect(run.stderr).toContain('sekuire login');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('without a terminal, login without --with-key exits 2 at once naming it', async () => {
    const a = machine('machine-tty');
    const run = await a.run(['login']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--with-key');
    expect(existsSync(a.home)).toBe(false);
  });

  it('a key given as an argument is refused, pointing at --with-key, and never echoed', async () => {
    const { key } = await backend.server.createKey();
    const a = machine('machine-argv');
    const run = await a.run(['login', key]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--with-key');
    expect(run.stderr + run.stdout).not.toContain(key);
    expect(existsSync(a.home)).toBe(false);
  });
});

describe('device binding', () => {
  it('catches a copied auth.json locally, refuses a second device, moves with --rebind once approved', async () => {
    await backend.server.createUser('mover@example.com');
    const { key, id } = await backend.server.createKey({ email: 'mover@example.com' });
    const a = machine('machine-one');
    const b = machine('machine-two');
    expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);

    mkdirSync(b.home, { recursive: true, mode: 0o700 });
    copyFileSync(a.authFile, b.authFile);
    const copied = await b.run(['status']);
    expect(copied.code).toBe(12);
    expect(copied.stderr).toContain("Run 'sekuire login'");

    const refused = await b.run(['login', '--with-key'], { input: key });
    expect(refused.code).toBe(12);
    expect(refused.stderr).toContain('--rebind');
    expect(refused.stderr).toContain('Nothing was saved.');

    // The move waits for a person: the key's owner approves it through the API.
    const moving = b.run(['login', '--with-key', '--rebind'], { input: key, context: { sleep: quickSleep } });
    const owner = await MoveApprover.signIn(backend.server.url, 'mover@example.com');
    const move = await owner.waitFor(id);
    expect((await a.run(['status'])).code).toBe(0);
    expect((await owner.decide(move.id, 'approve')).status).toBe(200);
    const moved = await moving;
    expect(moved.code).toBe(0);
    expect(moved.stderr).toContain(`2. Check that the page shows the code: ${move.user_code}\n`);
    expect(moved.stderr).toContain('Move approved.\n');
    expect(moved.stdout).toContain('Login successful!');
    expect((await b.run(['status'])).code).toBe(0);

    const old = await a.run(['status']);
    expect(old.code).toBe(12);
    expect(old.stderr).toContain('bound to another device');

    // Logging out on the old device removes its file but must not unbind the new one.
    const logoutOld = await a.run(['logout']);
    expect(logoutOld.code).toBe(0);
    expect(logoutOld.stderr).toContain('could not be unbound');
    expect(existsSync(a.authFile)).toBe(false);
    expect((await b.run(['status'])).code).toBe(0);

    const events = (await backend.server.audit(id)) as { event: string }[];
    expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'move_request', 'move']);
  });

  it('logout removes the file even when the backend is down, and says it could not unbind', async () => {
    const { key } = await backend.server.createKey();
    const a = machine('machine-offline-logout');
    expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const stored = JSON.parse(readFileSync(a.authFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(a.authFile, JSON.stringify({ ...stored, backend: NOTHING_LISTENS }), {
      mode: 0o600,
    });
    const run = await a.run(['logout']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('could not be unbound on the backend');
    expect(run.lines()).toEqual(['Logged out successfully!', `Credentials removed from: ${a.authFile}`]);
    expect(existsSync(a.authFile)).toBe(false);
  });

  it('logout with nothing stored exits 0 and says so', async () => {
    const a = machine('machine-nothing');
    const run = await a.run(['logout']);
    expect(run.code).toBe(0);
    expect(run.lines()).toEqual(['Not logged in: nothing to remove.', `No credentials at: ${a.authFile}`]);
  });
});

function flipLast(key: string): string {
  const last = key.at(-1) === 'a' ? 'b' : 'a';
  return `${key.slice(0, -1)}${last}`;
}
