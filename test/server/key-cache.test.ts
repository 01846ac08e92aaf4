// The key cache never outlives a change: revocation, expiry and rebinding apply to the very next request.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/server/provision.js';
import { createStore } from '../../src/server/store.js';
import { FP_A, FP_B, type Harness, harness } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  expect(h.logged).toEqual([]);
  await h.close();
});

const status = (key: string, fingerprint: string) => h.get('/api/v1/cli/status', key, fingerprint);

describe('a cached key', () => {
  it('is refused on the very next request after another process revokes it', async () => {
    const { apiKey, key } = h.createKey();
    expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
    // Another connection stands for another process (sekuire-server revoke-key).
    const other = new Database(h.dbPath);
    try {
      revokeApiKey(createStore(other), key.id, h.now());
    } finally {
      other.close();
    }
    const after = await status(apiKey.value, FP_A);
    expect(after.statusCode).toBe(401);
    expect(after.json().error).toBe('key_revoked');
  });

  it('sees a raw UPDATE from another connection', async () => {
    const { apiKey, key } = h.createKey();
    expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
    const other = new Database(h.dbPath);
    try {
      other.prepare('UPDATE api_keys SET expires_at = ? WHERE id = ?').run(h.now().toISOString(), key.id);
    } finally {
      other.close();
    }
    expect((await status(apiKey.value, FP_A)).json().error).toBe('key_expired');
  });

  it('loses its binding on the very next request after a move from this server', async () => {
    const { apiKey } = h.createKey();
    expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await h.login(apiKey.value, FP_B, { rebind: true })).statusCode).toBe(200);
    const old = await status(apiKey.value, FP_A);
    expect(old.statusCode).toBe(409);
    expect(old.json().bound_device.name).toBe(`host-${FP_B.slice(0, 4)}`);
    expect((await status(apiKey.value, FP_B)).statusCode).toBe(200);
  });

  it('binds after a login that follows an unbound status, and unbinds after logout', async () => {
    const { apiKey } = h.createKey();
    expect((await status(apiKey.value, FP_B)).json().device).toBeNull();
    expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await status(apiKey.value, FP_B)).statusCode).toBe(409);
    const logout = await h.inject({
      method: 'POST',
      url: '/api/v1/cli/logout',
      headers: { 'x-api-key': apiKey.value, 'x-sekuire-device': FP_A },
    });
    expect(logout.json()).toEqual({ unbound: true });
    expect((await status(apiKey.value, FP_B)).json().device).toBeNull();
  });

  it('follows a move made by another process', async () => {
    const { apiKey } = h.createKey();
    expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
    const other = new Database(h.dbPath);
    try {
      other.prepare('UPDATE devices SET unbound_at = ?').run(h.now().toISOString());
    } finally {
      other.close();
    }
    expect((await status(apiKey.value, FP_A)).json().device).toBeNull();
  });

  it('a key created after the server cached others is found', async () => {
    const first = h.createKey();
    expect((await status(first.apiKey.value, FP_A)).statusCode).toBe(200);
    const other = new Database(h.dbPath);
    let created: ReturnType<typeof createApiKey>;
    try {
      created = createApiKey(
        createStore(other),
        h.secret,
        { email: 'new@example.com', environment: 'live' },
        h.now(),
      );
    } finally {
      other.close();
    }
    expect((await status(created.apiKey.value, FP_A)).statusCode).toBe(200);
  });
});

describe('over real sockets', () => {
  it('a revocation from another connection applies to the next request, with warm cache', async () => {
    const { apiKey, key } = h.createKey();
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const get = async () => {
      const response = await fetch(`${url}/api/v1/cli/status`, {
        headers: { 'x-api-key': apiKey.value, 'x-sekuire-device': FP_A },
      });
      return { status: response.status, body: (await response.json()) as { error?: string } };
    };
    for (let i = 0; i < 20; i++) expect((await get()).status).toBe(200);
    const other = new Database(h.dbPath);
    try {
      revokeApiKey(createStore(other), key.id, h.now());
    } finally {
      other.close();
    }
    expect(await get()).toEqual({
      status: 401,
      body: { error: 'key_revoked', message: 'This API key has been revoked.' },
    });
  });
});
