// Several sekuire-server instances on one PostgreSQL: revocations reach all, a dead one is no hostage, races agree.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, inject, it } from 'vitest';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { describeOnPostgres } from '../helpers/engines.js';
import { MoveApprover } from '../helpers/moves.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../helpers/server.js';
import { runServer } from '../helpers/server-commands.js';

const FP = { x: 'a'.repeat(64), y: 'b'.repeat(64), z: 'c'.repeat(64) };

/** Each fingerprint is a device with a device key of its own, and signs as the CLI does. */
const DEVICE_KEYS = new Map<string, DeviceKey>();
function deviceKey(fingerprint: string): DeviceKey {
  let key = DEVICE_KEYS.get(fingerprint);
  if (key === undefined) {
    key = memoryDeviceKey();
    DEVICE_KEYS.set(fingerprint, key);
  }
  return key;
}

function device(fingerprint: string) {
  return {
    fingerprint,
    name: `host-${fingerprint.slice(0, 2)}`,
    os: 'linux',
    os_version: 'Debian 12',
    arch: 'x64',
    public_key: deviceKey(fingerprint).publicJwk,
  };
}

function statusHeaders(key: string, fingerprint: string): Record<string, string> {
  return {
    'x-api-key': key,
    'x-sekuire-device': fingerprint,
    ...signed(deviceKey(fingerprint), 'GET', '/api/v1/cli/status', undefined),
  };
}

async function status(
  server: TestServer,
  key: string,
  fingerprint = FP.x,
  headers = statusHeaders(key, fingerprint),
): Promise<{ status: number; error?: string }> {
  const response = await fetch(`${server.url}/api/v1/cli/status`, { headers });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, ...(body.error !== undefined && { error: body.error }) };
}

async function login(server: TestServer, key: string, fingerprint: string, rebind = false) {
  const body = JSON.stringify({ device: device(fingerprint), rebind });
  const response = await fetch(`${server.url}/api/v1/cli/login`, {
    method: 'POST',
    headers: {
      'x-api-key': key,
      'content-type': 'application/json',
      ...signed(deviceKey(fingerprint), 'POST', '/api/v1/cli/login', body),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describeOnPostgres('two instances on one PostgreSQL', () => {
  let dir: string;
  let url: string;
  let secretFile: string;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    const cluster = inject('postgres');
    if (cluster === null) return;
    dir = mkdtempSync(join(tmpdir(), 'sekuire-instances-'));
    secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${'5e'.repeat(32)}\n`, { mode: 0o600 });
    url = await createDatabase(cluster.adminUrl);
  });
  afterAll(async () => {
    const cluster = inject('postgres');
    if (cluster !== null) await dropDatabase(cluster.adminUrl, url);
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const startBoth = async (args: string[] = []) => {
    [a, b] = await Promise.all([
      startServer({ database: url, secretFile, args }),
      startServer({ database: url, secretFile, args }),
    ]);
  };
  // A third party, as an operator's revoke-key is: its own connection, neither instance's.
  const revoke = async (id: string) => {
    const revoked = await runServer(['revoke-key', '--db', url, '--id', id]);
    expect(revoked.code).toBe(0);
    return revoked;
  };

  it('a revocation is refused by both instances on the very next request, every time', async () => {
    await startBoth();
    const rounds = 15;
    const misses: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const { key, id } = await a.createKey({ email: `u${round}@example.com` });
      expect((await login(a, key, FP.x)).status).toBe(200);
      // Both caches hold the key (twice each, so the second answer comes from memory).
      for (const server of [a, b, a, b]) expect((await status(server, key)).status).toBe(200);
      const revoked = await revoke(id);
      expect(revoked.stdout).toBe(`Revoked key ${id} (${key.slice(0, 11)}...${key.slice(-3)})\n`);
      expect(revoked.stderr).toBe('');
      for (const [name, server] of [
        ['A', a],
        ['B', b],
      ] as const) {
        const after = await status(server, key);
        if (after.status !== 401 || after.error !== 'key_revoked')
          misses.push(`round ${round}: ${name} said ${after.status}`);
      }
    }
    expect(misses).toEqual([]);
    // Fifteen rounds of a login, six requests and two commands each: on a busy machine that is
    // slow, and slowness is not what this test is about.
  }, 120_000);

  it('remove-user: the person is signed out of both instances and their key refused by both, at once', async () => {
    await startBoth();
    const email = 'leaving@example.com';
    await a.createUser(email);
    const { key } = await a.createKey({ email });
    expect((await login(a, key, FP.x)).status).toBe(200);
    const tokens: Record<string, string> = {};
    for (const [name, server] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const signIn = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: TEST_PASSWORD }),
      });
      expect(signIn.status).toBe(200);
      tokens[name] = ((await signIn.json()) as { access_token: string }).access_token;
      for (const other of [a, b]) expect((await status(other, key)).status).toBe(200);
    }
    const removed = await runServer(['remove-user', '--db', url, '--email', email]);
    expect(removed).toEqual({
      code: 0,
      stdout: `Removed ${email}: 2 sessions ended, 1 key revoked\n`,
      stderr: '',
    });
    const after: string[] = [];
    for (const [name, server] of [
      ['A', a],
      ['B', b],
    ] as const) {
      for (const token of Object.values(tokens)) {
        const me = await fetch(`${server.url}/api/v1/auth/me`, {
          headers: { authorization: `Bearer ${token}` },
        });
        after.push(`${name} me ${me.status}`);
      }
      const refused = await status(server, key);
      after.push(`${name} key ${refused.status} ${refused.error}`);
    }
    expect(after).toEqual([
      'A me 401',
      'A me 401',
      'A key 401 key_revoked',
      'B me 401',
      'B me 401',
      'B key 401 key_revoked',
    ]);
  });

  it('kill -9 of one instance: the other keeps serving, and revocations still return and apply', async () => {
    await startBoth();
    const { key, id } = await a.createKey();
    expect((await login(a, key, FP.x)).status).toBe(200);
    expect((await status(b, key)).status).toBe(200);
    await a.kill('SIGKILL');
    for (let i = 0; i < 5; i++) expect((await status(b, key)).status).toBe(200);
    const started = Date.now();
    // A's lease still runs for up to 3 s: revoke-key waits for it rather than trust a dead cache.
    await revoke(id);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await status(b, key)).toEqual({ status: 401, error: 'key_revoked' });
  });

  it('a rebind race split across the instances leaves one binding and an audit trail that agrees', async () => {
    // Instant moves (no approval), so that the two rebinds race in the database itself.
    await startBoth(['--allow-self-rebind']);
    const { key, id } = await a.createKey();
    expect((await login(a, key, FP.x)).status).toBe(200);
    const [viaA, viaB] = await Promise.all([login(a, key, FP.y, true), login(b, key, FP.z, true)]);
    expect([viaA.status, viaB.status]).toEqual([200, 200]);
    const events = (await a.audit(id)) as {
      event: string;
      fingerprint: string;
      detail: { from?: string; to?: string };
    }[];
    expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'move', 'move']);
    const [, bind, first, second] = events;
    // The moves form one chain: x -> (y or z) -> the other, and the last one is what holds.
    expect(first?.detail.from).toBe(bind?.fingerprint);
    expect(second?.detail.from).toBe(first?.detail.to);
    const winner = second?.detail.to as string;
    expect([FP.y, FP.z]).toContain(winner);
    for (const server of [a, b]) {
      expect((await status(server, key, winner)).status).toBe(200);
      for (const loser of [FP.x, FP.y, FP.z].filter((fingerprint) => fingerprint !== winner)) {
        expect((await status(server, key, loser)).status).toBe(409);
      }
    }
  });

  it('a signed request recorded on one instance is refused as a replay by the other (shared nonces)', async () => {
    await startBoth();
    const { key } = await a.createKey();
    expect((await login(a, key, FP.x)).status).toBe(200);
    const recorded = statusHeaders(key, FP.x);
    expect(await status(a, key, FP.x, recorded)).toEqual({ status: 200 });
    expect(await status(b, key, FP.x, recorded)).toEqual({ status: 401, error: 'proof_replayed' });
    expect(await status(a, key, FP.x, recorded)).toEqual({ status: 401, error: 'proof_replayed' });
    // The device itself goes on working on both, each request with a proof of its own.
    expect(await status(b, key)).toEqual({ status: 200 });
    expect(await status(a, key)).toEqual({ status: 200 });
  });

  it('moves requested on one instance are approved through the other, and both see the new binding', async () => {
    await startBoth();
    await a.createUser('owner@example.com');
    const { key, id } = await a.createKey({ email: 'owner@example.com' });
    expect((await login(a, key, FP.x)).status).toBe(200);
    const asked = await login(b, key, FP.y, true);
    expect(asked.status).toBe(202);
    const move = (asked.body as { move: { id: string } }).move;
    const owner = await MoveApprover.signIn(a.url, 'owner@example.com');
    expect((await owner.decide(move.id, 'approve')).status).toBe(200);
    for (const server of [a, b]) {
      expect(await status(server, key, FP.x)).toEqual({ status: 409, error: 'device_mismatch' });
      expect(await status(server, key, FP.y)).toEqual({ status: 200 });
    }
    const events = (await a.audit(id)) as { event: string }[];
    expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'move_request', 'move']);
  });

  it('two first logins racing from two devices: exactly one binds, the other is told where', async () => {
    await startBoth();
    const { key, id } = await a.createKey();
    const [viaA, viaB] = await Promise.all([login(a, key, FP.y), login(b, key, FP.z)]);
    expect([viaA.status, viaB.status].sort()).toEqual([200, 409]);
    const events = (await a.audit(id)) as { event: string }[];
    expect(events.map((event) => event.event)).toEqual(['create', 'bind']);
  });
});
