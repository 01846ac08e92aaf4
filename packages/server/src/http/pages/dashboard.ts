// The dashboard's pages (DASHBOARD.md): sign-in, API Keys, Devices (Members: members-pages.ts); server-rendered, plain forms.
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { devicesFor, unbindDeviceFor } from '../../domain/devices.js';
import type { CreatedKey } from '../../domain/keys.js';
import { revocationReasons } from '../../domain/leaks.js';
import {
  type Actor,
  createKeyFor,
  keyFor,
  listKeysFor,
  MAX_GRACE_SECONDS,
  managedStatus,
  revokeKeyFor,
  rollKeyFor,
} from '../../domain/managed-keys.js';
import { pendingMovesFor } from '../../domain/moves.js';
import { permissionsProblem } from '../../domain/permissions.js';
import { signIn, signOut } from '../../domain/sessions.js';
import { textProblem, textRuleWords } from '../../domain/text.js';
import type { VisibleKey } from '../../store/queries/keys.js';
import { ApiError, type ApiErrorCode, rateLimited } from '../api-error.js';
import type { SignInDeps } from '../auth-api.js';
import { classifyError, unexpectedErrorLine } from '../error-replies.js';
import { firstValues } from '../fields.js';
import { identify } from '../request-log.js';
import { loginCommand } from '../responses.js';
import { clearSessionCookie, setSessionCookie, type Who, who } from '../session-auth.js';
import { type PageKit, registerApprovalPages } from './approval-pages.js';
import { pageEscape } from './escape.js';
import { form } from './forms.js';
import { choice, KEY_CHOICES, type LifetimeValues, lifetimeChoice } from './key-choices.js';
import { managedBy, registerMembersPages } from './members-pages.js';
import { pageRoutes } from './routes.js';
import { webRoot } from './web-root.js';

export const KEYS_PER_PAGE = 50;
const KEYS_TAB = '/dashboard/settings?tab=api-keys';
const DEVICES_TAB = '/dashboard/settings?tab=devices';
const TYPE_CHOICES = ['client', 'server'] as const;
const GRACE_CHOICES = [
  { value: '0', label: 'Not at all: stop it now' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '24 hours' },
  { value: String(MAX_GRACE_SECONDS), label: '7 days' },
];

/** What a page says instead of the API's words, for the errors whose API message is for programs. */
const PAGE_MESSAGES: Partial<Record<ApiErrorCode, string>> = {
  csrf_failed:
    'This form has expired or did not come from this site. Go back, reload the page and try again.',
  service_unavailable: 'The server cannot reach its database right now. Try again in a moment.',
  internal_error: 'Something went wrong on our side. It has been logged; try again.',
};

/** The error page's heading (and title) by status: the message under it says what to do. */
const ERROR_HEADINGS: Record<number, string> = {
  400: 'That request was not valid',
  403: 'Not allowed',
  404: 'Not found',
  409: 'That cannot be done now',
  429: 'Too many attempts',
  503: 'Temporarily unavailable',
};

function noSuchKey(): ApiError {
  return new ApiError('not_found', 'There is no such key (or it is not yours to manage).');
}

/** What the create form sent, kept so that a refused form comes back as the person left it. */
interface KeyFormValues extends LifetimeValues {
  readonly name: string;
  readonly type: string;
  readonly permissions: string;
}

/** A path a browser resolves on this site: one leading slash, no second one, no backslash. */
function isLocalPath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !path.includes('\\');
}

/**
 * `?next=` only ever leads to a path on this site: never another origin, never a scheme. Both
 * what was asked and what would be sent are checked: `/.//evil.example` looks local but
 * resolves to `//evil.example`, which a browser reads as another host.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !isLocalPath(next)) return KEYS_TAB;
  try {
    const base = 'http://sekuire.invalid';
    const url = new URL(next, base);
    const target = `${url.pathname}${url.search}`;
    return url.origin === base && isLocalPath(target) ? target : KEYS_TAB;
  } catch {
    return KEYS_TAB;
  }
}

/** Times as people read them, relative to now for recent ones; the exact time stays in the markup. */
export function when(iso: string | null, now: Date): string {
  if (iso === null) return '';
  const ms = now.getTime() - Date.parse(iso);
  if (ms >= 0 && ms < 60_000) return 'just now';
  if (ms >= 0 && ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  if (ms >= 0 && ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ago`;
  return iso.slice(0, 10);
}

export const dashboard: FastifyPluginAsync<SignInDeps> = async (app, deps) => {
  const root = webRoot();
  await app.register(formbody, { parser: firstValues });
  await app.register(fastifyStatic, {
    root: `${root}assets`,
    prefix: '/assets/',
    index: false,
    wildcard: false,
  });
  await app.register(view, {
    engine: {
      eta: new Eta({ views: `${root}views`, autoEscape: true, escapeFunction: pageEscape, cache: true }),
    },
    root: `${root}views`,
    layout: 'layout.eta',
    production: true,
  });
  const gate = deps.signInGate;

  const actor: PageKit['actor'] = (signedIn: Who, request: FastifyRequest): Actor => ({
    user: signedIn.user,
    clientIp: request.ip,
    now: deps.now(),
  });
  const csrfToken = (reply: FastifyReply, request: FastifyRequest) =>
    reply.generateCsrf({ userInfo: who(request)?.sessionId ?? 'signed-out' });

  /** The page chrome every template shares. */
  const page = (
    request: FastifyRequest,
    reply: FastifyReply,
    title: string,
    extra: Record<string, unknown>,
  ) => ({
    title,
    signedIn: who(request),
    csrf: csrfToken(reply, request),
    now: deps.now(),
    when,
    // A self-hoster who follows "Next: run sekuire login" must reach this server, not the public one.
    loginCommand: loginCommand(request),
    membersTab: managedBy(request) !== undefined,
    // The selects of a new key's environment and expiry (key-lifetime.eta), wherever one is made.
    keyChoices: KEY_CHOICES,
    ...extra,
  });

  const renderKeys = async (
    request: FastifyRequest,
    reply: FastifyReply,
    signedIn: Who,
    extra: {
      created?: CreatedKey;
      rolledFrom?: VisibleKey;
      notice?: string;
      creating?: boolean;
      formError?: string;
      values?: KeyFormValues;
    },
    status = 200,
  ) => {
    const query = request.query as { page?: string };
    const requested = Math.max(1, Number.parseInt(query.page ?? '1', 10) || 1);
    const first = await listKeysFor(deps.store, signedIn.user.id, {
      limit: KEYS_PER_PAGE,
      offset: (requested - 1) * KEYS_PER_PAGE,
    });
    const pages = Math.max(1, Math.ceil(first.total / KEYS_PER_PAGE));
    const listing =
      requested > pages
        ? await listKeysFor(deps.store, signedIn.user.id, {
            limit: KEYS_PER_PAGE,
            offset: (pages - 1) * KEYS_PER_PAGE,
          })
        : first;
    const current = Math.min(requested, pages);
    const now = deps.now();
    // Why a revoked key was revoked, when it was not its owner's doing (a leak, a public report).
    const revocations = await revocationReasons(
      deps.store,
      listing.items.filter((key) => key.revoked_at !== null).map((key) => key.id),
    );
    return reply.code(status).view(
      'api-keys.eta',
      page(request, reply, 'API Keys', {
        tab: 'api-keys',
        keys: listing.items.map((key) => ({ ...key, status: managedStatus(key, now) })),
        revocations,
        total: listing.total,
        pageNumber: current,
        pages,
        from: listing.total === 0 ? 0 : (current - 1) * KEYS_PER_PAGE + 1,
        to: (current - 1) * KEYS_PER_PAGE + listing.items.length,
        // The key itself is in this answer only; the page's script replaces the POST in history
        // with the plain tab URL, so a reload fetches the page without it.
        replaceUrl: extra.created === undefined ? undefined : KEYS_TAB,
        ...extra,
      }),
    );
  };

  // The same classifier as the JSON answers (error-replies.ts), phrased for a person.
  app.setErrorHandler(async (thrown: FastifyError, request, reply) => {
    const { error, unexpected } = classifyError(thrown);
    if (unexpected) deps.logError(unexpectedErrorLine(thrown, request), request);
    const status = error.statusCode;
    const message = PAGE_MESSAGES[error.code] ?? error.message;
    const heading = ERROR_HEADINGS[status] ?? (status >= 500 ? 'Something went wrong' : 'That did not work');
    return reply
      .code(status)
      .headers(error.headers)
      .view('error.eta', page(request, reply, heading, { heading, message }));
  });

  const members = registerMembersPages(app, deps, { page, actor });
  registerApprovalPages(app, deps, { page, actor });
  const pages = pageRoutes(app);

  pages.get('/login', 'public', async (request, reply) => {
    const next = safeNext((request.query as { next?: string }).next);
    if (who(request) !== null) return reply.redirect(next, 303);
    return reply.view('login.eta', page(request, reply, 'Sign in', { next, email: '', error: undefined }));
  });

  pages.post('/login', 'public', async (request, reply) => {
    const body = form(request);
    const next = safeNext(body.next);
    const email = (body.email ?? '').trim().slice(0, 254);
    const password = (body.password ?? '').slice(0, 1024);
    const again = (status: number, error: string) =>
      reply.code(status).view('login.eta', page(request, reply, 'Sign in', { next, email, error }));
    if (email === '' || password === '') return again(400, 'Enter your email and password.');
    const retryAfter = await gate.admit(request, email);
    if (retryAfter !== undefined) {
      deps.observe?.signedIn('rate_limited');
      // The same 429 as the API's (api-error.ts), worded for the page.
      reply.headers(rateLimited('sign-in attempts', retryAfter).headers);
      return again(429, `Too many sign-in attempts. Try again in ${Math.ceil(retryAfter / 60)} min.`);
    }
    const outcome = await signIn(
      deps.store,
      deps.secret,
      { email, password, clientIp: request.ip, now: deps.now(), kind: 'cookie' },
      deps.passwordCost,
      deps.passwordSlots,
    );
    if (!outcome.ok && outcome.reason === 'busy') {
      deps.observe?.signedIn('busy');
      return again(503, 'Too many people are signing in at once. Try again in a moment.');
    }
    if (!outcome.ok || !('cookie' in outcome)) {
      await gate.failed(email);
      deps.observe?.signedIn('invalid_credentials');
      return again(401, 'Wrong email or password');
    }
    deps.observe?.signedIn('ok');
    identify(request, { user_id: outcome.user.id });
    setSessionCookie(reply, outcome.cookie, outcome.expiresAt);
    gate.remember(reply, email);
    return reply.redirect(next, 303);
  });

  pages.post('/logout', 'public', async (request, reply) => {
    const signedIn = who(request);
    if (signedIn !== null) await signOut(deps.store, signedIn, request.ip, deps.now());
    clearSessionCookie(reply);
    return reply.redirect('/login', 303);
  });

  pages.get('/dashboard', 'signed-in', async (_request, reply) => {
    return reply.redirect(KEYS_TAB, 302);
  });

  pages.get('/dashboard/settings', 'signed-in', async (request, reply, signedIn) => {
    const query = request.query as { tab?: string; create?: string; done?: string };
    if (query.tab === 'devices') {
      const devices = await devicesFor(deps.store, signedIn.user.id);
      const moves = await pendingMovesFor(deps.store, signedIn.user.id, deps.now());
      return reply.view(
        'devices.eta',
        page(request, reply, 'Devices', {
          tab: 'devices',
          devices,
          moves,
          notice:
            query.done === 'unbound'
              ? 'The device was unbound: the key binds to the next device that logs in with it.'
              : undefined,
        }),
      );
    }
    if (query.tab === 'members') {
      const notice =
        query.done === 'removed'
          ? 'The member was removed: their sessions have ended, and their keys were revoked or transferred as you chose.'
          : query.done === 'role'
            ? 'The role was changed.'
            : undefined;
      return members.render(request, reply, signedIn, notice === undefined ? {} : { notice });
    }
    if (query.tab !== 'api-keys') return reply.redirect(KEYS_TAB, 302);
    const notice =
      query.done === 'revoked' ? 'The key was revoked: every request with it is now refused.' : undefined;
    return renderKeys(request, reply, signedIn, {
      creating: query.create === '1',
      ...(notice && { notice }),
    });
  });

  pages.post('/dashboard/keys', 'signed-in', async (request, reply, signedIn) => {
    const body = form(request);
    const lifetime = lifetimeChoice(body);
    const type = choice(body.type, TYPE_CHOICES);
    const values: KeyFormValues = {
      name: typeof body.name === 'string' ? body.name : '',
      ...lifetime.values,
      type: type ?? 'client',
      permissions: typeof body.permissions === 'string' ? body.permissions : '',
    };
    const refuse = (formError: string) =>
      renderKeys(request, reply, signedIn, { creating: true, formError, values }, 400);
    const nameProblem = textProblem(values.name);
    if (nameProblem === 'empty' || nameProblem === 'blank') return refuse('Give the key a name.');
    if (nameProblem !== undefined) return refuse(`The name must ${textRuleWords(nameProblem)}.`);
    const name = values.name.trim();
    if (!lifetime.ok && lifetime.field === 'environment') return refuse(lifetime.formError);
    if (type === undefined) return refuse('Choose the type from the list: client or server.');
    if (!lifetime.ok) return refuse(lifetime.formError);
    // Separated by spaces or commas, as people type lists.
    const permissions = values.permissions.split(/[\s,]+/).filter((value) => value !== '');
    const problem = permissionsProblem(permissions);
    if (problem !== undefined) return refuse(`Permissions: ${problem}`);
    const outcome = await createKeyFor(deps.store, deps.secret, actor(signedIn, request), {
      name,
      type,
      ...lifetime.lifetime,
      permissions,
    });
    if (!outcome.ok) {
      return renderKeys(
        request,
        reply,
        signedIn,
        { formError: 'You are not a member of any organization yet.' },
        409,
      );
    }
    return renderKeys(request, reply, signedIn, { created: outcome.created });
  });

  /** The page that asks before a revoke or a roll (and, refused, asks again). */
  const confirmView = (
    request: FastifyRequest,
    reply: FastifyReply,
    template: 'revoke.eta' | 'roll.eta',
    title: string,
    key: VisibleKey,
    extra: { formError?: string } = {},
  ) =>
    reply.view(
      template,
      page(request, reply, title, { tab: 'api-keys', key, graceChoices: GRACE_CHOICES, ...extra }),
    );
  const confirmPage =
    (template: 'revoke.eta' | 'roll.eta', title: string) =>
    async (request: FastifyRequest, reply: FastifyReply, signedIn: Who) => {
      const key = await keyFor(deps.store, signedIn.user.id, (request.params as { id: string }).id);
      if (key === undefined) throw noSuchKey();
      return confirmView(request, reply, template, title, key);
    };
  pages.get('/dashboard/keys/:id/revoke', 'signed-in', confirmPage('revoke.eta', 'Revoke key'));
  pages.get('/dashboard/keys/:id/roll', 'signed-in', confirmPage('roll.eta', 'Roll key'));

  pages.post('/dashboard/keys/:id/revoke', 'signed-in', async (request, reply, signedIn) => {
    const outcome = await revokeKeyFor(
      deps.store,
      actor(signedIn, request),
      (request.params as { id: string }).id,
      (seconds) => deps.observe?.revocationConfirmed(seconds),
    );
    if (!outcome.ok) throw noSuchKey();
    return reply.redirect(`${KEYS_TAB}&done=revoked`, 303);
  });

  pages.post('/dashboard/keys/:id/roll', 'signed-in', async (request, reply, signedIn) => {
    const id = (request.params as { id: string }).id;
    const grace = choice(
      form(request).grace,
      GRACE_CHOICES.map((option) => option.value),
    );
    const old = await keyFor(deps.store, signedIn.user.id, id);
    if (grace === undefined) {
      // Never a silent "stop it now": that would cut off whatever still uses the old key.
      if (old === undefined) throw noSuchKey();
      return confirmView(request, reply.code(400), 'roll.eta', 'Roll key', old, {
        formError: 'Choose from the list how long the old key keeps working.',
      });
    }
    const seconds = Number(grace);
    const outcome = await rollKeyFor(deps.store, deps.secret, actor(signedIn, request), id, {
      graceSeconds: seconds,
    });
    if (!outcome.ok && outcome.reason === 'not_found') {
      throw noSuchKey();
    }
    if (!outcome.ok || old === undefined)
      throw new ApiError('key_not_active', 'Only an active key can be rolled.');
    return renderKeys(request, reply, signedIn, {
      created: outcome.created,
      rolledFrom: { ...old, expires_at: outcome.oldExpiresAt },
    });
  });

  pages.post('/dashboard/devices/:id/unbind', 'signed-in', async (request, reply, signedIn) => {
    const outcome = await unbindDeviceFor(
      deps.store,
      actor(signedIn, request),
      (request.params as { id: string }).id,
    );
    if (!outcome.ok)
      throw new ApiError('not_found', 'There is no such device (or it is not yours to manage).');
    return reply.redirect(`${DEVICES_TAB}&done=unbound`, 303);
  });
};
