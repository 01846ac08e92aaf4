// status, whoami and logout: the device header, unbound keys, 409, last_seen throttling, unbind.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../../packages/server/src/domain/keys.js';
import { decideMove } from '../../packages/server/src/domain/moves.js';
import { forEachEngine } from '../helpers/engines.js';
import { FP_A, FP_B, FP_C, type Harness, harness, T0 } from './harness.js';

forEachEngine((engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ engine });
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  const AT0 = T0.toISOString();
  const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

  function logout(key: string, fingerprint: string, payload?: string, contentType?: string) {
    const headers: Record<string, string> = { 'x-api-key': key, 'x-sekuire-device': fingerprint };
    if (contentType !== undefined) headers['content-type'] = contentType;
    // Signed as the CLI signs it, by this fingerprint's device key.
    Object.assign(headers, h.sign(h.deviceKey(fingerprint), 'POST', '/api/v1/cli/logout', payload));
    return h.inject({
      method: 'POST',
      url: '/api/v1/cli/logout',
      headers,
      ...(payload !== undefined && { payload }),
    });
  }

  describe('status and whoami', () => {
    it('a key unbound since: status tells the device that held it when and how that ended', async () => {
      const created = await h.createKey();
      const key = created.apiKey.value;
      expect((await h.login(key, FP_A)).statusCode).toBe(200);
      const boundAt = h.now().toISOString();
      h.advance(60_000);
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
      const endedAt = h.now().toISOString();
      h.advance(1_000);
      const here = await h.get('/api/v1/cli/status', key, FP_A);
      expect(here.statusCode).toBe(200);
      expect(here.json()).toMatchObject({
        device: null,
        past_binding: { bound_at: boundAt, ended_at: endedAt, ended_by: 'unbind', moved_to: null },
      });
      expect((await h.get('/api/v1/cli/status', key, FP_B)).json().past_binding).toBeNull();
      // Bound again: no history in the answer.
      expect((await h.login(key, FP_A)).statusCode).toBe(200);
      expect((await h.get('/api/v1/cli/status', key, FP_A)).json()).not.toHaveProperty('past_binding');
    });

    it('a key bound to no device is accepted from any device, with device null', async () => {
      const created = await h.createKey({ organization: 'Acme', workspace: 'CI' });
      const status = await h.get('/api/v1/cli/status', created.apiKey.value, FP_C);
      expect(status.statusCode).toBe(200);
      expect(status.headers['cache-control']).toBe('no-store');
      expect(status.json()).toEqual({
        key: {
          id: created.key.id,
          name: 'CLI key',
          environment: 'test',
          masked: created.apiKey.masked,
          created_at: AT0,
          expires_at: null,
          type: 'client',
        },
        device: null,
        organization: { id: created.organization.id, name: 'Acme' },
        workspace: { id: created.workspace.id, name: 'CI' },
        // Extension: this device never held the key.
        past_binding: null,
      });
      const whoami = await h.get('/api/v1/cli/whoami', created.apiKey.value, FP_B);
      expect(whoami.statusCode).toBe(200);
      expect(whoami.json()).toEqual({
        user: { id: created.user.id, email: 'dev@example.com', name: 'dev' },
        organization: { id: created.organization.id, name: 'Acme' },
        workspace: { id: created.workspace.id, name: 'CI' },
        device: null,
      });
      expect(await h.store.read.devices.active(created.key.id)).toBeUndefined();
    });

    it('the bound device gets its device; another device gets 409 with bound_device', async () => {
      const created = await h.createKey();
      const login = (await h.login(created.apiKey.value, FP_A)).json();
      const device = {
        id: login.device.id,
        fingerprint: FP_A,
        name: 'host-aaaa',
        os: 'linux',
        bound_at: AT0,
        rebound: false,
        key_thumbprint: h.deviceKey(FP_A).thumbprint,
      };
      for (const path of ['/api/v1/cli/status', '/api/v1/cli/whoami']) {
        const mine = await h.get(path, created.apiKey.value, FP_A);
        expect(mine.statusCode).toBe(200);
        expect(mine.json().device).toEqual(device);
        const other = await h.get(path, created.apiKey.value, FP_B);
        expect(other.statusCode).toBe(409);
        expect(other.json()).toEqual({
          error: 'device_mismatch',
          message: `This API key is bound to another device (host-aaaa, linux, since ${AT0}).`,
          bound_device: { name: 'host-aaaa', os: 'linux', os_version: 'Debian 12', bound_at: AT0 },
        });
      }
    });

    it.each([
      ['missing', undefined, 'The X-Sekuire-Device header is missing.'],
      [
        'uppercase',
        FP_A.toUpperCase(),
        'The X-Sekuire-Device header must be 64 lowercase hexadecimal characters.',
      ],
      [
        'too short',
        FP_A.slice(2),
        'The X-Sekuire-Device header must be 64 lowercase hexadecimal characters.',
      ],
      ['not hex', 'g'.repeat(64), 'The X-Sekuire-Device header must be 64 lowercase hexadecimal characters.'],
    ])('a %s X-Sekuire-Device header -> 400 on status, whoami and logout', async (_name, value, message) => {
      const created = await h.createKey();
      for (const [method, url] of [
        ['GET', '/api/v1/cli/status'],
        ['GET', '/api/v1/cli/whoami'],
        ['POST', '/api/v1/cli/logout'],
      ] as const) {
        const headers: Record<string, string> = { 'x-api-key': created.apiKey.value };
        if (value !== undefined) headers['x-sekuire-device'] = value;
        const response = await h.inject({ method, url, headers });
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual({ error: 'invalid_request', message, field: 'X-Sekuire-Device' });
      }
    });

    it('records last_seen_at at most once a minute', async () => {
      const created = await h.createKey();
      await h.login(created.apiKey.value, FP_A);
      const lastSeen = async () => (await h.store.read.devices.active(created.key.id))?.last_seen_at;
      h.advance(30_000);
      expect((await h.get('/api/v1/cli/status', created.apiKey.value, FP_A)).statusCode).toBe(200);
      expect(await lastSeen()).toBe(AT0);
      h.advance(30_000);
      expect((await h.get('/api/v1/cli/whoami', created.apiKey.value, FP_A)).statusCode).toBe(200);
      expect(await lastSeen()).toBe(at(60_000));
      h.advance(59_999);
      await h.get('/api/v1/cli/status', created.apiKey.value, FP_A);
      expect(await lastSeen()).toBe(at(60_000));
      h.advance(1);
      await h.get('/api/v1/cli/status', created.apiKey.value, FP_A);
      expect(await lastSeen()).toBe(at(120_000));
      // Touching last_seen is not an audit event.
      expect((await h.store.read.audit.list(created.key.id)).map((event) => event.event)).toEqual([
        'create',
        'bind',
      ]);
    });
  });

  describe('logout', () => {
    it('unbinds this device, audits it, and keeps the key valid', async () => {
      const created = await h.createKey();
      const device = (await h.login(created.apiKey.value, FP_A)).json().device;
      h.advance(1_000);
      const response = await logout(created.apiKey.value, FP_A, '{}', 'application/json');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ unbound: true });
      expect(await h.store.read.devices.active(created.key.id)).toBeUndefined();
      expect((await h.store.read.audit.list(created.key.id)).at(-1)).toEqual({
        id: 3,
        at: at(1_000),
        event: 'unbind',
        key_id: created.key.id,
        fingerprint: FP_A,
        device_name: 'host-aaaa',
        client_ip: '127.0.0.1',
        actor_user_id: null,
        detail: { device_id: device.id },
      });
      const again = await logout(created.apiKey.value, FP_A);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ unbound: false });
      const status = await h.get('/api/v1/cli/status', created.apiKey.value, FP_B);
      expect(status.statusCode).toBe(200);
      expect(status.json().device).toBeNull();
      // A new device may now bind.
      expect((await h.login(created.apiKey.value, FP_B)).json().device.rebound).toBe(false);
    });

    it('with no binding answers unbound false and writes no event', async () => {
      const created = await h.createKey();
      const response = await logout(created.apiKey.value, FP_A);
      expect(response.json()).toEqual({ unbound: false });
      expect((await h.store.read.audit.list(created.key.id)).map((event) => event.event)).toEqual(['create']);
    });

    it('from another device gets 409 and leaves the binding alone', async () => {
      const created = await h.createKey();
      await h.login(created.apiKey.value, FP_A);
      const response = await logout(created.apiKey.value, FP_B, '{}', 'application/json');
      expect(response.statusCode).toBe(409);
      expect(response.json()).toEqual({
        error: 'device_mismatch',
        message: `This API key is bound to another device (host-aaaa, linux, since ${AT0}).`,
        bound_device: { name: 'host-aaaa', os: 'linux', os_version: 'Debian 12', bound_at: AT0 },
      });
      expect((await h.store.read.devices.active(created.key.id))?.fingerprint).toBe(FP_A);
    });

    it('accepts no body, an empty JSON body and {}; rejects a non-JSON content type', async () => {
      const created = await h.createKey();
      for (const [payload, type] of [
        [undefined, undefined],
        ['', 'application/json'],
        ['{}', 'application/json; charset=utf-8'],
      ] as const) {
        await h.login(created.apiKey.value, FP_A);
        const response = await logout(created.apiKey.value, FP_A, payload, type);
        expect(response.statusCode).toBe(200);
        expect(response.json()).toEqual({ unbound: true });
      }
      const form = await logout(created.apiKey.value, FP_A, 'a=b', 'application/x-www-form-urlencoded');
      expect(form.statusCode).toBe(400);
      expect(form.json()).toEqual({
        error: 'invalid_request',
        message: 'The request body must be JSON (Content-Type: application/json).',
      });
    });
  });

  describe('no cache: changes apply to the very next request', () => {
    it('revocation', async () => {
      const created = await h.createKey();
      await h.login(created.apiKey.value, FP_A);
      expect((await h.get('/api/v1/cli/status', created.apiKey.value, FP_A)).statusCode).toBe(200);
      await revokeApiKey(h.store, created.key.id, h.now());
      const response = await h.get('/api/v1/cli/status', created.apiKey.value, FP_A);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: 'key_revoked', message: 'This API key has been revoked.' });
    });

    it('a move to another device, once approved', async () => {
      const created = await h.createKey();
      await h.login(created.apiKey.value, FP_A);
      expect((await h.get('/api/v1/cli/whoami', created.apiKey.value, FP_A)).statusCode).toBe(200);
      const asked = await h.login(created.apiKey.value, FP_B, { rebind: true });
      expect(asked.statusCode).toBe(202);
      expect((await h.get('/api/v1/cli/whoami', created.apiKey.value, FP_A)).statusCode).toBe(200);
      const actor = { user: created.user, clientIp: '127.0.0.1', now: h.now() };
      expect((await decideMove(h.store, actor, asked.json().move.id, true)).ok).toBe(true);
      expect((await h.get('/api/v1/cli/whoami', created.apiKey.value, FP_A)).statusCode).toBe(409);
      expect((await logout(created.apiKey.value, FP_A)).statusCode).toBe(409);
    });
  });
});
