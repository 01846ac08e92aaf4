// Login without a pasted key (PROTOCOL.md "Browser login"): device codes and the token exchange.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { exchangeCode, type Granted, pollDeviceGrant, startDeviceGrant } from '../domain/cli-grants.js';
import { ApiError } from './api-error.js';
import type { KeyAuthDeps } from './key-auth.js';
import { loginJson } from './responses.js';
import { parseDeviceCodeBody, parseTokenBody } from './validation.js';

/** Where people approve: this server's own origin, as the CLI reached it. */
export function webOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

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

export const cliGrantsApi: FastifyPluginAsync<KeyAuthDeps> = async (app, deps) => {
  app.post('/api/v1/cli/device/code', async (request) => {
    const device = parseDeviceCodeBody(request.body);
    const grant = await startDeviceGrant(deps.store, deps.secret, device, request.ip, deps.now());
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
    const refuse = async (message: string) => {
      // A code that does not exist is a guess, counted like an unknown key.
      const verdict = await deps.countFailure(request);
      if (verdict.limited) {
        throw new ApiError(
          429,
          'rate_limited',
          `Too many failed checks; retry in ${verdict.retryAfterSeconds} seconds.`,
          {},
          {
            'retry-after': String(verdict.retryAfterSeconds),
          },
        );
      }
      throw new ApiError(400, 'invalid_grant', message);
    };
    if (body.grantType === 'authorization_code') {
      const outcome = await exchangeCode(deps.store, deps.secret, { ...body, clientIp: request.ip, now });
      if (!outcome.ok) return refuse(outcome.message);
      return grantedJson(outcome.granted);
    }
    const outcome = await pollDeviceGrant(deps.store, deps.secret, body.deviceCode, request.ip, now);
    if (outcome.status === 'granted') return grantedJson(outcome.granted);
    if (outcome.status === 'invalid_grant') return refuse(outcome.message);
    throw new ApiError(400, outcome.status, MESSAGES[outcome.status]);
  });
};
