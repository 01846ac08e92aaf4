// The endpoints of PROTOCOL.md (and /health); the key is checked before a body is read.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Caller, currentDevice, login, logout } from './bindings.js';
import { authenticate, type KeyAuthDeps } from './key-auth.js';
import type { KeyState } from './key-cache.js';
import { loginJson, statusJson, whoamiJson } from './responses.js';
import { deviceFingerprint, parseLoginBody } from './validation.js';

const KEY_STATE = 'sekuireKeyState';

export function registerRoutes(app: FastifyInstance, deps: KeyAuthDeps): void {
  const { store } = deps;
  app.decorateRequest(KEY_STATE, null);

  // A route-level hook rather than a global one: unknown paths answer 404 without a key.
  const requireKey = {
    onRequest: async (request: FastifyRequest) => {
      request.setDecorator(KEY_STATE, await authenticate(request, deps));
    },
  };
  const caller = (request: FastifyRequest): Caller => {
    const state = request.getDecorator<KeyState>(KEY_STATE);
    return { record: state.record, device: state.device, clientIp: request.ip, now: deps.now() };
  };

  app.get('/api/v1/health', async () => ({ status: 'ok' }));

  app.post('/api/v1/cli/login', requireKey, async (request) => {
    const body = parseLoginBody(request.body);
    const who = caller(request);
    const outcome = login(store, who, body.device, body.rebind);
    return loginJson(who.record, outcome.device, outcome.rebound);
  });

  app.get('/api/v1/cli/status', requireKey, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const who = caller(request);
    return statusJson(who.record, currentDevice(store, who, fingerprint));
  });

  app.get('/api/v1/cli/whoami', requireKey, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const who = caller(request);
    return whoamiJson(who.record, currentDevice(store, who, fingerprint));
  });

  app.post('/api/v1/cli/logout', requireKey, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    return { unbound: logout(store, caller(request), fingerprint) };
  });
}
