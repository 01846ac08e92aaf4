// Signing in and out: password check, sessions with rotating refresh tokens, reuse detection.
import type { Profile, UserRow } from '../store/queries/accounts.js';
import type { SessionKind, SessionRow, TokenKind, TokenRecord } from '../store/queries/sessions.js';
import type { Store, Tx } from '../store/store.js';
import { type Secrets, secretId } from './digest.js';
import { normalizeEmail } from './emails.js';
import { newId } from './ids.js';
import type { PasswordSlots } from './password-slots.js';
import { decoyHash, type ScryptCost, verifyPassword } from './passwords.js';
import { newToken, tokenDigest } from './tokens.js';

const MINUTE_MS = 60_000;
/** DASHBOARD.md: access tokens live at most an hour, refresh tokens at most 30 days. */
export const ACCESS_TTL_MS = 60 * MINUTE_MS;
export const REFRESH_TTL_MS = 30 * 24 * 60 * MINUTE_MS;
/** A dashboard sign-in lasts a working day. */
export const COOKIE_TTL_MS = 12 * 60 * MINUTE_MS;

export interface ApiTokens {
  readonly access_token: string;
  readonly refresh_token: string;
  /** Seconds the access token lives. */
  readonly expires_in: number;
}

export interface SignInInput {
  readonly email: string;
  readonly password: string;
  readonly clientIp: string;
  readonly now: Date;
  readonly kind: SessionKind;
}

export type SignInOutcome =
  | { readonly ok: true; readonly user: UserRow; readonly tokens: ApiTokens }
  | { readonly ok: true; readonly user: UserRow; readonly cookie: string; readonly expiresAt: Date }
  | { readonly ok: false; readonly reason: 'wrong' | 'busy' };

function later(now: Date, ms: number): string {
  return new Date(now.getTime() + ms).toISOString();
}

async function issue(
  tx: Tx,
  secret: Buffer,
  sessionId: string,
  kind: TokenKind,
  now: Date,
  ttlMs: number,
): Promise<string> {
  const token = newToken(kind);
  await tx.sessions.insertToken({
    digest: tokenDigest(secret, kind, token) as Buffer,
    secret_id: secretId(secret),
    session_id: sessionId,
    kind,
    created_at: now.toISOString(),
    expires_at: later(now, ttlMs),
    used_at: null,
  });
  return token;
}

async function issueApiPair(
  tx: Tx,
  secret: Buffer,
  session: Pick<SessionRow, 'id' | 'expires_at'>,
  now: Date,
) {
  // Neither token outlives the session.
  const sessionLeft = Date.parse(session.expires_at) - now.getTime();
  const accessTtl = Math.min(ACCESS_TTL_MS, sessionLeft);
  return {
    access_token: await issue(tx, secret, session.id, 'access', now, accessTtl),
    refresh_token: await issue(tx, secret, session.id, 'refresh', now, sessionLeft),
    expires_in: Math.floor(accessTtl / 1000),
  };
}

/**
 * Checks the password (unknown emails cost one scrypt too, and get the same answer) and opens a
 * session: API tokens, or a dashboard cookie. The caller limits attempts before calling this;
 * `slots` limits the hashes computed at once (busy: nothing was checked, nothing recorded).
 */
export async function signIn(
  store: Store,
  secret: Buffer,
  input: SignInInput,
  cost?: ScryptCost,
  slots?: PasswordSlots,
): Promise<SignInOutcome> {
  const found = await store.read.accounts.credentials(normalizeEmail(input.email));
  const hash = found?.password_hash ?? decoyHash(cost);
  const check = () => verifyPassword(input.password, hash);
  const matches = slots === undefined ? await check() : await slots.run(check);
  if (matches === 'busy') return { ok: false, reason: 'busy' };
  const at = input.now.toISOString();
  if (found === undefined || found.password_hash === null || !matches) {
    await store.read.audit.record({
      at,
      event: 'sign_in_failed',
      client_ip: input.clientIp,
      actor_user_id: found?.id ?? null,
      detail: { email: input.email.slice(0, 254) },
    });
    return { ok: false, reason: 'wrong' };
  }
  const user: UserRow = { id: found.id, email: found.email, name: found.name };
  return store.transaction(async (tx) => {
    const session: SessionRow = {
      id: newId('sess'),
      user_id: user.id,
      kind: input.kind,
      created_at: at,
      expires_at: later(input.now, input.kind === 'api' ? REFRESH_TTL_MS : COOKIE_TTL_MS),
      ended_at: null,
      client_ip: input.clientIp,
    };
    await tx.sessions.insertSession(session);
    await tx.accounts.signedIn(user.id, at);
    await tx.audit.record({
      at,
      event: 'sign_in',
      client_ip: input.clientIp,
      actor_user_id: user.id,
      detail: { session_id: session.id, kind: input.kind },
    });
    if (input.kind === 'cookie') {
      const cookie = await issue(tx, secret, session.id, 'cookie', input.now, COOKIE_TTL_MS);
      return { ok: true as const, user, cookie, expiresAt: new Date(session.expires_at) };
    }
    return { ok: true as const, user, tokens: await issueApiPair(tx, secret, session, input.now) };
  });
}

export interface Authenticated {
  readonly user: UserRow;
  readonly sessionId: string;
}

/** The user behind an access token or a dashboard cookie; undefined when it does not (or no longer) work. */
export async function authenticateToken(
  store: Store,
  secrets: Secrets,
  kind: 'access' | 'cookie',
  token: string,
  now: Date,
): Promise<Authenticated | undefined> {
  const hit = await findToken(secrets, kind, token, (digest) => store.read.sessions.token(digest));
  if (hit === undefined) return undefined;
  const { found } = hit;
  if (found.token.kind !== kind || found.session.ended_at !== null) return undefined;
  const time = now.getTime();
  if (Date.parse(found.token.expires_at) <= time || Date.parse(found.session.expires_at) <= time)
    return undefined;
  if (hit.under !== secrets[0]) {
    // Only now is the token at hand: its digest moves to the newest secret (one statement).
    await store.read.sessions.redigestToken(
      hit.digest,
      tokenDigest(secrets[0], kind, token) as Buffer,
      secretId(secrets[0]),
    );
  }
  return { user: found.user, sessionId: found.session.id };
}

/** The token's row under the first secret (newest first) that finds one. */
async function findToken(
  secrets: Secrets,
  kind: TokenKind,
  token: string,
  find: (digest: Buffer) => Promise<TokenRecord | undefined>,
): Promise<{ found: TokenRecord; digest: Buffer; under: Buffer } | undefined> {
  for (const secret of secrets) {
    const digest = tokenDigest(secret, kind, token);
    if (digest === undefined) return undefined;
    const found = await find(digest);
    if (found !== undefined) return { found, digest, under: secret };
  }
  return undefined;
}

export type RefreshOutcome =
  | { readonly ok: true; readonly tokens: ApiTokens }
  | { readonly ok: false; readonly reason: 'invalid' | 'reused' };

/**
 * Rotates a refresh token: the old one is spent, a new pair is issued. A refresh token used a
 * second time means it was copied: the whole session ends, and both tokens stop working.
 */
export async function refresh(
  store: Store,
  secrets: Secrets,
  token: string,
  clientIp: string,
  now: Date,
): Promise<RefreshOutcome> {
  const at = now.toISOString();
  // A refresh token is spent here: the new pair is made under the newest secret, so the one
  // found under an older secret needs no new digest.
  return store.transaction(async (tx): Promise<RefreshOutcome> => {
    const hit = await findToken(secrets, 'refresh', token, (digest) => tx.sessions.token(digest));
    if (hit === undefined) return { ok: false, reason: 'invalid' };
    const { found, digest } = hit;
    if (found.token.kind !== 'refresh' || found.session.ended_at !== null) {
      return { ok: false, reason: 'invalid' };
    }
    if (Date.parse(found.token.expires_at) <= now.getTime()) return { ok: false, reason: 'invalid' };
    if (!(await tx.sessions.useToken(digest, at))) {
      await tx.sessions.endSession(found.session.id, at, 'refresh_token_reused');
      await tx.audit.record({
        at,
        event: 'session_reuse',
        client_ip: clientIp,
        actor_user_id: found.user.id,
        detail: { session_id: found.session.id },
      });
      return { ok: false, reason: 'reused' };
    }
    return { ok: true, tokens: await issueApiPair(tx, secrets[0], found.session, now) };
  });
}

/** Ends the session behind an access token or a cookie; every token of it stops working at once. */
export async function signOut(store: Store, who: Authenticated, clientIp: string, now: Date): Promise<void> {
  const at = now.toISOString();
  await store.transaction(async (tx) => {
    if (!(await tx.sessions.endSession(who.sessionId, at, 'signed_out'))) return;
    await tx.audit.record({
      at,
      event: 'sign_out',
      client_ip: clientIp,
      actor_user_id: who.user.id,
      detail: { session_id: who.sessionId },
    });
  });
}

export interface Me extends Profile {
  readonly organizations: readonly { id: string; name: string; role: string }[];
}

export async function me(store: Store, userId: string): Promise<Me | undefined> {
  const profile = await store.read.accounts.profile(userId);
  if (profile === undefined) return undefined;
  return { ...profile, organizations: await store.read.accounts.memberships(userId) };
}
