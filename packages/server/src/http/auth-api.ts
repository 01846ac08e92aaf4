// Sessions for people (DASHBOARD.md): sign in, refresh, sign out, who am I. Bearer tokens only.
import type { FastifyPluginAsync } from 'fastify';
import { me, refresh, signIn, signOut } from '../domain/sessions.js';
import { ApiError, rateLimited } from './api-error.js';
import { identify } from './request-log.js';
import { requireWho, type WebDeps } from './session-auth.js';
import type { SignInGate } from './sign-in-gate.js';
import { parseRefreshBody, parseSignInBody } from './validation.js';

/** The API and the sign-in page share one gate, so both count toward the same limits. */
export interface SignInDeps extends WebDeps {
  readonly signInGate: SignInGate;
}

export function tooManySignIns(retryAfter: number): ApiError {
  return rateLimited('sign-in attempts', retryAfter);
}

/** Every password slot taken, and the line for them full: nothing was checked. */
function tooManyAtOnce(): ApiError {
  return new ApiError(
    'service_unavailable',
    'Too many sign-ins at once; retry in a second.',
    {},
    { 'retry-after': '1' },
  );
}

export const authApi: FastifyPluginAsync<SignInDeps> = async (app, deps) => {
  const gate = deps.signInGate;

  app.post('/api/v1/auth/login', async (request) => {
    const body = parseSignInBody(request.body);
    const retryAfter = await gate.admit(request, body.email);
    if (retryAfter !== undefined) {
      deps.observe?.signedIn('rate_limited');
      throw tooManySignIns(retryAfter);
    }
    const outcome = await signIn(
      deps.store,
      deps.secret,
      { ...body, clientIp: request.ip, now: deps.now(), kind: 'api' },
      deps.passwordCost,
      deps.passwordSlots,
    );
    if (!outcome.ok && outcome.reason === 'busy') {
      deps.observe?.signedIn('busy');
      throw tooManyAtOnce();
    }
    if (!outcome.ok || !('tokens' in outcome)) {
      await gate.failed(body.email);
      deps.observe?.signedIn('invalid_credentials');
      throw new ApiError('invalid_credentials', 'Wrong email or password.');
    }
    deps.observe?.signedIn('ok');
    identify(request, { user_id: outcome.user.id });
    return {
      access_token: outcome.tokens.access_token,
      token_type: 'bearer',
      expires_in: outcome.tokens.expires_in,
      refresh_token: outcome.tokens.refresh_token,
      user: { id: outcome.user.id, email: outcome.user.email, name: outcome.user.name },
    };
  });

  app.post('/api/v1/auth/refresh', async (request) => {
    const token = parseRefreshBody(request.body);
    const outcome = await refresh(deps.store, deps.secrets, token, request.ip, deps.now());
    if (!outcome.ok) {
      throw new ApiError(
        'invalid_token',
        outcome.reason === 'reused'
          ? 'This refresh token was already used: the session has been ended. Sign in again.'
          : 'The refresh token is not valid (expired, or its session ended). Sign in again.',
      );
    }
    return outcome.tokens;
  });

  app.post('/api/v1/auth/logout', async (request) => {
    const signedIn = requireWho(request);
    if (signedIn.via !== 'bearer')
      throw new ApiError('invalid_token', 'Send Authorization: Bearer <access_token>.');
    await signOut(deps.store, signedIn, request.ip, deps.now());
    return { logged_out: true };
  });

  app.get('/api/v1/auth/me', async (request) => {
    const signedIn = requireWho(request);
    const profile = await me(deps.store, signedIn.user.id);
    if (profile === undefined) throw new ApiError('invalid_token', 'This account no longer exists.');
    return {
      id: profile.id,
      email: profile.email,
      name: profile.name,
      organizations: profile.organizations.map((org) => ({ id: org.id, name: org.name, role: org.role })),
      created_at: profile.created_at,
      last_login_at: profile.last_login_at,
    };
  });
};
