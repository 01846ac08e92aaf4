// The warning before a key expires: on stderr only, with the date and the fix; 14 days at most twice a day, 24 hours every run.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { json } from '../helpers/fake-backend.js';

const backend = useBackend();
const HOUR = 3_600_000;

/** Runs a command with the machine's clock `offsetMs` after the real time (the server's clock). */
function at(m: TestMachine, offsetMs: number) {
  const now = () => new Date(Date.now() + offsetMs);
  return (args: string[], input?: string) =>
    m.run(args, { context: { now }, ...(input !== undefined && { input }) });
}

function warningOf(stderr: string): string | undefined {
  return stderr.split('\n').find((line) => line.startsWith('Warning: the API key'));
}

describe('expiry warnings', () => {
  it('within 14 days: login warns, then at most once per 12 hours per key; never on stdout', async () => {
    const { key } = await backend.server.createKey({ expiresInDays: 5 });
    const m = backend.machine('expires-soon');
    const login = await at(m, 0)(['login', '--with-key'], key);
    expect(login.code).toBe(0);
    const stored = JSON.parse(readFileSync(m.authFile, 'utf8')) as { expires_at: string };
    const day = stored.expires_at.slice(0, 10);
    const warning = warningOf(login.stderr);
    expect(warning).toMatch(
      new RegExp(
        `^Warning: the API key sk_test_\\w{3}\\.\\.\\.\\w{3} expires in [45] days, at ${day} \\d\\d:\\d\\d UTC\\. Create a new key on the dashboard, then run 'sekuire login' with it\\.$`,
      ),
    );
    expect(login.stdout).not.toContain('Warning');
    expect(statSync(join(m.home, 'expiry-warned.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(m.home, 'expiry-warned.json'), 'utf8')).not.toContain(key);

    // The warning at login was the one of the next 12 hours.
    const soon = await at(m, HOUR)(['status']);
    expect([soon.code, warningOf(soon.stderr)]).toEqual([0, undefined]);
    const whoami = await at(m, 11 * HOUR)(['auth', 'whoami']);
    expect([whoami.code, warningOf(whoami.stderr)]).toEqual([0, undefined]);
    const later = await at(m, 13 * HOUR)(['status', '--json']);
    expect(later.code).toBe(0);
    expect(warningOf(later.stderr)).toMatch(/^Warning: the API key .* expires in 4 days, at /);
    expect(later.json()).toMatchObject({ expires_at: stored.expires_at });
    const again = await at(m, 14 * HOUR)(['auth', 'whoami']);
    expect(warningOf(again.stderr)).toBeUndefined();
    // sekuire api warns as whoami does, from the date stored at login, under the same throttle.
    const viaApi = await at(m, 26 * HOUR)(['api', '/api/v1/cli/whoami']);
    expect(viaApi.code).toBe(0);
    expect(warningOf(viaApi.stderr)).toMatch(
      /^Warning: the API key .* expires in [34] days, at .*'sekuire login' with it\.$/,
    );
    expect(viaApi.stdout).not.toContain('Warning');
    const apiAgain = await at(m, 27 * HOUR)(['api', '/api/v1/cli/whoami']);
    expect([apiAgain.code, warningOf(apiAgain.stderr)]).toEqual([0, undefined]);
  });

  it('within 24 hours: every run, naming the profile to log in again', async () => {
    const { key } = await backend.server.createKey({ expiresInDays: 1 });
    const m = backend.machine('expires-today');
    expect((await at(m, 0)(['login', '--with-key', '--profile', 'ops'], key)).code).toBe(0);
    for (const args of [
      ['status', '--profile', 'ops'],
      ['status', '--profile', 'ops', '--offline'],
      ['whoami', '--profile', 'ops'],
      ['api', '--profile', 'ops', '/api/v1/cli/status'],
    ]) {
      const run = await at(m, 20 * HOUR)(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).not.toContain('Warning');
      expect(warningOf(run.stderr), args.join(' ')).toMatch(
        /^Warning: the API key .* expires in (3|4) hours, at .* UTC\. Create a new key on the dashboard, then run 'sekuire login --profile ops' with it\.$/,
      );
    }
  });

  it('a key that never expires, or expires in more than 14 days: no warning, expires_at null or the date', async () => {
    const never = await backend.server.createKey();
    const m = backend.machine('expires-never');
    const login = await at(m, 0)(['login', '--with-key', '--json'], never.key);
    expect(login.json()).toMatchObject({ expires_at: null });
    expect(warningOf(login.stderr)).toBeUndefined();
    const status = await at(m, 0)(['status', '--json']);
    expect(status.json()).toMatchObject({ expires_at: null });
    const far = await backend.server.createKey({ expiresInDays: 30 });
    const run = await at(m, 0)(['login', '--with-key'], far.key);
    expect(warningOf(run.stderr)).toBeUndefined();
    expect(existsSync(join(m.home, 'expiry-warned.json'))).toBe(false);
  });

  it('an expired key is refused naming the date it expired', async () => {
    // The server's clock is the real one: a key that expires at once is an expired key.
    const gone = await backend.server.createKey({ expiresInDays: 0 });
    const m = backend.machine('expired');
    const refused = await m.run(['status', '--json'], { env: { SEKUIRE_API_KEY: gone.key } });
    expect(refused.code).toBe(11);
    const error = refused.json<{ error: { code: string; message: string; expires_at: string } }>().error;
    expect(error.code).toBe('key_expired');
    expect(error.message).toBe(
      `The API key was rejected: it expired on ${error.expires_at.slice(0, 16).replace('T', ' ')} UTC.`,
    );
    const human = await m.run(['auth', 'whoami'], { env: { SEKUIRE_API_KEY: gone.key } });
    expect(human.code).toBe(11);
    expect(human.stderr).toBe(
      `${error.message}\nCreate a new key on the dashboard, then run 'sekuire login'\n`,
    );

    // A named profile's key: the login that replaces it is into that profile.
    const { key } = await backend.server.createKey({ expiresInDays: 3 });
    expect((await m.run(['login', '--with-key', '--profile', 'ops'], { input: key })).code).toBe(0);
    const expiresAt = '2026-12-06T23:28:00.000Z';
    const expired = await backend.fake(
      json(401, { error: 'key_expired', message: 'This API key expired.', expires_at: expiresAt }),
    );
    for (const args of [['status'], ['whoami']]) {
      const run = await m.run([...args, '--profile', 'ops', '--backend', expired.url]);
      expect(run.code, args.join(' ')).toBe(11);
      expect(run.stderr, args.join(' ')).toBe(
        `The API key was rejected: it expired on 2026-12-06 23:28 UTC. The stored credentials in ${join(m.home, 'profiles', 'ops', 'auth.json')} were kept.\nCreate a new key on the dashboard, then run 'sekuire login --profile ops'\n`,
      );
    }
  });
});
