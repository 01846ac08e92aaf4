// POST /api/v1/cli/login: bind, refresh, device_mismatch, rebind (move), body validation, audit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { deviceBody, FP_A, FP_B, type Harness, harness, T0 } from './harness.js';

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

  describe('login', () => {
    it('binds an unbound key and answers the whole PROTOCOL.md shape', async () => {
      const created = await h.createKey({
        email: 'ada@example.com',
        userName: 'Ada',
        organization: 'Acme',
        keyName: 'laptop',
      });
      const response = await h.login(created.apiKey.value, FP_A);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-store');
      const device = await h.store.read.devices.active(created.key.id);
      expect(device).toBeDefined();
      expect(response.json()).toEqual({
        user: { id: created.user.id, email: 'ada@example.com', name: 'Ada' },
        organization: { id: created.organization.id, name: 'Acme' },
        workspace: { id: created.workspace.id, name: 'Default' },
        key: {
          id: created.key.id,
          name: 'laptop',
          environment: 'test',
          masked: created.apiKey.masked,
          created_at: AT0,
          expires_at: null,
        },
        device: {
          id: device?.id,
          fingerprint: FP_A,
          name: 'host-aaaa',
          os: 'linux',
          bound_at: AT0,
          rebound: false,
          key_thumbprint: h.deviceKey(FP_A).thumbprint,
        },
      });
      expect(device).toEqual({
        id: device?.id,
        key_id: created.key.id,
        fingerprint: FP_A,
        name: 'host-aaaa',
        os: 'linux',
        os_version: 'Debian 12',
        arch: 'x64',
        bound_at: AT0,
        last_seen_at: AT0,
        last_ip: '127.0.0.1',
        public_key: JSON.stringify(h.deviceKey(FP_A).publicJwk),
        key_thumbprint: h.deviceKey(FP_A).thumbprint,
      });
      expect(await h.store.read.audit.list(created.key.id)).toEqual([
        {
          id: 1,
          at: AT0,
          event: 'create',
          key_id: created.key.id,
          fingerprint: null,
          device_name: null,
          client_ip: null,
          actor_user_id: null,
          detail: { masked: created.apiKey.masked, environment: 'test', type: 'client', expires_at: null },
        },
        {
          id: 2,
          at: AT0,
          event: 'bind',
          key_id: created.key.id,
          fingerprint: FP_A,
          device_name: 'host-aaaa',
          client_ip: '127.0.0.1',
          actor_user_id: null,
          detail: { device_id: device?.id, os: 'linux', os_version: 'Debian 12', arch: 'x64' },
        },
      ]);
    });

    it('accepts the key as Authorization: Bearer', async () => {
      const created = await h.createKey();
      const response = await h.post('/api/v1/cli/login', deviceBody(FP_A), {
        device: h.deviceKey(FP_A),
        headers: { authorization: `Bearer ${created.apiKey.value}` },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().device.fingerprint).toBe(FP_A);
    });

    it('the same fingerprint again refreshes name, OS and last_seen, keeping the binding', async () => {
      const created = await h.createKey();
      const first = (await h.login(created.apiKey.value, FP_A)).json();
      h.advance(5_000);
      const body = deviceBody(FP_A);
      body.device.name = 'renamed';
      body.device.os_version = 'Debian 13';
      const again = await h.post('/api/v1/cli/login', body, {
        device: h.deviceKey(FP_A),
        headers: { 'x-api-key': created.apiKey.value },
        remoteAddress: '10.1.2.3',
      });
      expect(again.statusCode).toBe(200);
      expect(again.json().device).toEqual({
        id: first.device.id,
        fingerprint: FP_A,
        name: 'renamed',
        os: 'linux',
        bound_at: AT0,
        rebound: false,
        key_thumbprint: h.deviceKey(FP_A).thumbprint,
      });
      const at = new Date(T0.getTime() + 5_000).toISOString();
      expect(await h.store.read.devices.active(created.key.id)).toMatchObject({
        name: 'renamed',
        os_version: 'Debian 13',
        bound_at: AT0,
        last_seen_at: at,
        last_ip: '10.1.2.3',
      });
      const events = await h.store.read.audit.list(created.key.id);
      expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'refresh']);
      expect(events[2]).toEqual({
        id: 3,
        at,
        event: 'refresh',
        key_id: created.key.id,
        fingerprint: FP_A,
        device_name: 'renamed',
        client_ip: '10.1.2.3',
        actor_user_id: null,
        detail: { device_id: first.device.id },
      });
    });

    it('another fingerprint gets 409 device_mismatch with bound_device, and nothing changes', async () => {
      const created = await h.createKey();
      await h.login(created.apiKey.value, FP_A);
      h.advance(1_000);
      const response = await h.login(created.apiKey.value, FP_B);
      expect(response.statusCode).toBe(409);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json()).toEqual({
        error: 'device_mismatch',
        message: `This API key is bound to another device (host-aaaa, linux, since ${AT0}).`,
        bound_device: { name: 'host-aaaa', os: 'linux', os_version: 'Debian 12', bound_at: AT0 },
      });
      expect(response.body).not.toContain(FP_A);
      expect((await h.store.read.devices.active(created.key.id))?.fingerprint).toBe(FP_A);
      expect((await h.store.read.audit.list(created.key.id)).map((event) => event.event)).toEqual([
        'create',
        'bind',
      ]);
      const explicitFalse = await h.login(created.apiKey.value, FP_B, { rebind: false });
      expect(explicitFalse.statusCode).toBe(409);
    });

    it('with --allow-self-rebind, rebind moves the binding in one step, records it, and locks out the old device at once', async () => {
      await h.close();
      h = await harness({ engine, allowSelfRebind: true });
      const created = await h.createKey();
      const old = (await h.login(created.apiKey.value, FP_A)).json();
      h.advance(60_000);
      const moved = await h.login(created.apiKey.value, FP_B, { rebind: true });
      expect(moved.statusCode).toBe(200);
      const at = new Date(T0.getTime() + 60_000).toISOString();
      const device = moved.json().device;
      expect(device).toEqual({
        id: expect.stringMatching(/^dev_[0-9A-Za-z]{16}$/),
        fingerprint: FP_B,
        name: 'host-bbbb',
        os: 'linux',
        bound_at: at,
        rebound: true,
        key_thumbprint: h.deviceKey(FP_B).thumbprint,
      });
      expect(device.id).not.toBe(old.device.id);
      const events = await h.store.read.audit.list(created.key.id);
      expect(events.map((event) => event.event)).toEqual(['create', 'bind', 'move']);
      expect(events[2]).toEqual({
        id: 3,
        at,
        event: 'move',
        key_id: created.key.id,
        fingerprint: FP_B,
        device_name: 'host-bbbb',
        client_ip: '127.0.0.1',
        actor_user_id: null,
        detail: {
          from: FP_A,
          to: FP_B,
          from_device: 'host-aaaa',
          from_device_id: old.device.id,
          device_id: device.id,
          approved_by: 'self-rebind',
        },
      });
      const oldStatus = await h.get('/api/v1/cli/status', created.apiKey.value, FP_A);
      expect(oldStatus.statusCode).toBe(409);
      expect(oldStatus.json().bound_device).toEqual({
        name: 'host-bbbb',
        os: 'linux',
        os_version: 'Debian 12',
        bound_at: at,
      });
      expect((await h.get('/api/v1/cli/status', created.apiKey.value, FP_B)).statusCode).toBe(200);
      const unbound = await h.sql.all<{ fingerprint: string; unbound_at: string | null }>(
        'SELECT fingerprint, unbound_at FROM devices WHERE key_id = ? ORDER BY bound_at',
        [created.key.id],
      );
      expect(unbound).toEqual([
        { fingerprint: FP_A, unbound_at: at },
        { fingerprint: FP_B, unbound_at: null },
      ]);
    });

    it('rebind on an unbound key simply binds (rebound false)', async () => {
      const created = await h.createKey();
      const response = await h.login(created.apiKey.value, FP_A, { rebind: true });
      expect(response.statusCode).toBe(200);
      expect(response.json().device.rebound).toBe(false);
      expect((await h.store.read.audit.list(created.key.id)).map((event) => event.event)).toEqual([
        'create',
        'bind',
      ]);
    });

    it('ignores unknown fields and an X-Sekuire-Device header (the body names the device)', async () => {
      const created = await h.createKey();
      const response = await h.post(
        '/api/v1/cli/login',
        { ...deviceBody(FP_A, { future: { x: 1 } }), client: 'sekuire/9' },
        {
          device: h.deviceKey(FP_A),
          headers: { 'x-api-key': created.apiKey.value, 'x-sekuire-device': FP_B },
        },
      );
      expect(response.statusCode).toBe(200);
      expect(response.json().device.fingerprint).toBe(FP_A);
    });

    it('accepts an empty os_version', async () => {
      const created = await h.createKey();
      const body = deviceBody(FP_A);
      body.device.os_version = '';
      const response = await h.post('/api/v1/cli/login', body, {
        device: h.deviceKey(FP_A),
        headers: { 'x-api-key': created.apiKey.value },
      });
      expect(response.statusCode).toBe(200);
    });
  });

  describe('login body validation', () => {
    const device = deviceBody(FP_A).device;
    const cases: [string, unknown, string, string][] = [
      ['a JSON array', [1], 'body', 'The request body must be a JSON object.'],
      ['a JSON string', 'device', 'body', 'The request body must be a JSON object.'],
      ['null', null, 'body', 'The request body must be a JSON object.'],
      ['no device', { rebind: false }, 'device', 'device must be an object.'],
      ['device as a string', { device: FP_A }, 'device', 'device must be an object.'],
      [
        'an uppercase fingerprint',
        { device: { ...device, fingerprint: FP_A.toUpperCase() } },
        'device.fingerprint',
        'device.fingerprint must be 64 lowercase hexadecimal characters.',
      ],
      [
        'a 63-character fingerprint',
        { device: { ...device, fingerprint: FP_A.slice(1) } },
        'device.fingerprint',
        'device.fingerprint must be 64 lowercase hexadecimal characters.',
      ],
      [
        'a numeric fingerprint',
        { device: { ...device, fingerprint: 1 } },
        'device.fingerprint',
        'device.fingerprint must be 64 lowercase hexadecimal characters.',
      ],
      ['no name', { device: { ...device, name: undefined } }, 'device.name', 'device.name must be a string.'],
      [
        'a blank name',
        { device: { ...device, name: '  ' } },
        'device.name',
        'device.name must not be empty.',
      ],
      [
        'a 201-character name',
        { device: { ...device, name: 'x'.repeat(201) } },
        'device.name',
        'device.name must be at most 200 characters.',
      ],
      [
        'a name with a newline',
        { device: { ...device, name: 'a\nb' } },
        'device.name',
        'device.name must not contain control or invisible characters (line breaks, bidi controls, zero-width characters).',
      ],
      // L9: the one text rule, as the pages and the commands apply it.
      [
        'a name with a bidi override',
        { device: { ...device, name: 'laptop\u202egnp.exe' } },
        'device.name',
        'device.name must not contain control or invisible characters (line breaks, bidi controls, zero-width characters).',
      ],
      [
        'a name with a zero-width space',
        { device: { ...device, name: 'lap\u200btop' } },
        'device.name',
        'device.name must not contain control or invisible characters (line breaks, bidi controls, zero-width characters).',
      ],
      [
        'a name with a paragraph separator',
        { device: { ...device, name: 'lap\u2029top' } },
        'device.name',
        'device.name must not contain control or invisible characters (line breaks, bidi controls, zero-width characters).',
      ],
      [
        'a name that draws nothing',
        { device: { ...device, name: '\u3164\u2800' } },
        'device.name',
        'device.name must not be empty.',
      ],
      ['a numeric os', { device: { ...device, os: 12 } }, 'device.os', 'device.os must be a string.'],
      [
        'no os_version',
        { device: { ...device, os_version: null } },
        'device.os_version',
        'device.os_version must be a string.',
      ],
      ['an empty arch', { device: { ...device, arch: '' } }, 'device.arch', 'device.arch must not be empty.'],
      ['rebind as a string', { device, rebind: 'yes' }, 'rebind', 'rebind must be true or false.'],
      ['rebind as null', { device, rebind: null }, 'rebind', 'rebind must be true or false.'],
    ];

    it.each(cases)('%s -> 400 invalid_request naming the field', async (_name, payload, field, message) => {
      const created = await h.createKey();
      const response = await h.inject({
        method: 'POST',
        url: '/api/v1/cli/login',
        headers: { 'x-api-key': created.apiKey.value, 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: 'invalid_request', message, field });
      expect(await h.store.read.devices.active(created.key.id)).toBeUndefined();
    });

    it('an empty body -> 400 naming the body', async () => {
      const created = await h.createKey();
      for (const headers of [{}, { 'content-type': 'application/json' }]) {
        const response = await h.inject({
          method: 'POST',
          url: '/api/v1/cli/login',
          headers: { 'x-api-key': created.apiKey.value, ...headers },
        });
        expect(response.statusCode).toBe(400);
        expect(response.json()).toEqual({
          error: 'invalid_request',
          message: 'The request body must be a JSON object.',
          field: 'body',
        });
      }
    });
  });
});
