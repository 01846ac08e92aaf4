// Moving a key to another device: the 202 move, polling it, approving or denying (API and /move page), superseding, freed keys.
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { unbindKey } from '../../packages/server/src/domain/devices.js';
import { decideMove } from '../../packages/server/src/domain/moves.js';
import { memoryDeviceKey } from '../helpers/device-keys.js';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import {
  deviceBody,
  FP_A,
  FP_B,
  FP_C,
  type Harness,
  type HarnessOptions,
  harness,
  PASSWORD,
  T0,
} from './harness.js';

const MOVE_GRANT = 'urn:sekuire:move';
const STATUS = '/api/v1/cli/status';
const AT0 = T0.toISOString();
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const FIFTEEN_MINUTES = 15 * 60_000;

const PENDING = {
  error: 'authorization_pending',
  message: 'The move is not approved yet: keep polling at the interval.',
};
const SLOW_DOWN = {
  error: 'slow_down',
  message: 'Polling too fast: wait 5 seconds longer between requests from now on.',
};
const DENIED = { error: 'access_denied', message: 'The move was denied.' };
const EXPIRED = { error: 'expired_token', message: 'The move expired before it was approved.' };
const NO_SUCH_MOVE = { error: 'invalid_grant', message: 'No such move for this key.' };
const NOT_FOUND = { error: 'not_found', message: 'No such move.' };
const ALREADY_DECIDED = { error: 'move_not_pending', message: 'This move was already decided.' };
const EXPIRED_DECISION = { error: 'move_not_pending', message: 'This move expired before it was decided.' };

interface MoveAnswer {
  readonly id: string;
  readonly user_code: string;
  readonly verification_uri: string;
  readonly verification_uri_complete: string;
  readonly expires_in: number;
  readonly interval: number;
}

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  /**
   * Ada (who can sign in) owns a key named "build laptop", bound to FP_A; `organization` puts the
   * key in a shared organization (Ada its owner) instead of her own.
   */
  async function setup(options: HarnessOptions & { organization?: string } = {}) {
    const { organization, ...harnessOptions } = options;
    h = await harness({ engine, ...harnessOptions });
    const created = await h.createKey({
      email: 'ada@example.com',
      keyName: 'build laptop',
      ...(organization !== undefined && { organization }),
    });
    await h.createUser({ email: 'ada@example.com' });
    const login = await h.login(created.apiKey.value, FP_A);
    expect(login.statusCode).toBe(200);
    return {
      key: created.apiKey.value,
      keyId: created.key.id,
      masked: created.apiKey.masked,
      user: created.user,
      deviceA: login.json().device.id as string,
    };
  }

  /** FP's device asks for the key (`sekuire login --rebind`): the move it is answered with. */
  async function rebind(key: string, fingerprint: string): Promise<MoveAnswer> {
    const asked = await h.login(key, fingerprint, { rebind: true });
    expect(asked.statusCode).toBe(202);
    return asked.json().move;
  }

  /** The new device's poll, signed by `signer` (FP's device key unless given; unsigned if null). */
  function poll(key: string, moveId: string, fingerprint: string, signer?: DeviceKey | null) {
    const device = signer === undefined ? h.deviceKey(fingerprint) : signer;
    return h.post(
      '/api/v1/cli/token',
      { grant_type: MOVE_GRANT, move_id: moveId },
      {
        headers: { 'x-api-key': key, 'x-sekuire-device': fingerprint },
        ...(device !== null && { device }),
      },
    );
  }

  /** Signed in through the API: a caller with that person's access token. */
  async function bearer(email: string) {
    const signIn = await h.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: PASSWORD },
    });
    expect(signIn.statusCode).toBe(200);
    const token = signIn.json().access_token as string;
    return (method: 'GET' | 'POST' | 'DELETE', url: string) =>
      h.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
  }

  /** A signed-in browser (through the sign-in form). */
  async function browser(email: string) {
    const session = formSession(h);
    expect((await session.signIn(email)).statusCode).toBe(303);
    return session;
  }

  const auditOf = async (keyId: string, event: string) =>
    (await h.store.read.audit.list(keyId)).filter((entry) => entry.event === event);

  describe('asking for a move', () => {
    it('a rebind from another device -> 202 with the move; audited; the bound device keeps working', async () => {
      const { key, keyId, deviceA } = await setup();
      h.advance(1_000);
      const asked = await h.login(key, FP_B, { rebind: true });
      expect(asked.statusCode).toBe(202);
      expect(asked.headers['cache-control']).toBe('no-store');
      const move = asked.json().move as MoveAnswer;
      expect(asked.json()).toEqual({
        move: {
          id: expect.stringMatching(/^move_[0-9A-Za-z]{16}$/),
          user_code: expect.stringMatching(USER_CODE),
          verification_uri: 'http://localhost:80/move',
          verification_uri_complete: `http://localhost:80/move?code=${move.user_code}`,
          expires_in: 900,
          interval: 5,
          from_device: { name: 'host-aaaa', os: 'linux', bound_at: AT0 },
        },
      });
      expect(move.verification_uri).toMatch(/\/move$/);
      expect(await h.sql.all('SELECT * FROM device_moves')).toEqual([
        {
          id: move.id,
          key_id: keyId,
          user_code: move.user_code,
          from_device_id: deviceA,
          fingerprint: FP_B,
          device_name: 'host-bbbb',
          device_os: 'linux',
          os_version: 'Debian 12',
          arch: 'x64',
          public_key: JSON.stringify(h.deviceKey(FP_B).publicJwk),
          key_thumbprint: h.deviceKey(FP_B).thumbprint,
          requested_ip: '127.0.0.1',
          created_at: at(1_000),
          expires_at: at(1_000 + FIFTEEN_MINUTES),
          interval_seconds: 5,
          last_polled_at: null,
          decided_by: null,
          approved_at: null,
          denied_at: null,
          device_id: null,
        },
      ]);
      expect(await auditOf(keyId, 'move_request')).toEqual([
        {
          id: expect.any(Number),
          at: at(1_000),
          event: 'move_request',
          key_id: keyId,
          fingerprint: FP_B,
          device_name: 'host-bbbb',
          client_ip: '127.0.0.1',
          actor_user_id: null,
          detail: { move_id: move.id, from_device_id: deviceA, from_device: 'host-aaaa', os: 'linux' },
        },
      ]);
      // Nothing moves until someone approves.
      expect((await h.store.read.devices.active(keyId))?.id).toBe(deviceA);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      expect((await h.get(STATUS, key, FP_B)).statusCode).toBe(409);
    });

    it('a rebind without a device key or signed by another key asks for nothing', async () => {
      const { key } = await setup();
      const unsigned = await h.post('/api/v1/cli/login', deviceBody(FP_B, { rebind: true }), {
        headers: { 'x-api-key': key },
      });
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json().error).toBe('proof_required');
      const body = deviceBody(FP_B, { rebind: true });
      const forged = await h.post(
        '/api/v1/cli/login',
        { ...body, device: { ...body.device, public_key: h.deviceKey(FP_B).publicJwk } },
        { device: memoryDeviceKey(), headers: { 'x-api-key': key } },
      );
      expect(forged.statusCode).toBe(401);
      expect(forged.json().error).toBe('invalid_proof');
      expect(await h.sql.all('SELECT id FROM device_moves')).toEqual([]);
    });

    it('the owner sees the pending move in GET /api/v1/moves and GET /api/v1/moves/:id', async () => {
      const { key, keyId, masked, deviceA } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await bearer('ada@example.com');
      const expected = {
        id: move.id,
        user_code: move.user_code,
        status: 'pending',
        key: { id: keyId, name: 'build laptop', masked },
        bound_device: { id: deviceA, name: 'host-aaaa', os: 'linux', bound_at: AT0, last_seen_at: AT0 },
        to_device: {
          name: 'host-bbbb',
          os: 'linux',
          os_version: 'Debian 12',
          arch: 'x64',
          fingerprint_prefix: FP_B.slice(0, 12),
          requested_ip: '127.0.0.1',
        },
        created_at: AT0,
        expires_at: at(FIFTEEN_MINUTES),
        decided_at: null,
      };
      const list = await ada('GET', '/api/v1/moves');
      expect(list.statusCode).toBe(200);
      expect(list.json()).toEqual({ moves: [{ ...expected, another_device_asked: false }] });
      const one = await ada('GET', `/api/v1/moves/${move.id}`);
      expect(one.statusCode).toBe(200);
      expect(one.json()).toEqual(expected);
      expect((await ada('GET', '/api/v1/moves/move_0000000000000000')).json()).toEqual(NOT_FOUND);
    });

    it('with allowSelfRebind the rebind is 200 at once, as before device proof', async () => {
      const { key, keyId } = await setup({ allowSelfRebind: true });
      const moved = await h.login(key, FP_B, { rebind: true });
      expect(moved.statusCode).toBe(200);
      expect(moved.json().device).toMatchObject({
        fingerprint: FP_B,
        rebound: true,
        key_thumbprint: h.deviceKey(FP_B).thumbprint,
      });
      expect(await h.sql.all('SELECT id FROM device_moves')).toEqual([]);
      expect((await auditOf(keyId, 'move'))[0]?.detail).toMatchObject({ approved_by: 'self-rebind' });
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(409);
      expect((await h.get(STATUS, key, FP_B)).statusCode).toBe(200);
    });
  });

  describe('polling for the move', () => {
    it('authorization_pending, then slow_down when polled again within the interval', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const first = await poll(key, move.id, FP_B);
      expect(first.statusCode).toBe(400);
      expect(first.json()).toEqual(PENDING);
      h.advance(1_000);
      const tooSoon = await poll(key, move.id, FP_B);
      expect(tooSoon.statusCode).toBe(400);
      expect(tooSoon.json()).toEqual(SLOW_DOWN);
      // Early polls are not recorded: nothing is written, and the interval runs from the last
      // poll on time.
      const row = () =>
        h.sql.get('SELECT last_polled_at, interval_seconds FROM device_moves WHERE id = ?', [move.id]);
      const recorded = await row();
      expect(recorded).toEqual({
        last_polled_at: new Date(h.now().getTime() - 1_000).toISOString(),
        interval_seconds: 5,
      });
      for (let i = 0; i < 30; i++) {
        h.advance(100);
        expect((await poll(key, move.id, FP_B)).json()).toEqual(SLOW_DOWN);
      }
      expect(await row()).toEqual(recorded);
      h.advance(1_000);
      expect((await poll(key, move.id, FP_B)).json()).toEqual(PENDING);
      expect(await row()).toEqual({ last_polled_at: h.now().toISOString(), interval_seconds: 5 });
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    it('access_denied once the move is denied (audited as move_deny); the key stays where it was', async () => {
      const { key, keyId, user } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await bearer('ada@example.com');
      h.advance(2_000);
      const denied = await ada('POST', `/api/v1/moves/${move.id}/deny`);
      expect(denied.statusCode).toBe(200);
      expect(denied.json()).toMatchObject({ id: move.id, status: 'denied', decided_at: at(2_000) });
      const polled = await poll(key, move.id, FP_B);
      expect(polled.statusCode).toBe(400);
      expect(polled.json()).toEqual(DENIED);
      expect(await auditOf(keyId, 'move_deny')).toEqual([
        {
          id: expect.any(Number),
          at: at(2_000),
          event: 'move_deny',
          key_id: keyId,
          fingerprint: FP_B,
          device_name: 'host-bbbb',
          client_ip: '127.0.0.1',
          actor_user_id: user.id,
          detail: { move_id: move.id, requested_ip: '127.0.0.1' },
        },
      ]);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(200);
      expect((await h.get(STATUS, key, FP_B)).statusCode).toBe(409);
      expect((await ada('GET', '/api/v1/moves')).json()).toEqual({ moves: [] });
    });

    it('expired_token after 15 minutes', async () => {
      const { key } = await setup();
      const move = await rebind(key, FP_B);
      h.advance(FIFTEEN_MINUTES - 1);
      expect((await poll(key, move.id, FP_B)).json()).toEqual(PENDING);
      h.advance(1);
      const expired = await poll(key, move.id, FP_B);
      expect(expired.statusCode).toBe(400);
      expect(expired.json()).toEqual(EXPIRED);
      expect((await (await bearer('ada@example.com'))('GET', '/api/v1/moves')).json()).toEqual({ moves: [] });
    });

    it('invalid_grant for an unknown move, and for a move of another key', async () => {
      const { key } = await setup();
      const unknown = await poll(key, 'move_0000000000000000', FP_B);
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json()).toEqual(NO_SUCH_MOVE);
      const other = await h.createKey({ email: 'bob@example.com' });
      expect((await h.login(other.apiKey.value, FP_C)).statusCode).toBe(200);
      const othersMove = await rebind(other.apiKey.value, FP_B);
      const crossed = await poll(key, othersMove.id, FP_B);
      expect(crossed.statusCode).toBe(400);
      expect(crossed.json()).toEqual(NO_SUCH_MOVE);
      // The key it belongs to polls it fine.
      expect((await poll(other.apiKey.value, othersMove.id, FP_B)).json()).toEqual(PENDING);
    });

    it("must be signed by the move's device key: A's key or no proof -> 401", async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const byA = await poll(key, move.id, FP_B, h.deviceKey(FP_A));
      expect(byA.statusCode).toBe(401);
      expect(byA.json()).toEqual({
        error: 'invalid_proof',
        message: 'The device proof is signed by a key this binding does not hold.',
      });
      const unsigned = await poll(key, move.id, FP_B, null);
      expect(unsigned.statusCode).toBe(401);
      expect(unsigned.json().error).toBe('proof_required');
      // Neither counted as a poll: the signed one right after is not told to slow down.
      expect((await poll(key, move.id, FP_B)).json()).toEqual(PENDING);
      expect((await auditOf(keyId, 'proof_refused')).map((event) => event.detail?.code)).toEqual([
        'invalid_proof',
        'proof_required',
      ]);
    });

    it('needs the key itself: no key -> 401 invalid_key', async () => {
      const { key } = await setup();
      const move = await rebind(key, FP_B);
      const response = await h.post(
        '/api/v1/cli/token',
        { grant_type: MOVE_GRANT, move_id: move.id },
        { device: h.deviceKey(FP_B) },
      );
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe('invalid_key');
    });
  });

  describe('approving', () => {
    it('with a bearer token: the binding moves at once, the old device gets 409, the new one its login answer', async () => {
      const { key, keyId, masked, user, deviceA } = await setup();
      const move = await rebind(key, FP_B);
      expect((await poll(key, move.id, FP_B)).json()).toEqual(PENDING);
      const ada = await bearer('ada@example.com');
      h.advance(3_000);
      const approved = await ada('POST', `/api/v1/moves/${move.id}/approve`);
      expect(approved.statusCode).toBe(200);
      const deviceB = (await h.store.read.devices.active(keyId))?.id;
      expect(deviceB).toMatch(/^dev_/);
      expect(approved.json()).toEqual({
        id: move.id,
        user_code: move.user_code,
        status: 'approved',
        key: { id: keyId, name: 'build laptop', masked },
        bound_device: {
          id: deviceB,
          name: 'host-bbbb',
          os: 'linux',
          bound_at: at(3_000),
          last_seen_at: at(3_000),
        },
        moved_from: { id: deviceA, name: 'host-aaaa', os: 'linux' },
        to_device: {
          name: 'host-bbbb',
          os: 'linux',
          os_version: 'Debian 12',
          arch: 'x64',
          fingerprint_prefix: FP_B.slice(0, 12),
          requested_ip: '127.0.0.1',
        },
        created_at: AT0,
        expires_at: at(FIFTEEN_MINUTES),
        decided_at: at(3_000),
      });

      const old = await h.get(STATUS, key, FP_A);
      expect(old.statusCode).toBe(409);
      expect(old.json().bound_device).toEqual({
        name: 'host-bbbb',
        os: 'linux',
        os_version: 'Debian 12',
        bound_at: at(3_000),
      });
      const mine = await h.get(STATUS, key, FP_B);
      expect(mine.statusCode).toBe(200);
      expect(mine.json().device.key_thumbprint).toBe(h.deviceKey(FP_B).thumbprint);

      h.advance(5_000);
      const finished = await poll(key, move.id, FP_B);
      expect(finished.statusCode).toBe(200);
      expect((await h.store.read.devices.active(keyId))?.id).toBe(deviceB);
      expect(finished.json()).toEqual({
        user: { id: user.id, email: 'ada@example.com', name: 'ada' },
        organization: { id: expect.stringMatching(/^org_/), name: 'Personal (ada@example.com)' },
        workspace: { id: expect.stringMatching(/^ws_/), name: 'Default' },
        key: {
          id: keyId,
          name: 'build laptop',
          environment: 'test',
          masked,
          created_at: AT0,
          expires_at: null,
        },
        device: {
          id: deviceB,
          fingerprint: FP_B,
          name: 'host-bbbb',
          os: 'linux',
          bound_at: at(3_000),
          rebound: true,
          key_thumbprint: h.deviceKey(FP_B).thumbprint,
        },
      });
      expect(await auditOf(keyId, 'move')).toEqual([
        {
          id: expect.any(Number),
          at: at(3_000),
          event: 'move',
          key_id: keyId,
          fingerprint: FP_B,
          device_name: 'host-bbbb',
          client_ip: '127.0.0.1',
          actor_user_id: user.id,
          detail: {
            move_id: move.id,
            from: FP_A,
            to: FP_B,
            from_device: 'host-aaaa',
            from_device_id: deviceA,
            device_id: deviceB,
            requested_ip: '127.0.0.1',
          },
        },
      ]);
      expect(
        await h.sql.all('SELECT fingerprint, unbound_at, key_thumbprint FROM devices ORDER BY bound_at'),
      ).toEqual([
        { fingerprint: FP_A, unbound_at: at(3_000), key_thumbprint: h.deviceKey(FP_A).thumbprint },
        { fingerprint: FP_B, unbound_at: null, key_thumbprint: h.deviceKey(FP_B).thumbprint },
      ]);
      expect((await ada('GET', '/api/v1/moves')).json()).toEqual({ moves: [] });
    });

    it('with the session cookie: 403 csrf_failed without the token, 200 with it', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      const listed = await ada.api('GET', '/api/v1/moves', false);
      expect(listed.json().moves.map((entry: { id: string }) => entry.id)).toEqual([move.id]);
      const withoutToken = await ada.api('POST', `/api/v1/moves/${move.id}/approve`, false);
      expect(withoutToken.statusCode).toBe(403);
      expect(withoutToken.json().error).toBe('csrf_failed');
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
      const approved = await ada.api('POST', `/api/v1/moves/${move.id}/approve`);
      expect(approved.statusCode).toBe(200);
      expect(approved.json().status).toBe('approved');
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_B);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(409);
    });

    it('someone who may not manage the key gets 404 and sees nothing', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      await h.createUser({ email: 'eve@example.com' });
      const eve = await bearer('eve@example.com');
      expect((await eve('GET', '/api/v1/moves')).json()).toEqual({ moves: [] });
      for (const [method, url] of [
        ['GET', `/api/v1/moves/${move.id}`],
        ['POST', `/api/v1/moves/${move.id}/approve`],
        ['POST', `/api/v1/moves/${move.id}/deny`],
      ] as const) {
        const response = await eve(method, url);
        expect(response.statusCode).toBe(404);
        expect(response.json()).toEqual(NOT_FOUND);
      }
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
      expect((await poll(key, move.id, FP_B)).json()).toEqual(PENDING);
    });

    it('in a shared organization: a member who does not own the key gets 404, an admin may approve', async () => {
      const { key, keyId } = await setup({ organization: 'Acme' });
      const move = await rebind(key, FP_B);
      await h.createUser({ email: 'bob@example.com', organization: 'Acme', role: 'member' });
      await h.createUser({ email: 'carol@example.com', organization: 'Acme', role: 'admin' });
      const bob = await bearer('bob@example.com');
      expect((await bob('GET', '/api/v1/moves')).json()).toEqual({ moves: [] });
      expect((await bob('POST', `/api/v1/moves/${move.id}/approve`)).statusCode).toBe(404);
      const carol = await bearer('carol@example.com');
      expect((await carol('GET', '/api/v1/moves')).json().moves).toHaveLength(1);
      const approved = await carol('POST', `/api/v1/moves/${move.id}/approve`);
      expect(approved.statusCode).toBe(200);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_B);
    });

    it('twice -> 409 move_not_pending; deny after approve too', async () => {
      const { key } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await bearer('ada@example.com');
      expect((await ada('POST', `/api/v1/moves/${move.id}/approve`)).statusCode).toBe(200);
      for (const verb of ['approve', 'deny']) {
        const again = await ada('POST', `/api/v1/moves/${move.id}/${verb}`);
        expect(again.statusCode).toBe(409);
        expect(again.json()).toEqual(ALREADY_DECIDED);
      }
    });

    it('approve after deny -> 409 move_not_pending, and nothing moves', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await bearer('ada@example.com');
      expect((await ada('POST', `/api/v1/moves/${move.id}/deny`)).statusCode).toBe(200);
      const approved = await ada('POST', `/api/v1/moves/${move.id}/approve`);
      expect(approved.statusCode).toBe(409);
      expect(approved.json()).toEqual(ALREADY_DECIDED);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    it('after it expired -> 409 move_not_pending', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await bearer('ada@example.com');
      h.advance(FIFTEEN_MINUTES);
      const late = await ada('POST', `/api/v1/moves/${move.id}/approve`);
      expect(late.statusCode).toBe(409);
      expect(late.json()).toEqual(EXPIRED_DECISION);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
    });

    it('after the key was revoked -> 409 key_not_active', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await bearer('ada@example.com');
      expect((await ada('DELETE', `/api/v1/keys/${keyId}`)).statusCode).toBe(200);
      const approved = await ada('POST', `/api/v1/moves/${move.id}/approve`);
      expect(approved.statusCode).toBe(409);
      expect(approved.json()).toEqual({
        error: 'key_not_active',
        message: 'The key is revoked or expired: there is nothing to move.',
      });
      expect(await auditOf(keyId, 'move')).toEqual([]);
      // The new device, polling with the revoked key, is told so.
      expect((await poll(key, move.id, FP_B)).json().error).toBe('key_revoked');
    });
  });

  describe('a newer request, and a key freed meanwhile', () => {
    it('L1: a rebind from another device leaves the pending move as it was: both listed and flagged, both devices told', async () => {
      const { key } = await setup();
      const older = await rebind(key, FP_B);
      h.advance(10_000);
      const newer = await rebind(key, FP_C);
      expect(newer.id).not.toBe(older.id);
      expect(newer.user_code).not.toBe(older.user_code);
      const bothAsked = {
        error: 'authorization_pending',
        message:
          'The move is not approved yet, and another device asked to take this key too: the person who approves sees both. Keep polling at the interval.',
        other_requests: 1,
      };
      expect((await poll(key, older.id, FP_B)).json()).toEqual(bothAsked);
      expect((await poll(key, newer.id, FP_C)).json()).toEqual(bothAsked);
      const ada = await bearer('ada@example.com');
      const listed = (await ada('GET', '/api/v1/moves')).json().moves as {
        id: string;
        another_device_asked: boolean;
      }[];
      expect(listed.map((move) => [move.id, move.another_device_asked])).toEqual([
        [newer.id, true],
        [older.id, true],
      ]);
      // The person approves the device they know; the other request ends with it.
      expect((await ada('POST', `/api/v1/moves/${older.id}/approve`)).statusCode).toBe(200);
      h.advance(5_000);
      expect((await poll(key, newer.id, FP_C)).json()).toEqual(EXPIRED);
      expect((await poll(key, older.id, FP_B)).statusCode).toBe(200);
      expect((await ada('GET', '/api/v1/moves')).json().moves).toEqual([]);
    });

    it('L1: the pages list both requests, flagged, and the approval page warns', async () => {
      const { key } = await setup();
      const older = await rebind(key, FP_B);
      await rebind(key, FP_C);
      await h.createUser({ email: 'ada@example.com' });
      const page = formSession(h);
      expect((await page.signIn('ada@example.com')).statusCode).toBe(303);
      const devices = await page.get('/dashboard/settings?tab=devices');
      expect(devices.body.match(/<span class="tag tag-live">Another device asked too<\/span>/g)).toHaveLength(
        2,
      );
      const confirm = await page.get(`/move?code=${older.user_code}`);
      expect(confirm.statusCode).toBe(200);
      expect(/<p class="alert alert-error" role="alert">(.*?)<\/p>/s.exec(confirm.body)?.[1]).toBe(
        '<strong>Another device asked for this key too</strong> (one more request, on the Devices page). Someone else may hold the key: approve only the device you know, and consider revoking the key.',
      );
    });

    it('the same device asking again supersedes its own older move', async () => {
      const { key } = await setup();
      const older = await rebind(key, FP_B);
      h.advance(1_000);
      const newer = await rebind(key, FP_B);
      expect((await poll(key, older.id, FP_B)).json()).toEqual(EXPIRED);
      expect((await poll(key, newer.id, FP_B)).json()).toEqual(PENDING);
    });

    const freeings: [string, (keyId: string, key: string, deviceA: string) => Promise<void>][] = [
      [
        'a signed logout on the old device',
        async (_keyId, key) => {
          const logout = await h.inject({
            method: 'POST',
            url: '/api/v1/cli/logout',
            headers: {
              'x-api-key': key,
              'x-sekuire-device': FP_A,
              ...h.sign(h.deviceKey(FP_A), 'POST', '/api/v1/cli/logout'),
            },
          });
          expect(logout.json()).toEqual({ unbound: true });
        },
      ],
      [
        'DELETE /api/v1/devices/:id',
        async (_keyId, _key, deviceA) => {
          const ada = await bearer('ada@example.com');
          expect((await ada('DELETE', `/api/v1/devices/${deviceA}`)).statusCode).toBe(200);
        },
      ],
      [
        'sekuire-server unbind',
        async (keyId) => {
          expect((await unbindKey(h.store, keyId, h.now())).status).toBe('unbound');
        },
      ],
    ];

    it.each(freeings)('freed by %s: the pending poll binds the new device at once', async (_name, free) => {
      const { key, keyId, deviceA } = await setup();
      const move = await rebind(key, FP_B);
      expect((await poll(key, move.id, FP_B)).json()).toEqual(PENDING);
      h.advance(5_000);
      await free(keyId, key, deviceA);
      h.advance(5_000);
      const bound = await poll(key, move.id, FP_B);
      expect(bound.statusCode).toBe(200);
      const device = await h.store.read.devices.active(keyId);
      expect(device).toMatchObject({ fingerprint: FP_B, key_thumbprint: h.deviceKey(FP_B).thumbprint });
      expect(bound.json().device).toEqual({
        id: device?.id,
        fingerprint: FP_B,
        name: 'host-bbbb',
        os: 'linux',
        bound_at: at(10_000),
        rebound: true,
        key_thumbprint: h.deviceKey(FP_B).thumbprint,
      });
      expect(await auditOf(keyId, 'bind')).toEqual([
        expect.objectContaining({ fingerprint: FP_A }),
        {
          id: expect.any(Number),
          at: at(10_000),
          event: 'bind',
          key_id: keyId,
          fingerprint: FP_B,
          device_name: 'host-bbbb',
          client_ip: '127.0.0.1',
          actor_user_id: null,
          detail: { device_id: device?.id, move_id: move.id, os: 'linux', os_version: 'Debian 12' },
        },
      ]);
      expect((await h.get(STATUS, key, FP_B)).statusCode).toBe(200);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(409);
      // Done: nothing left to approve.
      const ada = await bearer('ada@example.com');
      expect((await ada('GET', '/api/v1/moves')).json()).toEqual({ moves: [] });
      expect((await ada('POST', `/api/v1/moves/${move.id}/approve`)).json()).toEqual(ALREADY_DECIDED);
    });
  });

  describe('the /move page', () => {
    it('signed out: sent to sign in and back', async () => {
      const { key } = await setup();
      const move = await rebind(key, FP_B);
      const url = `/move?code=${move.user_code}`;
      const page = await h.inject({ method: 'GET', url });
      expect(page.statusCode).toBe(303);
      expect(page.headers.location).toBe(`/login?next=${encodeURIComponent(url)}`);
    });

    it('the Devices page lists the pending move with a link to review it; none once decided', async () => {
      const { key, masked, user } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      const devices = await ada.get('/dashboard/settings?tab=devices');
      expect(devices.statusCode).toBe(200);
      expect(devices.body).toContain('Moves waiting for approval');
      expect(devices.body).toContain(masked);
      expect(devices.body).toMatch(/from <strong>host-aaaa<\/strong> to <strong>host-bbbb<\/strong>/);
      expect(devices.body).toContain(`href="/move?code=${move.user_code}">Review move</a>`);
      const actor = { user, clientIp: '127.0.0.1', now: h.now() };
      expect((await decideMove(h.store, actor, move.id, false)).ok).toBe(true);
      expect((await ada.get('/dashboard/settings?tab=devices')).body).not.toContain(
        'Moves waiting for approval',
      );
    });

    it('without a code: the code form', async () => {
      await setup();
      const ada = await browser('ada@example.com');
      const page = await ada.get('/move');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('Move a key to another device');
      expect(page.body).toContain('name="code"');
      expect(page.body).toContain('Continue</button>');
    });

    it('with the code: the key, the device bound now, the new device, Approve move and Deny', async () => {
      const { key, masked } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      const page = await ada.get(move.verification_uri_complete.replace('http://localhost:80', ''));
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('build laptop');
      expect(page.body).toContain(masked);
      expect(page.body).toContain('host-aaaa');
      expect(page.body).toContain('host-bbbb');
      expect(page.body).toContain(FP_B.slice(0, 12));
      expect(page.body).toContain(move.user_code);
      expect(page.body).toContain(`name="move" value="${move.id}"`);
      expect(page.body).toMatch(
        /<button type="submit" name="decision" value="approve"[^>]*>Approve move<\/button>/,
      );
      expect(page.body).toMatch(/<button type="submit" name="decision" value="deny"[^>]*>Deny<\/button>/);
      // Typed by hand: case, spaces and the dash do not matter.
      const typed = move.user_code.toLowerCase().replace('-', ' ');
      expect((await ada.get(`/move?code=${encodeURIComponent(typed)}`)).body).toContain('Approve move');
    });

    it('Approve move moves the binding', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      await ada.get(`/move?code=${move.user_code}`);
      const approved = await ada.post('/move', { move: move.id, decision: 'approve' });
      expect(approved.statusCode).toBe(200);
      expect(approved.body).toContain('Key moved');
      expect(approved.body).toContain('host-bbbb');
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_B);
      expect((await h.get(STATUS, key, FP_A)).statusCode).toBe(409);
      expect((await h.get(STATUS, key, FP_B)).statusCode).toBe(200);
      expect((await poll(key, move.id, FP_B)).statusCode).toBe(200);
      // Decided: the code no longer opens the page.
      expect((await ada.get(`/move?code=${move.user_code}`)).statusCode).toBe(404);
    });

    it('once the old device has logged out, the page says the key was freed rather than showing it bound', async () => {
      const { key } = await setup();
      const move = await rebind(key, FP_B);
      const logout = await h.inject({
        method: 'POST',
        url: '/api/v1/cli/logout',
        headers: {
          'x-api-key': key,
          'x-sekuire-device': FP_A,
          ...h.sign(h.deviceKey(FP_A), 'POST', '/api/v1/cli/logout'),
        },
      });
      expect(logout.json()).toEqual({ unbound: true });
      // The new device has not polled yet: the move is still pending, and nothing is bound.
      const ada = await browser('ada@example.com');
      const page = await ada.get(`/move?code=${move.user_code}`);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('No device any more: the key was freed.');
      expect(page.body).not.toContain('host-aaaa');
    });

    it('Deny leaves the binding and tells the new device', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      await ada.get(`/move?code=${move.user_code}`);
      const denied = await ada.post('/move', { move: move.id, decision: 'deny' });
      expect(denied.statusCode).toBe(200);
      expect(denied.body).toContain('Move denied');
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
      expect((await poll(key, move.id, FP_B)).json()).toEqual(DENIED);
    });

    it('a wrong code, or the code of a key one may not manage -> 404 page', async () => {
      const { key } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      for (const code of ['BCDF-GHJK', 'not a code']) {
        const page = await ada.get(`/move?code=${encodeURIComponent(code)}`);
        expect(page.statusCode).toBe(404);
        expect(page.body).toContain('That code is not valid');
        expect(page.body).not.toContain('Approve move');
      }
      await h.createUser({ email: 'eve@example.com' });
      const eve = await browser('eve@example.com');
      const page = await eve.get(`/move?code=${move.user_code}`);
      expect(page.statusCode).toBe(404);
      expect(page.body).not.toContain('host-bbbb');
    });

    it('a POST without the CSRF token or for a move one may not manage decides nothing', async () => {
      const { key, keyId } = await setup();
      const move = await rebind(key, FP_B);
      const ada = await browser('ada@example.com');
      const forged = await h.inject({
        method: 'POST',
        url: '/move',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ move: move.id, decision: 'approve' }).toString(),
      });
      expect(forged.statusCode).toBe(403);
      await h.createUser({ email: 'eve@example.com' });
      const eve = await browser('eve@example.com');
      await eve.get('/dashboard/settings?tab=api-keys');
      const notHers = await eve.post('/move', { move: move.id, decision: 'approve' });
      expect(notHers.statusCode).toBe(404);
      expect((await h.store.read.devices.active(keyId))?.fingerprint).toBe(FP_A);
      expect((await ada.get(`/move?code=${move.user_code}`)).statusCode).toBe(200);
    });
  });
});
