// logout removes only what is ours, leaves no copy of the key behind, and tells a revoked key apart.
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { NOBODY } from '../helpers/worker.js';

const backend = useBackend();
const machine = (name: string, env: Record<string, string> = {}): TestMachine => backend.machine(name, env);

async function loggedIn(name: string): Promise<{ m: TestMachine; key: string; id: string }> {
  const { key, id } = await backend.server.createKey();
  const m = machine(name);
  expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
  return { m, key, id };
}

describe('logout', () => {
  it('refuses a symlinked SEKUIRE_HOME, as status does, and removes nothing through it', async () => {
    const { m } = await loggedIn('symlinked');
    const elsewhere = join(m.dir, 'elsewhere');
    renameSync(m.home, elsewhere);
    symlinkSync(elsewhere, m.home);
    const status = await m.run(['status']);
    const logout = await m.run(['logout', '--json']);
    expect([status.code, logout.code]).toEqual([15, 15]);
    expect(logout.json()).toMatchObject({ error: { code: 'credentials_symlink', path: m.home } });
    expect(existsSync(join(elsewhere, 'auth.json'))).toBe(true);
  });

  it("refuses a directory of another user (as root, too): that user's file stays", async () => {
    const m = machine('foreign');
    mkdirSync(m.home, { mode: 0o700 });
    writeFileSync(m.authFile, '{"theirs": true}', { mode: 0o600 });
    chownSync(m.home, NOBODY, NOBODY);
    chownSync(m.authFile, NOBODY, NOBODY);
    const run = await m.run(['logout']);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(`${m.home} belongs to another user (uid ${NOBODY}).`);
    expect(readFileSync(m.authFile, 'utf8')).toBe('{"theirs": true}');
  });

  it('removes temp files a killed login left, which hold the key', async () => {
    const { m, key } = await loggedIn('stale');
    const temps = ['.auth.json.999999999.0a1b2c3d4e5f.tmp', `.auth.json.${process.ppid}.0a1b2c3d4e5f.tmp`];
    for (const name of temps) writeFileSync(join(m.home, name), `{"api_key": "${key}"}`, { mode: 0o600 });
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(m.home, temps[1] as string), hourAgo, hourAgo);
    expect((await m.run(['logout'])).code).toBe(0);
    // The device key stays: it is this device's identity, not a credential of the key.
    expect(readdirSync(m.home)).toEqual(['device-key.json']);
  });

  it('after a revocation: says the key is no longer accepted, not that it stays valid', async () => {
    const { m, id } = await loggedIn('revoked');
    await backend.server.revokeKey(id);
    const run = await m.run(['logout']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      'Logging out...\nNote: the backend no longer accepts the key: it was revoked, so there was no binding to remove.\n',
    );
    expect(run.lines()).toEqual(['Logged out successfully!', `Credentials removed from: ${m.authFile}`]);
  });

  it('a settings typo stops it before anything is removed', async () => {
    const { m } = await loggedIn('typo');
    const run = await m.run(['logout'], { env: { SEKUIRE_TIMEOUT: 'soon' } });
    expect(run.code).toBe(2);
    expect(existsSync(m.authFile)).toBe(true);
  });
});
