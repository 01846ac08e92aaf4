// The CLI's endpoints (PROTOCOL.md) and /health: API keys authenticate, checked before a body is read.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { pastBinding } from '../domain/binding-history.js';
import { type Caller, currentDevice, login, logout } from '../domain/bindings.js';
import type { MoveRow } from '../domain/moves.js';
import { type ExpectedKey, storedDeviceKey } from '../domain/proofs.js';
import type { KeyState } from '../store/key-cache.js';
import type { DeviceRow } from '../store/queries/devices.js';
import { ApiError } from './api-error.js';
import { authenticate, type KeyAuthDeps } from './key-auth.js';
import type { ProofCheck } from './proof-check.js';
import { deviceMismatch, loginJson, statusJson, webOrigin, whoamiJson } from './responses.js';
import { DEVICE_HEADER, deviceFingerprint, parseLoginBody } from './validation.js';

const KEY_STATE = 'sekuireKeyState';

export interface CliDeps extends KeyAuthDeps {
  readonly checkProof: ProofCheck;
  readonly allowSelfRebind: boolean;
}

/** The device key a key's binding holds: every request with the key must prove it. */
export function bindingKey(state: KeyState): ExpectedKey | undefined {
  const device = state.device;
  if (device?.public_key == null || device.key_thumbprint == null) return undefined;
  return { publicKey: device.public_key, thumbprint: device.key_thumbprint };
}

/** PROTOCOL.md "Moving a key": where and how the new device's move is approved. */
function moveJson(request: FastifyRequest, move: MoveRow, bound: DeviceRow, now: Date) {
  const verification = `${webOrigin(request)}/move`;
  return {
    move: {
      id: move.id,
      user_code: move.user_code,
      verification_uri: verification,
      verification_uri_complete: `${verification}?code=${move.user_code}`,
      expires_in: Math.max(0, Math.round((Date.parse(move.expires_at) - now.getTime()) / 1000)),
      interval: move.interval_seconds,
      // Extension: the device the key leaves, for the CLI to name (never its fingerprint).
      from_device: { name: bound.name, os: bound.os, bound_at: bound.bound_at },
    },
  };
}

/** A Fastify plugin: its decorators stay inside it. */
export const cliApi: FastifyPluginAsync<CliDeps> = async (app, deps) => {
  const { store } = deps;
  app.decorateRequest(KEY_STATE, null);

  // A route-level hook rather than a global one: unknown paths answer 404 without a key.
  const requireKey = {
    onRequest: async (request: FastifyRequest) => {
      request.setDecorator(KEY_STATE, await authenticate(request, deps));
    },
  };
  // And once the body is in (a proof covers it): the device key the binding holds, if any. A
  // request from another fingerprint (or none) is left to the route: it answers 409 saying
  // where the key is bound (or 400), as it did before device proof.
  const requireKeyAndProof = {
    ...requireKey,
    preHandler: async (request: FastifyRequest) => {
      const state = request.getDecorator<KeyState>(KEY_STATE);
      const expected = bindingKey(state);
      if (expected === undefined || request.headers[DEVICE_HEADER] !== state.device?.fingerprint) return;
      await deps.checkProof(request, expected, state.record.key.id);
    },
  };
  const caller = (request: FastifyRequest): Caller => ({
    state: request.getDecorator<KeyState>(KEY_STATE),
    clientIp: request.ip,
    now: deps.now(),
  });

  app.get('/api/v1/health', async () => ({ status: 'ok' }));

  app.post('/api/v1/cli/login', requireKey, async (request: FastifyRequest, reply: FastifyReply) => {
    const body = parseLoginBody(request.body);
    const who = caller(request);
    // The login's own proof is checked against the key it registers: it shows this device holds
    // the private half (and, like every proof, covers the body, so the key cannot be swapped).
    const deviceKey = body.publicKey === undefined ? undefined : storedDeviceKey(body.publicKey);
    if (deviceKey !== undefined) await deps.checkProof(request, deviceKey, who.state.record.key.id);
    const outcome = await login(store, who, {
      facts: body.device,
      deviceKey,
      rebind: body.rebind,
      selfRebind: deps.allowSelfRebind,
    });
    if (outcome.ok) return loginJson(outcome.record, outcome.device, outcome.rebound);
    switch (outcome.reason) {
      case 'move_requested':
        return reply.code(202).send(moveJson(request, outcome.move, outcome.bound, who.now));
      case 'device_mismatch':
        throw deviceMismatch(outcome.bound, outcome.sameMachine === true);
      case 'device_key_required':
        deps.observe?.proofRefused('proof_required');
        throw new ApiError(
          'proof_required',
          'This backend binds keys to a device key: the login must send device.public_key and be signed with it. Update the sekuire CLI.',
        );
      case 'server_key':
        throw new ApiError(
          'forbidden',
          'This is a server key: server keys are never bound to a device. Use it with SEKUIRE_API_KEY instead of logging in.',
        );
      // Revoked or expired while the body was on its way: the answer of the next request, now.
      case 'revoked':
        throw new ApiError('key_revoked', 'This API key has been revoked.');
      case 'expired':
        throw new ApiError('key_expired', 'This API key has expired.');
    }
  });

  app.get('/api/v1/cli/status', requireKeyAndProof, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const who = caller(request);
    const check = await currentDevice(store, who, fingerprint);
    if (!check.ok) throw deviceMismatch(check.bound);
    const answer = statusJson(who.state.record, check.device);
    // Extension: a key bound to no device says whether this device held it, and how that ended,
    // so that a login stored while it did is known to be stale.
    if (check.device !== undefined || who.state.record.key.type === 'server') return answer;
    return { ...answer, past_binding: await pastBinding(store, who.state.record.key.id, fingerprint) };
  });

  app.get('/api/v1/cli/whoami', requireKeyAndProof, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const who = caller(request);
    const check = await currentDevice(store, who, fingerprint);
    if (!check.ok) throw deviceMismatch(check.bound);
    return whoamiJson(who.state.record, check.device);
  });

  app.post('/api/v1/cli/logout', requireKeyAndProof, async (request) => {
    const fingerprint = deviceFingerprint(request.headers);
    const outcome = await logout(store, caller(request), fingerprint);
    if (!outcome.ok) throw deviceMismatch(outcome.bound);
    return { unbound: outcome.unbound };
  });
};
