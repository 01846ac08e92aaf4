// Device proof through the CLI: copied logins refused even on the same machine, one clock correction, moves decided by a person.
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Context } from '../../packages/cli/src/cli/context.js';
import { ensureDeviceKey } from '../../packages/cli/src/core/device-key.js';
import { useBackend } from '../helpers/backend.js';
import { machineIdFor, type TestMachine } from '../helpers/context.js';
import { json } from '../helpers/fake-backend.js';
import { MoveApprover, quickSleep } from '../helpers/moves.js';
import { rawSql } from '../helpers/raw-sql.js';

const backend = useBackend();

async function loggedIn(m: TestMachine, key: string): Promise<void> {
  const run = await m.run(['login', '--with-key'], { input: key });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
}

function storedLogin(m: TestMachine): Record<string, unknown> {
  return JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, unknown>;
}

/** auth.json of `from` placed in `to`'s home, optionally edited on the way. */
function copyLogin(from: TestMachine, to: TestMachine, edit: Record<string, unknown> = {}): void {
  mkdirSync(to.home, { recursive: true, mode: 0o700 });
  copyFileSync(from.authFile, to.authFile);
  if (Object.keys(edit).length > 0) {
    writeFileSync(to.authFile, JSON.stringify({ ...storedLogin(from), ...edit }), { mode: 0o600 });
  }
}

/** A context whose proofs are dated by a clock `offsetMs` away from the real one. */
function skewed(m: TestMachine, offsetMs: number): Partial<Context> {
  const { ctx } = m.context();
  return { connect: (options) => ctx.connect({ ...options, wallClock: () => Date.now() + offsetMs }) };
}

describe('a copied auth.json is useless without device-key.json', () => {
  it('in another home on the same machine (so the fingerprint matches): refused locally, and by the backend', async () => {
    const { key } = await backend.server.createKey();
    const box = machineIdFor('shared-box');
    const a = backend.machine('proof-owner', {}, box);
    const b = backend.machine('proof-copy', {}, box);
    await loggedIn(a, key);
    expect(storedLogin(a).device_key).toMatch(/^[A-Za-z0-9_-]{43}$/);

    copyLogin(a, b);
    const local = await b.run(['status']);
    expect(local.code).toBe(12);
    expect(local.stderr).toContain(
      `The credentials in ${b.authFile} were bound with a device key this machine does not hold (there is no device-key.json).`,
    );

    // With the local check edited away, the backend refuses: no device key here, so no proof.
    copyLogin(a, b, { device_key: '' });
    const unsigned = await b.run(['status', '--json']);
    expect(unsigned.code).toBe(12);
    expect(unsigned.json<{ error: { code: string } }>().error.code).toBe('proof_required');

    // And with a device key of its own, its proof is not the binding's.
    ensureDeviceKey(b.home);
    const wrongKey = await b.run(['auth', 'whoami']);
    expect(wrongKey.code).toBe(12);
    expect(wrongKey.stderr).toContain(
      "The backend refused this device's proof (invalid_proof): the key is bound to a device key this machine does not hold.",
    );
    expect(wrongKey.stderr).toContain("run 'sekuire login --rebind' and approve the move in the browser");

    // A login from the copy is not a move either: same fingerprint, another device key.
    const relogin = await b.run(['login', '--with-key'], { input: key });
    expect(relogin.code).toBe(12);
    expect(relogin.stderr).toContain('bound to this machine, but to another device key');

    // The real device goes on working.
    expect((await a.run(['status'])).code).toBe(0);
  });
});

describe('clock skew', () => {
  it('a clock 10 minutes slow is corrected once from the server time, and the command succeeds', async () => {
    const { key, id } = await backend.server.createKey();
    const a = backend.machine('proof-slow-clock');
    await loggedIn(a, key);
    const run = await a.run(['status'], { context: skewed(a, -600_000) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const refused = (
      (await backend.server.audit(id)) as { event: string; detail: { code?: string } }[]
    ).filter((event) => event.event === 'proof_refused');
    expect(refused.map((event) => event.detail.code)).toEqual(['proof_stale']);
  });

  it('a backend that keeps saying proof_stale: one correction, then exit 12 saying the clock is off', async () => {
    const fake = await backend.fake(
      json(401, { error: 'proof_stale', message: 'too old', server_time: new Date().toISOString() }),
    );
    const m = backend.machine('proof-stale-fake', { SEKUIRE_BACKEND_URL: fake.url });
    ensureDeviceKey(m.home);
    const { key } = await backend.server.createKey();
    const run = await m.run(['status'], { env: { SEKUIRE_API_KEY: key } });
    expect(run.code).toBe(12);
    expect(run.stderr).toContain("this machine's clock is off");
    expect(fake.requests).toHaveLength(2);
    for (const request of fake.requests) expect(request.headers['signature-input']).toMatch(/^sekuire=/);
  });
});

describe('moving a key', () => {
  async function boundElsewhere(tag: string) {
    const email = `${tag}@example.com`;
    await backend.server.createUser(email);
    const { key, id } = await backend.server.createKey({ email });
    const a = backend.machine(`${tag}-old`);
    await loggedIn(a, key);
    return {
      key,
      id,
      a,
      b: backend.machine(`${tag}-new`),
      owner: await MoveApprover.signIn(backend.server.url, email),
    };
  }

  it('denied: exit 14, nothing saved, the old device keeps the key', async () => {
    const { key, id, a, b, owner } = await boundElsewhere('move-deny');
    const moving = b.run(['login', '--with-key', '--rebind'], { input: key, context: { sleep: quickSleep } });
    const move = await owner.waitFor(id);
    expect((await owner.decide(move.id, 'deny')).status).toBe(200);
    const run = await moving;
    expect(run.code).toBe(14);
    expect(run.stderr).toContain(
      'The move was denied. The key stays bound to the other device; nothing was saved.',
    );
    expect(() => readFileSync(b.authFile)).toThrow();
    expect((await a.run(['status'])).code).toBe(0);
  });

  it('L1: another device asking for the key too leaves this request pending, and the CLI says so', async () => {
    const { key, id, b, owner } = await boundElsewhere('move-both');
    const moving = b.run(['login', '--with-key', '--rebind'], { input: key, context: { sleep: quickSleep } });
    const first = await owner.waitFor(id);
    const c = backend.machine('move-both-third');
    const third = c.run(['login', '--with-key', '--rebind'], { input: key, context: { sleep: quickSleep } });
    for (;;) {
      const both = (await owner.pending()).filter((move) => move.key.id === id);
      if (both.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Both requests are recorded: the first device's next recorded poll counts the other one.
    const bothRecorded = new Date().toISOString();
    const sql = rawSql(backend.server.dbPath);
    try {
      for (;;) {
        const row = await sql.get<{ last_polled_at: string | null }>(
          'SELECT last_polled_at FROM device_moves WHERE id = ?',
          [first.id],
        );
        if (row?.last_polled_at != null && row.last_polled_at > bothRecorded) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await sql.close();
    }
    for (const move of (await owner.pending()).filter((pending) => pending.key.id === id)) {
      expect((await owner.decide(move.id, 'deny')).status).toBe(200);
    }
    const run = await moving;
    expect(run.code).toBe(14);
    expect(run.stderr.split('\n').filter((line) => line.startsWith('Another device asked'))).toEqual([
      'Another device asked to take this key too. Whoever approves sees both requests; if the other one is not yours, tell them: someone else may hold this key.',
    ]);
    expect((await third).code).toBe(14);
  });

  it('expired before anyone decided: exit 13 saying so', async () => {
    const { key, id, b } = await boundElsewhere('move-expire');
    const moving = b.run(['login', '--with-key', '--rebind'], { input: key, context: { sleep: quickSleep } });
    const owner = await MoveApprover.signIn(backend.server.url, 'move-expire@example.com');
    const move = await owner.waitFor(id);
    const sql = rawSql(backend.server.dbPath);
    try {
      await sql.run('UPDATE device_moves SET expires_at = ? WHERE id = ?', [
        '2000-01-01T00:00:00.000Z',
        move.id,
      ]);
    } finally {
      await sql.close();
    }
    const run = await moving;
    expect(run.code).toBe(13);
    expect(run.stderr).toContain('The move expired before it was approved.');
    expect(() => readFileSync(b.authFile)).toThrow();
  });

  it('--timeout passed first: exit 13 naming --timeout', async () => {
    const { key, b } = await boundElsewhere('move-timeout');
    const run = await b.run(['login', '--with-key', '--rebind', '--timeout', '0.3'], {
      input: key,
      context: { now: () => new Date(), sleep: quickSleep },
    });
    expect(run.code).toBe(13);
    expect(run.stderr).toContain('Nobody approved the move within 1 second (--timeout).');
  });

  it('logout on the old device frees the key: a plain login elsewhere binds it, no approval', async () => {
    const { key, id, a, b } = await boundElsewhere('move-logout');
    const out = await a.run(['logout', '--json']);
    expect(out.code).toBe(0);
    expect(out.json<{ unbound: boolean }>().unbound).toBe(true);
    await loggedIn(b, key);
    expect((await b.run(['status'])).code).toBe(0);
    const events = ((await backend.server.audit(id)) as { event: string }[]).map((event) => event.event);
    expect(events).toEqual(['create', 'bind', 'unbind', 'bind']);
  });
});

describe('keys that need no proof', () => {
  it('a server key works from any home, with or without a device key', async () => {
    const { key } = await backend.server.createKey({ type: 'server' });
    const bare = backend.machine('server-key-bare');
    const withKey = backend.machine('server-key-device');
    ensureDeviceKey(withKey.home);
    for (const m of [bare, withKey]) {
      const run = await m.run(['status'], { env: { SEKUIRE_API_KEY: key } });
      expect(run.code).toBe(0);
    }
  });

  it('a binding made before device proof keeps working, and the next login upgrades it', async () => {
    const { key, id } = await backend.server.createKey();
    const a = backend.machine('legacy');
    await loggedIn(a, key);
    // As an older version left it: a binding without a device key, auth.json without one.
    const sql = rawSql(backend.server.dbPath);
    try {
      await sql.run('UPDATE devices SET public_key = NULL, key_thumbprint = NULL WHERE key_id = ?', [id]);
      writeFileSync(a.authFile, JSON.stringify({ ...storedLogin(a), device_key: '' }), { mode: 0o600 });
      expect((await a.run(['status'])).code).toBe(0);

      expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);
      const thumbprint = storedLogin(a).device_key;
      expect(thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const row = await sql.get<{ key_thumbprint: string | null }>(
        'SELECT key_thumbprint FROM devices WHERE key_id = ? AND unbound_at IS NULL',
        [id],
      );
      expect(row?.key_thumbprint).toBe(thumbprint);
    } finally {
      await sql.close();
    }
    const events = ((await backend.server.audit(id)) as { event: string }[]).map((event) => event.event);
    expect(events).toEqual(['create', 'bind', 'device_key_added']);
    expect((await a.run(['status'])).code).toBe(0);
  });
});

describe('device-key.json', () => {
  it('is created 0600 by the first login and kept by logout', async () => {
    const { key } = await backend.server.createKey();
    const m = backend.machine('device-key-file');
    await loggedIn(m, key);
    const path = join(m.home, 'device-key.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const before = readFileSync(path, 'utf8');
    expect((await m.run(['logout'])).code).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });
});
