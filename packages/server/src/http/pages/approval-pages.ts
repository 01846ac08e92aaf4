// The pages where a person approves a CLI login, /cli/authorize (browser) and /device (device code),
// and a key's move to another device, /move.
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type AskingDevice,
  approveLoopback,
  decideDeviceGrant,
  loopbackRedirect,
  pendingDeviceGrant,
  recordDenial,
} from '../../domain/cli-grants.js';
import type { Actor } from '../../domain/managed-keys.js';
import { decideMove, pendingMoveByCode, visibleMove } from '../../domain/moves.js';
import { shownText } from '../../domain/text.js';
import { ApiError, rateLimited } from '../api-error.js';
import { decisionError } from '../moves-api.js';
import type { WebDeps, Who } from '../session-auth.js';
import { form } from './forms.js';
import { lifetimeChoice } from './key-choices.js';
import { pageRoutes } from './routes.js';

/** What the dashboard plugin shares with these pages: the page chrome and who acts. */
export interface PageKit {
  readonly page: (
    request: FastifyRequest,
    reply: FastifyReply,
    title: string,
    extra: Record<string, unknown>,
  ) => Record<string, unknown>;
  readonly actor: (signedIn: Who, request: FastifyRequest) => Actor;
}

const CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const CONFIRM_PATTERN = /^[A-Z]{2,12}-[A-Z]{2,12}$/;
const FINGERPRINT_PREFIX = /^[0-9a-f]{8,64}$/;
/**
 * The authorize page's form is answered with a redirect to the CLI's listener, which CSP's
 * form-action must allow (Chromium checks it for redirects too): 127.0.0.1 only, any port (see
 * loopbackRedirect for why not [::1]).
 */
const AUTHORIZE_CSP =
  "default-src 'none';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';form-action 'self' http://127.0.0.1:*;frame-ancestors 'none';base-uri 'none'";
/** Typed codes looked up per address per window: 20^8 codes cannot be tried out. */
const CODE_LOOKUPS = { max: 30, timeWindow: 15 * 60_000 };

interface AuthorizeRequest {
  readonly redirectUri: URL;
  readonly state: string;
  readonly codeChallenge: string;
  readonly device: AskingDevice;
  readonly confirm: string;
  readonly fingerprint: string | undefined;
}

/** An optional fact, cleaned like the others; left out when nothing printable remains. */
function optionalText<K extends string>(name: K, value: string | undefined): Partial<Record<K, string>> {
  const text = shownText(value, '');
  return text === '' ? {} : ({ [name]: text } as Record<K, string>);
}

/**
 * The parameters of PROTOCOL.md's authorize URL. A redirect URI off loopback is refused with a
 * page and never redirected to: that is how a login code would be sent to someone else.
 */
function authorizeRequest(params: Record<string, string | undefined>): AuthorizeRequest {
  const redirectUri = loopbackRedirect(params.redirect_uri ?? '');
  if (redirectUri === undefined) {
    throw new ApiError(
      'invalid_request',
      'This login link is not valid: its redirect_uri must be http://127.0.0.1:PORT/… (the CLI on this computer). Nothing was sent anywhere.',
    );
  }
  const state = params.state ?? '';
  if (state === '' || state.length > 200)
    throw new ApiError('invalid_request', 'This login link has no valid state.');
  if (params.code_challenge_method !== 'S256' || !CHALLENGE_PATTERN.test(params.code_challenge ?? '')) {
    throw new ApiError(
      'invalid_request',
      'This login link needs a PKCE code_challenge with code_challenge_method=S256.',
    );
  }
  const confirm = params.confirm ?? '';
  if (!CONFIRM_PATTERN.test(confirm))
    throw new ApiError('invalid_request', 'This login link has no confirm words.');
  const fingerprint = FINGERPRINT_PREFIX.test(params.fingerprint ?? '')
    ? params.fingerprint?.slice(0, 12)
    : undefined;
  return {
    redirectUri,
    state,
    codeChallenge: params.code_challenge as string,
    device: {
      name: shownText(params.device_name, 'unnamed device'),
      os: shownText(params.device_os, 'unknown OS'),
      ...optionalText('osVersion', params.device_os_version),
      ...optionalText('arch', params.device_arch),
    },
    confirm,
    fingerprint,
  };
}

/**
 * Whether the device that asked and the browser approving are on one network, as far as the
 * server sees: the same IPv4 address (behind one NAT), or the same IPv6 /64. Everything else on
 * the device page is what the device chose to say about itself; this is not.
 */
export function sameNetwork(asker: string | null, approver: string): boolean {
  if (asker === null) return false;
  return normalizeIP(asker, 64) === normalizeIP(approver, 64);
}

/** RFC 6749 §4.1.2: the answer goes back to the CLI as query parameters of its own redirect URI. */
function backToCli(target: URL, fields: Record<string, string>): string {
  const url = new URL(target.href);
  for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value);
  return url.href;
}

export function registerApprovalPages(app: FastifyInstance, deps: WebDeps, kit: PageKit): void {
  const pages = pageRoutes(app);
  const lookups = app.createRateLimit({
    ...CODE_LOOKUPS,
    keyGenerator: (request) => `device-code ${request.ip}`,
  });

  pages.get(
    '/cli/authorize',
    'signed-in',
    async (request, reply) => {
      const asked = authorizeRequest(request.query as Record<string, string>);
      reply.header('content-security-policy', AUTHORIZE_CSP);
      return reply.view(
        'authorize.eta',
        kit.page(request, reply, 'Authorize the CLI', {
          asked,
          query: request.query,
          listener: asked.redirectUri.host,
        }),
      );
    },
    { check: (request) => void authorizeRequest(request.query as Record<string, string>) },
  );

  pages.post(
    '/cli/authorize',
    'signed-in',
    async (request, reply, signedIn) => {
      const fields = form(request);
      const asked = authorizeRequest(fields);
      const actor = kit.actor(signedIn, request);
      if (fields.decision !== 'authorize') {
        await recordDenial(deps.store, actor, 'loopback', asked.device);
        return reply.redirect(
          backToCli(asked.redirectUri, { error: 'access_denied', state: asked.state }),
          303,
        );
      }
      const chosen = lifetimeChoice(fields);
      if (!chosen.ok) {
        // Nothing approved, nothing sent to the CLI: the page again, as the person left it.
        return reply
          .code(400)
          .header('content-security-policy', AUTHORIZE_CSP)
          .view(
            'authorize.eta',
            kit.page(request, reply, 'Authorize the CLI', {
              asked,
              query: fields,
              listener: asked.redirectUri.host,
              formError: chosen.formError,
              values: chosen.values,
            }),
          );
      }
      const code = await approveLoopback(deps.store, deps.secret, actor, {
        redirectUri: asked.redirectUri.href,
        codeChallenge: asked.codeChallenge,
        device: asked.device,
        ...(asked.fingerprint !== undefined && { fingerprintPrefix: asked.fingerprint }),
        lifetime: chosen.lifetime,
      });
      return reply.redirect(backToCli(asked.redirectUri, { code, state: asked.state }), 303);
    },
    { check: (request) => void authorizeRequest(form(request)) },
  );

  pages.get('/device', 'signed-in', async (request, reply) => {
    const typed = ((request.query as { code?: string }).code ?? '').slice(0, 40);
    if (typed === '')
      return reply.view('device.eta', kit.page(request, reply, 'Device login', { step: 'code', typed }));
    const limit = await lookups(request);
    if (!limit.isAllowed && limit.isExceeded) {
      return reply
        .code(429)
        .headers(rateLimited('codes tried', limit.ttlInSeconds).headers)
        .view(
          'device.eta',
          kit.page(request, reply, 'Device login', {
            step: 'code',
            typed,
            error: `Too many codes tried. Wait ${Math.ceil(limit.ttlInSeconds / 60)} min and try again.`,
          }),
        );
    }
    const grant = await pendingDeviceGrant(deps.store, typed, deps.now());
    if (grant === undefined) {
      return reply.code(404).view(
        'device.eta',
        kit.page(request, reply, 'Device login', {
          step: 'code',
          typed,
          error:
            'That code is not valid, or it has expired or been used. Check the code your terminal shows.',
        }),
      );
    }
    return reply.view(
      'device.eta',
      kit.page(request, reply, 'Device login', {
        step: 'confirm',
        grant,
        approverIp: request.ip,
        elsewhere: !sameNetwork(grant.requested_ip, request.ip),
      }),
    );
  });

  pages.post('/device', 'signed-in', async (request, reply, signedIn) => {
    const fields = form(request);
    const grant = await pendingDeviceGrant(deps.store, fields.code ?? '', deps.now());
    if (grant === undefined || grant.id !== fields.grant) {
      throw new ApiError(
        'not_found',
        'That code is not valid anymore: it expired, or it was already decided.',
      );
    }
    const approve = fields.decision === 'authorize';
    const chosen = lifetimeChoice(fields);
    if (approve && !chosen.ok) {
      return reply.code(400).view(
        'device.eta',
        kit.page(request, reply, 'Device login', {
          step: 'confirm',
          grant,
          approverIp: request.ip,
          elsewhere: !sameNetwork(grant.requested_ip, request.ip),
          formError: chosen.formError,
          values: chosen.values,
        }),
      );
    }
    const decided = await decideDeviceGrant(
      deps.store,
      kit.actor(signedIn, request),
      grant.id,
      approve && chosen.ok ? chosen.lifetime : undefined,
    );
    if (!decided)
      throw new ApiError(
        'not_found',
        'That code is not valid anymore: it expired, or it was already decided.',
      );
    return reply.view(
      'device.eta',
      kit.page(request, reply, 'Device login', { step: approve ? 'approved' : 'denied', grant }),
    );
  });

  pages.get('/move', 'signed-in', async (request, reply, signedIn) => {
    const typed = ((request.query as { code?: string }).code ?? '').slice(0, 40);
    const title = 'Move a key';
    if (typed === '') return reply.view('move.eta', kit.page(request, reply, title, { step: 'code', typed }));
    const limit = await lookups(request);
    if (!limit.isAllowed && limit.isExceeded) {
      return reply
        .code(429)
        .headers(rateLimited('codes tried', limit.ttlInSeconds).headers)
        .view(
          'move.eta',
          kit.page(request, reply, title, {
            step: 'code',
            typed,
            error: `Too many codes tried. Wait ${Math.ceil(limit.ttlInSeconds / 60)} min and try again.`,
          }),
        );
    }
    const move = await pendingMoveByCode(deps.store, signedIn.user.id, typed, deps.now());
    if (move === undefined) {
      return reply.code(404).view(
        'move.eta',
        kit.page(request, reply, title, {
          step: 'code',
          typed,
          error:
            'That code is not valid, or the move expired or was decided, or its key is not one you can manage. Check the code the new device shows.',
        }),
      );
    }
    const others = await deps.store.read.moves.otherPending(move.key_id, move.id, deps.now().toISOString());
    return reply.view('move.eta', kit.page(request, reply, title, { step: 'confirm', move, others }));
  });

  pages.post('/move', 'signed-in', async (request, reply, signedIn) => {
    const fields = form(request);
    const approve = fields.decision === 'approve';
    const actor = kit.actor(signedIn, request);
    const outcome = await decideMove(deps.store, actor, fields.move ?? '', approve);
    if (!outcome.ok) throw decisionError(outcome);
    const move = await visibleMove(deps.store, signedIn.user.id, outcome.move.id);
    return reply.view(
      'move.eta',
      kit.page(request, reply, 'Move a key', {
        step: approve ? 'approved' : 'denied',
        move,
        // Every VM is "vm": the device that lost the key is told apart from the one that got it.
        movedFrom:
          outcome.from === undefined
            ? undefined
            : `${outcome.from.name} (${[outcome.from.os_version || outcome.from.os, `fingerprint ${outcome.from.fingerprint.slice(0, 12)}…`, outcome.from.last_ip ? `last address ${outcome.from.last_ip}` : ''].filter(Boolean).join(', ')})`,
      }),
    );
  });
}
