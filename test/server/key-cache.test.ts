// The key cache never outlives a change: revocation, expiry and rebinding apply to the very next request.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../packages/server/src/domain/keys.js';
import { decideMove } from '../../packages/server/src/domain/moves.js';
import { openStore } from '../../packages/server/src/store/open.js';
import type { Store } from '../../packages/server/src/store/store.js';
import { forEachEngine } from '../helpers/engines.js';
import { FP_A, FP_B, type Harness, harness } from './harness.js';

/** Polls until fn returns true, for changes that are promised within a time rather than at once. */
async function eventually(fn: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

forEachEngine((engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ engine });
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  const status = (key: string, fingerprint: string) => h.get('/api/v1/cli/status', key, fingerprint);
  /** Another process on the same database (what sekuire-server revoke-key is). */
  async function otherProcess<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    const store = await openStore(h.target, { mustExist: true });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  describe('a cached key', () => {
    it('is refused on the very next request after another process revokes it', async () => {
      const { apiKey, key } = await h.createKey();
      expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
      expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
      let unconfirmed: readonly string[] = [];
      await otherProcess((store) =>
        revokeApiKey(store, key.id, h.now(), (servers) => {
          unconfirmed = servers;
        }),
      );
      expect(unconfirmed).toEqual([]);
      const after = await status(apiKey.value, FP_A);
      expect(after.statusCode).toBe(401);
      expect(after.json().error).toBe('key_revoked');
    });

    it('sees a raw SQL change made outside sekuire within seconds', async () => {
      const { apiKey, key } = await h.createKey();
      expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
      await h.sql.run('UPDATE api_keys SET expires_at = ? WHERE id = ?', [h.now().toISOString(), key.id]);
      const seen = await eventually(async () => (await status(apiKey.value, FP_A)).statusCode === 401, 3_000);
      expect(seen).toBe(true);
      expect((await status(apiKey.value, FP_A)).json().error).toBe('key_expired');
    });

    it('loses its binding on the very next request after a move approved through this server', async () => {
      const { apiKey, user } = await h.createKey();
      expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
      expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
      const asked = await h.login(apiKey.value, FP_B, { rebind: true });
      expect(asked.statusCode).toBe(202);
      const actor = { user, clientIp: '127.0.0.1', now: h.now() };
      expect((await decideMove(h.store, actor, asked.json().move.id, true)).ok).toBe(true);
      const old = await status(apiKey.value, FP_A);
      expect(old.statusCode).toBe(409);
      expect(old.json().bound_device.name).toBe(`host-${FP_B.slice(0, 4)}`);
      expect((await status(apiKey.value, FP_B)).statusCode).toBe(200);
    });

    it('binds after a login that follows an unbound status, and unbinds after logout', async () => {
      const { apiKey } = await h.createKey();
      expect((await status(apiKey.value, FP_B)).json().device).toBeNull();
      expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
      expect((await status(apiKey.value, FP_B)).statusCode).toBe(409);
      const logout = await h.inject({
        method: 'POST',
        url: '/api/v1/cli/logout',
        headers: {
          'x-api-key': apiKey.value,
          'x-sekuire-device': FP_A,
          ...h.sign(h.deviceKey(FP_A), 'POST', '/api/v1/cli/logout'),
        },
      });
      expect(logout.json()).toEqual({ unbound: true });
      expect((await status(apiKey.value, FP_B)).json().device).toBeNull();
    });

    it('follows an unbinding made in raw SQL within seconds', async () => {
      const { apiKey } = await h.createKey();
      expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
      expect((await status(apiKey.value, FP_A)).statusCode).toBe(200);
      await h.sql.run('UPDATE devices SET unbound_at = ?', [h.now().toISOString()]);
      const seen = await eventually(
        async () => (await status(apiKey.value, FP_A)).json().device === null,
        3_000,
      );
      expect(seen).toBe(true);
    });

    it('a key created by another process after the server cached others is found', async () => {
      const first = await h.createKey();
      expect((await status(first.apiKey.value, FP_A)).statusCode).toBe(200);
      const created = await otherProcess((store) =>
        createApiKey(store, h.secret, { email: 'new@example.com', environment: 'live' }, h.now()),
      );
      expect((await status(created.apiKey.value, FP_A)).statusCode).toBe(200);
    });
  });

  describe('over real sockets', () => {
    it('a revocation from another process applies to the next request, with a warm cache, every time', async () => {
      const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
      for (let round = 0; round < 5; round++) {
        const { apiKey, key } = await h.createKey();
        const get = async () => {
          const response = await fetch(`${url}/api/v1/cli/status`, {
            headers: { 'x-api-key': apiKey.value, 'x-sekuire-device': FP_A },
          });
          return { status: response.status, body: (await response.json()) as { error?: string } };
        };
        for (let i = 0; i < 10; i++) expect((await get()).status).toBe(200);
        await otherProcess((store) => revokeApiKey(store, key.id, h.now()));
        expect(await get()).toEqual({
          status: 401,
          body: { error: 'key_revoked', message: 'This API key has been revoked.' },
        });
      }
    });
  });
});
