// Browser login (loopback redirect + PKCE) and device-code login: a person approves, the CLI gets a new key.

import { createHash, randomInt } from 'node:crypto';
import type { ApiKey } from '@sekuire/shared/key';
import { BASE62 } from '@sekuire/shared/key';
import type { UserRow } from '../store/queries/accounts.js';
import type { DeviceFacts, DeviceRow } from '../store/queries/devices.js';
import type { GrantRow } from '../store/queries/grants.js';
import type { Queries } from '../store/queries/index.js';
import type { KeyRow } from '../store/queries/keys.js';
import type { Store, Tx } from '../store/store.js';
import { keyDigest, type Secrets } from './digest.js';
import { newId } from './ids.js';
import { expiryAfter, KEY_DEFAULTS, type KeyLifetime } from './keys.js';
import { type Actor, insertKey, targetWorkspace } from './managed-keys.js';
import type { ExpectedKey } from './proofs.js';
import { MAX_TEXT_LENGTH } from './text.js';

/** PROTOCOL.md: a loopback code lives 60 s; a device code 15 minutes, polled every 5 s at most. */
export const CODE_TTL_MS = 60_000;
export const DEVICE_TTL_MS = 15 * 60_000;
export const POLL_INTERVAL_S = 5;
/** RFC 8628 §6.1: consonants only, so no look-alikes (0/O, 1/I/L) and no words are spelled. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const SECRET_LENGTH = 43;

function randomText(alphabet: string, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet.charAt(randomInt(alphabet.length));
  return text;
}

/** `XXXX-XXXX`: 8 characters of the alphabet (20^8 ≈ 2.6 × 10^10). */
export function newUserCode(): string {
  const code = randomText(USER_CODE_ALPHABET, 8);
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** What a person typed, in the stored form (case, spaces and the dash do not matter); undefined if it cannot be one. */
export function normalizeUserCode(typed: string): string | undefined {
  const letters = typed.toUpperCase().replace(/[\s-]/g, '');
  if (letters.length !== 8 || [...letters].some((letter) => !USER_CODE_ALPHABET.includes(letter)))
    return undefined;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

/**
 * RFC 8252 §7.3: the redirect goes to the CLI's own listener on this machine, any port: plain
 * http to 127.0.0.1 only. Never "localhost" (a name can resolve elsewhere), and not [::1]
 * either: the page's Content-Security-Policy must allow its form to lead there, and CSP has no
 * syntax for an IPv6 address (Chromium ignores `http://[::1]:*` and blocks the redirect, so
 * the login would be approved but never reach the CLI). The sekuire CLI listens on 127.0.0.1.
 */
export function loopbackRedirect(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || url.hostname !== '127.0.0.1') return undefined;
  if (url.username !== '' || url.password !== '' || url.hash !== '' || url.port === '') return undefined;
  return url;
}

/** RFC 7636 S256: base64url(SHA-256(verifier)). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** What the approval page shows about the device asking, cleaned as the login body is. */
export interface AskingDevice {
  readonly name: string;
  readonly os: string;
  /** Extensions the CLI sends to the loopback page; absent from older CLIs. */
  readonly osVersion?: string;
  readonly arch?: string;
}

/** A new key for the device, owned by the person who approved, bound to the device at once. */
export interface Granted {
  readonly apiKey: ApiKey;
  readonly key: KeyRow;
  readonly user: UserRow;
  readonly organization: { readonly id: string; readonly name: string };
  readonly workspace: { readonly id: string; readonly name: string };
  readonly device: DeviceRow;
}

/** The key's environment and lifetime the approver chose; the one default for a grant approved before the choice existed. */
function chosenLifetime(grant: GrantRow): KeyLifetime {
  if (grant.key_environment === null) return KEY_DEFAULTS;
  return { environment: grant.key_environment, expiresInDays: grant.key_expires_in_days };
}

async function mintFor(
  tx: Tx,
  secret: Buffer,
  approver: UserRow,
  grant: GrantRow,
  facts: DeviceFacts,
  deviceKey: ExpectedKey,
  clientIp: string,
  now: Date,
): Promise<Granted | undefined> {
  const at = now.toISOString();
  const place = await targetWorkspace(tx, approver, undefined, at);
  if (place === undefined) return undefined;
  const actor: Actor = { user: approver, clientIp, now };
  const lifetime = chosenLifetime(grant);
  const created = await insertKey(
    tx,
    secret,
    actor,
    {
      name: `CLI on ${facts.name}`.slice(0, MAX_TEXT_LENGTH),
      environment: lifetime.environment,
      type: 'client',
      expiresAt: expiryAfter(now, lifetime.expiresInDays),
    },
    place,
    { via: 'browser login' },
  );
  // The login is the key's first use: "Last used" says so, not "never", from the start.
  await tx.keys.touch(created.key.id, at);
  const device: DeviceRow = {
    ...facts,
    id: newId('dev'),
    key_id: created.key.id,
    bound_at: at,
    last_seen_at: at,
    last_ip: clientIp,
    public_key: deviceKey.publicKey,
    key_thumbprint: deviceKey.thumbprint,
  };
  await tx.devices.insert(device);
  await tx.audit.record({
    at,
    event: 'bind',
    key_id: created.key.id,
    fingerprint: device.fingerprint,
    device_name: device.name,
    client_ip: clientIp,
    actor_user_id: approver.id,
    detail: { device_id: device.id, os: facts.os, os_version: facts.os_version, arch: facts.arch },
  });
  return { ...created, device };
}

export interface LoopbackApproval {
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly device: AskingDevice;
  /** The fingerprint's first 12 hex characters, as the page showed them (absent from older CLIs). */
  readonly fingerprintPrefix?: string;
  /** The new key's environment and lifetime, as the approver chose them on the page. */
  readonly lifetime: KeyLifetime;
}

/** A fact as the approval page shows it: one line of printable text, capped. */
function asShown(value: string): string {
  return value
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .slice(0, MAX_TEXT_LENGTH);
}

/**
 * The device exchanging a loopback code must be the one the person approved: the name and OS
 * the page showed, the OS version and architecture when it showed them, and a fingerprint that
 * begins with the prefix it showed. Anything else would bind a device nobody looked at.
 */
function approvedDevice(grant: GrantRow, device: DeviceFacts): boolean {
  if (asShown(device.name) !== grant.device_name || asShown(device.os) !== grant.device_os) return false;
  if (grant.os_version !== null && asShown(device.os_version) !== grant.os_version) return false;
  if (grant.arch !== null && asShown(device.arch) !== grant.arch) return false;
  return grant.fingerprint === null || device.fingerprint.startsWith(grant.fingerprint);
}

/** The person pressed Authorize: a one-time code for this redirect URI and PKCE challenge. */
export async function approveLoopback(
  store: Store,
  secret: Buffer,
  actor: Actor,
  approval: LoopbackApproval,
): Promise<string> {
  const code = randomText(BASE62, SECRET_LENGTH);
  const at = actor.now.toISOString();
  await store.transaction(async (tx) => {
    const id = newId('grant');
    await tx.grants.insert({
      id,
      flow: 'loopback',
      secret_digest: keyDigest(secret, code),
      user_code: null,
      redirect_uri: approval.redirectUri,
      code_challenge: approval.codeChallenge,
      // For a loopback grant, the prefix the page showed: the exchange must come from a match.
      fingerprint: approval.fingerprintPrefix ?? null,
      device_name: approval.device.name,
      device_os: approval.device.os,
      os_version: approval.device.osVersion ?? null,
      arch: approval.device.arch ?? null,
      requested_ip: actor.clientIp,
      created_at: at,
      expires_at: new Date(actor.now.getTime() + CODE_TTL_MS).toISOString(),
      interval_seconds: null,
      last_polled_at: null,
      approved_by: actor.user.id,
      approved_at: at,
      denied_at: null,
      exchanged_at: null,
      key_id: null,
      public_key: null,
      key_thumbprint: null,
      key_environment: approval.lifetime.environment,
      key_expires_in_days: approval.lifetime.expiresInDays,
    });
    await tx.audit.record({
      at,
      event: 'cli_approve',
      client_ip: actor.clientIp,
      actor_user_id: actor.user.id,
      device_name: approval.device.name,
      detail: {
        grant_id: id,
        flow: 'loopback',
        os: approval.device.os,
        ...lifetimeDetail(approval.lifetime),
      },
    });
  });
  return code;
}

/** The approver's choice as the audit trail records it (expires_in_days null: never). */
function lifetimeDetail(lifetime: KeyLifetime) {
  return { environment: lifetime.environment, expires_in_days: lifetime.expiresInDays };
}

export async function recordDenial(
  store: Store,
  actor: Actor,
  flow: 'loopback' | 'device',
  device: AskingDevice,
  grantId?: string,
) {
  await store.read.audit.record({
    at: actor.now.toISOString(),
    event: 'cli_deny',
    client_ip: actor.clientIp,
    actor_user_id: actor.user.id,
    device_name: device.name,
    detail: { flow, os: device.os, ...(grantId !== undefined && { grant_id: grantId }) },
  });
}

export type ExchangeOutcome =
  | { readonly ok: true; readonly granted: Granted }
  | { readonly ok: false; readonly reason: 'invalid_grant'; readonly message: string };

function invalidGrant(message: string): ExchangeOutcome {
  return { ok: false, reason: 'invalid_grant', message };
}

/**
 * The CLI exchanges the one-time code: once, within 60 s, from the redirect URI it was issued
 * for, with the verifier whose challenge it was issued for. A code intercepted on its way
 * (another program on this machine reading the redirect) is useless without the verifier.
 */
export function exchangeCode(
  store: Store,
  secrets: Secrets,
  request: {
    code: string;
    verifier: string;
    redirectUri: string;
    device: DeviceFacts;
    /** The exchanging device's key (its proof was checked): the new key is bound to it. */
    deviceKey: ExpectedKey;
    clientIp: string;
    now: Date;
  },
): Promise<ExchangeOutcome> {
  return store.transaction(
    async (tx): Promise<ExchangeOutcome> => {
      const grant = await grantBySecret(tx, secrets, request.code);
      if (grant === undefined || grant.flow !== 'loopback') return invalidGrant('The code is not valid.');
      await tx.lock('cli_grants', grant.id);
      const fresh = (await tx.grants.bySecret(grant.secret_digest)) as GrantRow;
      if (fresh.exchanged_at !== null) return invalidGrant('The code was already used.');
      if (Date.parse(fresh.expires_at) <= request.now.getTime()) return invalidGrant('The code has expired.');
      if (fresh.redirect_uri !== request.redirectUri)
        return invalidGrant('The redirect_uri does not match the one the code was issued for.');
      if (fresh.code_challenge !== pkceChallenge(request.verifier))
        return invalidGrant('The code_verifier does not match the code_challenge.');
      if (!approvedDevice(fresh, request.device))
        return invalidGrant('The device is not the one approved in the browser.');
      const approver = await tx.accounts.profile(fresh.approved_by ?? '');
      if (approver === undefined) return invalidGrant('The person who approved no longer exists.');
      const granted = await mintFor(
        tx,
        secrets[0],
        approver,
        fresh,
        request.device,
        request.deviceKey,
        request.clientIp,
        request.now,
      );
      if (granted === undefined) return invalidGrant('The person who approved belongs to no organization.');
      await tx.grants.exchange(fresh.id, request.now.toISOString(), granted.key.id);
      return { ok: true, granted };
    },
    { invalidates: true },
  );
}

export interface DeviceGrant {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly expiresIn: number;
  readonly interval: number;
}

/** The CLI asks for a device code (RFC 8628 §3.1); the device facts are what the page will show. */
export async function startDeviceGrant(
  store: Store,
  secret: Buffer,
  device: DeviceFacts,
  deviceKey: ExpectedKey,
  clientIp: string,
  now: Date,
): Promise<DeviceGrant> {
  const deviceCode = randomText(BASE62, SECRET_LENGTH);
  const at = now.toISOString();
  for (let attempt = 0; ; attempt++) {
    const userCode = newUserCode();
    try {
      await store.read.grants.insert({
        id: newId('grant'),
        flow: 'device',
        secret_digest: keyDigest(secret, deviceCode),
        user_code: userCode,
        redirect_uri: null,
        code_challenge: null,
        fingerprint: device.fingerprint,
        device_name: device.name,
        device_os: device.os,
        os_version: device.os_version,
        arch: device.arch,
        requested_ip: clientIp,
        created_at: at,
        expires_at: new Date(now.getTime() + DEVICE_TTL_MS).toISOString(),
        interval_seconds: POLL_INTERVAL_S,
        last_polled_at: null,
        approved_by: null,
        approved_at: null,
        denied_at: null,
        exchanged_at: null,
        key_id: null,
        public_key: deviceKey.publicKey,
        key_thumbprint: deviceKey.thumbprint,
        key_environment: null,
        key_expires_in_days: null,
      });
      return { deviceCode, userCode, expiresIn: DEVICE_TTL_MS / 1000, interval: POLL_INTERVAL_S };
    } catch (error) {
      // Two live codes the same: 1 in 2.6 × 10^10 per pair; draw again (a few times at most).
      if (attempt >= 3) throw error;
    }
  }
}

/** The device request a typed code stands for, while it can still be decided. */
export async function pendingDeviceGrant(
  store: Store,
  typed: string,
  now: Date,
): Promise<GrantRow | undefined> {
  const code = normalizeUserCode(typed);
  if (code === undefined) return undefined;
  const grant = await store.read.grants.byUserCode(code);
  if (grant === undefined || grant.approved_at !== null || grant.denied_at !== null) return undefined;
  if (Date.parse(grant.expires_at) <= now.getTime()) return undefined;
  return grant;
}

/**
 * Authorize (with the new key's environment and lifetime the approver chose) or Deny (undefined)
 * on the /device page; false when the request was decided, or expired, meanwhile.
 */
export async function decideDeviceGrant(
  store: Store,
  actor: Actor,
  grantId: string,
  approval: KeyLifetime | undefined,
): Promise<boolean> {
  const approve = approval !== undefined;
  const at = actor.now.toISOString();
  return store.transaction(async (tx) => {
    await tx.lock('cli_grants', grantId);
    const grant = await tx.grants.byId(grantId);
    if (grant === undefined || grant.flow !== 'device' || Date.parse(grant.expires_at) <= actor.now.getTime())
      return false;
    if (!(await tx.grants.decide(grant.id, actor.user.id, at, approval))) return false;
    await tx.audit.record({
      at,
      event: approve ? 'cli_approve' : 'cli_deny',
      client_ip: actor.clientIp,
      actor_user_id: actor.user.id,
      fingerprint: grant.fingerprint,
      device_name: grant.device_name,
      detail: {
        grant_id: grant.id,
        flow: 'device',
        os: grant.device_os,
        requested_ip: grant.requested_ip,
        ...(approval !== undefined && lifetimeDetail(approval)),
      },
    });
    return true;
  });
}

export type PollOutcome =
  | { readonly status: 'granted'; readonly granted: Granted }
  | { readonly status: 'authorization_pending' | 'slow_down' | 'access_denied' | 'expired_token' }
  | { readonly status: 'invalid_grant'; readonly message: string };

/**
 * A poll of an undecided grant. Only a poll on time is written (its time, one row per interval
 * at most): a poll too soon answers slow_down and writes nothing (RFC 8628 §3.5), so polling as
 * fast as one can costs the database reads only. The interval does not grow on the server, as
 * that would be a write per early poll; the client adds its 5 seconds itself.
 */
async function pendingPoll(store: Store, grant: GrantRow, now: Date): Promise<PollOutcome> {
  const interval = grant.interval_seconds ?? POLL_INTERVAL_S;
  const notAfter = new Date(now.getTime() - interval * 1000).toISOString();
  if (grant.last_polled_at !== null && grant.last_polled_at > notAfter) return { status: 'slow_down' };
  const recorded = await store.read.grants.polled(grant.id, now.toISOString(), notAfter);
  return { status: recorded ? 'authorization_pending' : 'slow_down' };
}

/**
 * A grant by its code under each secret, newest first. A grant lives minutes: one made under an
 * older secret is found, not digested anew.
 */
async function grantBySecret(
  queries: Pick<Queries, 'grants'>,
  secrets: Secrets,
  code: string,
): Promise<GrantRow | undefined> {
  for (const secret of secrets) {
    const grant = await queries.grants.bySecret(keyDigest(secret, code));
    if (grant !== undefined) return grant;
  }
  return undefined;
}

/**
 * The device key a device code was asked for with: every poll must be signed with it, so a
 * device code read off the screen or a log polls nothing for whoever does not hold that key.
 * Undefined for an unknown code (or one asked for without a device key).
 */
export async function deviceGrantKey(
  store: Store,
  secrets: Secrets,
  deviceCode: string,
): Promise<ExpectedKey | undefined> {
  const grant = await grantBySecret(store.read, secrets, deviceCode);
  if (grant === undefined || grant.flow !== 'device') return undefined;
  if (grant.public_key === null || grant.key_thumbprint === null) return undefined;
  return { publicKey: grant.public_key, thumbprint: grant.key_thumbprint };
}

/** The CLI polls (RFC 8628 §3.4): pending, slower please, denied, expired, or the new key, once. */
export async function pollDeviceGrant(
  store: Store,
  secrets: Secrets,
  deviceCode: string,
  clientIp: string,
  now: Date,
): Promise<PollOutcome> {
  const seen = await grantBySecret(store.read, secrets, deviceCode);
  if (seen === undefined || seen.flow !== 'device')
    return { status: 'invalid_grant', message: 'The device code is not valid.' };
  if (seen.exchanged_at !== null)
    return { status: 'invalid_grant', message: 'The device code was already used.' };
  if (Date.parse(seen.expires_at) <= now.getTime()) return { status: 'expired_token' };
  if (seen.denied_at !== null) return { status: 'access_denied' };
  if (seen.approved_at === null) return pendingPoll(store, seen, now);
  // Approved: the key is made once, under the grant's lock, whoever else polls at the same time.
  return store.transaction(
    async (tx): Promise<PollOutcome> => {
      await tx.lock('cli_grants', seen.id);
      const grant = (await tx.grants.bySecret(seen.secret_digest)) as GrantRow;
      if (grant.exchanged_at !== null)
        return { status: 'invalid_grant', message: 'The device code was already used.' };
      const approver = await tx.accounts.profile(grant.approved_by ?? '');
      if (approver === undefined)
        return { status: 'invalid_grant', message: 'The person who approved no longer exists.' };
      const facts: DeviceFacts = {
        fingerprint: grant.fingerprint ?? '',
        name: grant.device_name,
        os: grant.device_os,
        os_version: grant.os_version ?? '',
        arch: grant.arch ?? '',
      };
      if (grant.public_key === null || grant.key_thumbprint === null)
        return { status: 'invalid_grant', message: 'The device code was requested without a device key.' };
      const deviceKey = { publicKey: grant.public_key, thumbprint: grant.key_thumbprint };
      const granted = await mintFor(tx, secrets[0], approver, grant, facts, deviceKey, clientIp, now);
      if (granted === undefined)
        return { status: 'invalid_grant', message: 'The person who approved belongs to no organization.' };
      await tx.grants.exchange(grant.id, now.toISOString(), granted.key.id);
      return { status: 'granted', granted };
    },
    { invalidates: true },
  );
}
