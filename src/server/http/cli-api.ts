// The CLI's endpoints (PROTOCOL.md) and /health: API keys authenticate, checked before a body is read.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type Caller, currentDevice, login, logout } from '../domain/bindings.js';
import type { KeyState } from '../store/key-cache.js';
import { ApiError } from './api-error.js';
import { authenticate, type KeyAuthDeps } from './key-auth.js';
import { deviceMismatch, loginJson, statusJson, whoamiJson } from './responses.js';
import { deviceFingerprint, parseLoginBody } from './validation.js';

const KEY_STATE = 'sekuireKeyState';

/** A Fastify plugin: its decorators stay inside it. */
export const cliApi: FastifyPluginAsync<KeyAuthDeps> = async (app, deps) => {
  const { store } = deps;
  app.decorateRequest(KEY_STATE, null);

  // A route-level hook rather than a global one: unknown paths answer 404 without a key.
  const requireKey = {
    onRequest: async (request: FastifyRequest) => {
      request.setDecorator(KEY_STATE, await authenticate(request, deps));
    },
  };
  const caller = (request: FastifyRequest): Caller => ({
    state: request.getDecorator<KeyState>(KEY_STATE),
    clientIp: request.ip,
    now: deps.now(),
  });

  app.get('/api/v1/health', async () => ({ status: 'ok' }));

  app.post('/api/v1/cli/login', requireKey, async (request) => {
    const body = parseLoginBody(request.body);
    const outcome = await login(store, caller(request), body.device, body.rebind);
    if (outcome.ok) return loginJson(outcome.record, outcome.device, outcome.rebound);
    if (outcome.reason === 'device_mismatch') throw deviceMismatch(outcome.bound);
    if (outcome.reason === 'server_key') {
      throw new ApiError(
        403,
        'forbidden',
        'This is a server key: server keys are never bound to a device. Use it with SEKUIRE_API_KEY instead of logging in.',
      );
    }
    // Revoked or expired while the body was on its way: the answer of the next request, now.
    throw outcome.reason === 'revoked'
      ? new ApiError(401, 'key_revoked', 'This API key has been revoked.')
      : new ApiError(401, 'key_expired', 'This API key has expired.');
  });

  app.get('/api/v1/cli/status', requireKey, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const who = caller(request);
    const check = await currentDevice(store, who, fingerprint);
    if (!check.ok) throw deviceMismatch(check.bound);
    return statusJson(who.state.record, check.device);
  });

  app.get('/api/v1/cli/whoami', requireKey, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const who = caller(request);
    const check = await currentDevice(store, who, fingerprint);
    if (!check.ok) throw deviceMismatch(check.bound);
    return whoamiJson(who.state.record, check.device);
  });

  app.post('/api/v1/cli/logout', requireKey, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const outcome = await logout(store, caller(request), fingerprint);
    if (!outcome.ok) throw deviceMismatch(outcome.bound);
    return { unbound: outcome.unbound };
  });
};
