// Login without a pasted key (PROTOCOL.md "Browser login"), device codes, and polling for a move.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  deviceGrantKey,
  exchangeCode,
  type Granted,
  pollDeviceGrant,
  startDeviceGrant,
} from '../domain/cli-grants.js';
import { moveOfKey, pollMove } from '../domain/moves.js';
import { storedDeviceKey } from '../domain/proofs.js';
import { ApiError, rateLimited } from './api-error.js';
import type { CliDeps } from './cli-api.js';
import { type DeviceCodeLimit, deviceCodeGate } from './device-code-limit.js';
import { authenticate } from './key-auth.js';
import { loginJson, webOrigin } from './responses.js';
import { parseDeviceCodeBody, parseTokenBody } from './validation.js';

/** The login answer, plus the new key itself: the only answer that ever carries it. */
function grantedJson(granted: Granted) {
  return {
    ...loginJson(granted, granted.device, false),
    api_key: granted.apiKey.value,
  };
}

const MESSAGES = {
  authorization_pending: 'Not approved yet: keep polling at the interval.',
  slow_down: 'Polling too fast: wait 5 seconds longer between requests from now on.',
  access_denied: 'The request was denied in the browser.',
  expired_token: 'The device code expired before it was approved.',
} as const;

const MOVE_MESSAGES = {
  ...MESSAGES,
  authorization_pending: 'The move is not approved yet: keep polling at the interval.',
  access_denied: 'The move was denied.',
  expired_token: 'The move expired before it was approved.',
} as const;

export interface CliGrantsDeps extends CliDeps {
  readonly deviceCodeLimit: DeviceCodeLimit;
}

export const cliGrantsApi: FastifyPluginAsync<CliGrantsDeps> = async (app, deps) => {
  const deviceCodes = deviceCodeGate(app, deps.deviceCodeLimit);

  /** A refused grant is a guess, counted like an unknown key. */
  const refuse = async (request: FastifyRequest, message: string): Promise<never> => {
    const verdict = await deps.countFailure(request);
    if (verdict.limited) {
      throw rateLimited('failed checks', verdict.retryAfterSeconds);
    }
    throw new ApiError('invalid_grant', message);
  };

  app.post('/api/v1/cli/device/code', async (request) => {
    const body = parseDeviceCodeBody(request.body);
    const refused = await deviceCodes(request);
    if (refused !== undefined) {
      if (refused.firstInWindow) {
        await deps.store.read.audit.record({
          at: deps.now().toISOString(),
          event: 'rate_limited',
          client_ip: request.ip,
          detail: {
            retry_after_seconds: refused.retryAfterSeconds,
            scope: refused.scope,
            limit: 'device_code',
          },
        });
      }
      const who = refused.scope === 'address' ? 'this address' : 'all addresses together';
      throw rateLimited(`device codes asked for from ${who}`, refused.retryAfterSeconds);
    }
    const deviceKey = storedDeviceKey(body.publicKey);
    // Signed with the key it registers: only the device holding it asks for a key bound to it.
    await deps.checkProof(request, deviceKey, null);
    const grant = await startDeviceGrant(
      deps.store,
      deps.secret,
      body.device,
      deviceKey,
      request.ip,
      deps.now(),
    );
    const verification = `${webOrigin(request)}/device`;
    return {
      device_code: grant.deviceCode,
      user_code: grant.userCode,
      verification_uri: verification,
      verification_uri_complete: `${verification}?code=${grant.userCode}`,
      expires_in: grant.expiresIn,
      interval: grant.interval,
    };
  });

  app.post('/api/v1/cli/token', async (request) => {
    const body = parseTokenBody(request.body);
    const now = deps.now();
    if (body.grantType === 'authorization_code') {
      const deviceKey = storedDeviceKey(body.publicKey);
      await deps.checkProof(request, deviceKey, null);
      const outcome = await exchangeCode(deps.store, deps.secrets, {
        ...body,
        deviceKey,
        clientIp: request.ip,
        now,
      });
      if (!outcome.ok) return refuse(request, outcome.message);
      return grantedJson(outcome.granted);
    }
    if (body.grantType === 'move') {
      // The key asks, and the device that asked for the move proves itself: the move's key.
      const state = await authenticate(request, deps);
      const move = await moveOfKey(deps.store, state.record.key.id, body.moveId);
      if (move === undefined) return refuse(request, 'No such move for this key.');
      await deps.checkProof(
        request,
        { publicKey: move.public_key, thumbprint: move.key_thumbprint },
        state.record.key.id,
      );
      const outcome = await pollMove(deps.store, state.record, move.id, request.ip, now);
      if (outcome.status === 'moved') return loginJson(outcome.record, outcome.device, true);
      if (outcome.status === 'invalid_grant') return refuse(request, outcome.message);
      if (outcome.status === 'authorization_pending' && outcome.otherRequests > 0) {
        throw new ApiError(
          'authorization_pending',
          'The move is not approved yet, and another device asked to take this key too: the person who approves sees both. Keep polling at the interval.',
          { other_requests: outcome.otherRequests },
        );
      }
      throw new ApiError(outcome.status, MOVE_MESSAGES[outcome.status]);
    }
    // Each poll is signed by the device key the code was asked for (the one the new key binds).
    const grantKey = await deviceGrantKey(deps.store, deps.secrets, body.deviceCode);
    if (grantKey === undefined) return refuse(request, 'The device code is not valid.');
    await deps.checkProof(request, grantKey, null);
    const outcome = await pollDeviceGrant(deps.store, deps.secrets, body.deviceCode, request.ip, now);
    if (outcome.status === 'granted') return grantedJson(outcome.granted);
    if (outcome.status === 'invalid_grant') return refuse(request, outcome.message);
    throw new ApiError(outcome.status, MESSAGES[outcome.status]);
  });
};
