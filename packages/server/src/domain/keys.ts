// API keys: create (shown once), find, list, revoke; plain functions over a Store returning outcomes.
import { type ApiKey, type KeyEnvironment, mintKey, parseKey } from '@sekuire/shared/key';
import type { NamedRow, Role, UserRow } from '../store/queries/accounts.js';
import type { AuditInput } from '../store/queries/audit.js';
import type { KeyListing, KeyRow, KeyType } from '../store/queries/keys.js';
import type { Store, Tx } from '../store/store.js';
import { keyDigest, type Secrets, secretId } from './digest.js';
import { normalizeEmail } from './emails.js';
import { newId } from './ids.js';
import { normalizePermissions } from './permissions.js';

export const DEFAULT_WORKSPACE = 'Default';
export const DEFAULT_KEY_NAME = 'CLI key';
const DAY_MS = 86_400_000;

export type KeyStatus = 'active' | 'revoked' | 'expired';

export interface CreateKeyInput {
  readonly email: string;
  /** The user's display name; the part of the email before @ for a new user without one. */
  readonly userName?: string;
  readonly keyName?: string;
  /** An organization by name, created if new; without it, the user's own organization. */
  readonly organization?: string;
  readonly workspace?: string;
  readonly environment: KeyEnvironment;
  readonly type?: KeyType;
  readonly expiresInDays?: number;
  /** domain/permissions.ts; none by default. */
  readonly permissions?: readonly string[];
}

export interface CreatedKey {
  /** The whole key: returned once, never stored. */
  readonly apiKey: ApiKey;
  readonly key: KeyRow;
  readonly user: UserRow;
  readonly organization: NamedRow;
  readonly workspace: NamedRow;
}

/** What a new key is; every way of making one (create-key, the API, a roll, a browser login) ends in storeNewKey. */
export interface NewKeySpec {
  readonly name: string;
  readonly environment: KeyEnvironment;
  readonly type: KeyType;
  /** ISO 8601; null: never expires. */
  readonly expiresAt: string | null;
  /** Checked by permissionsProblem before; none when absent. */
  readonly permissions?: readonly string[];
}

/**
 * A new key's environment and lifetime when nobody chose: the same wherever it is made (the
 * dashboard's form, POST /api/v1/keys, a browser login's key). A test key that expires: a
 * mistake costs less, and the CLI warns 14 days before the end (DASHBOARD.md).
 */
export const KEY_DEFAULTS = { environment: 'test', expiresInDays: 90 } as const;

/** A new key's environment and lifetime in days (null: never expires), as someone chose them. */
export interface KeyLifetime {
  readonly environment: KeyEnvironment;
  readonly expiresInDays: number | null;
}

/** The end of a lifetime of `days` from `now`; null (never) for null. */
export function expiryAfter(now: Date, days: number | null): string | null {
  return days === null ? null : new Date(now.getTime() + days * DAY_MS).toISOString();
}

/**
 * Mints a key for `owner` in `place`, stores its digest (never the key) and records `create`,
 * with who acted and from where when a person did.
 */
export async function storeNewKey(
  tx: Tx,
  secret: Buffer,
  owner: UserRow,
  spec: NewKeySpec,
  place: { readonly workspace: NamedRow; readonly organization: NamedRow },
  now: Date,
  audit: Pick<AuditInput, 'client_ip' | 'actor_user_id'> & { readonly detail?: Record<string, unknown> } = {},
): Promise<CreatedKey> {
  const at = now.toISOString();
  const apiKey = mintKey(spec.environment);
  const key: KeyRow = {
    id: newId('key'),
    masked: apiKey.masked,
    environment: apiKey.environment,
    type: spec.type,
    name: spec.name,
    created_at: at,
    expires_at: spec.expiresAt,
    revoked_at: null,
    last_used_at: null,
    replaced_by: null,
    permissions: normalizePermissions(spec.permissions ?? []),
  };
  await tx.keys.insert({
    ...key,
    digest: keyDigest(secret, apiKey.value),
    secret_id: secretId(secret),
    user_id: owner.id,
    workspace_id: place.workspace.id,
  });
  const { detail, ...who } = audit;
  await tx.audit.record({
    at,
    event: 'create',
    key_id: key.id,
    ...who,
    detail: {
      masked: key.masked,
      environment: key.environment,
      type: key.type,
      expires_at: key.expires_at,
      ...(key.permissions.length > 0 && { permissions: key.permissions }),
      ...detail,
    },
  });
  return { apiKey, key, user: owner, ...place };
}

export function personalOrganizationName(email: string): string {
  return `Personal (${email})`;
}

/**
 * Why an organization cannot be named so, or undefined. Names of people's own organizations
 * are kept for them: a name that found one would make whoever typed it a member of it.
 */
export function organizationNameProblem(name: string): string | undefined {
  return /^personal \(/i.test(name.trim())
    ? 'names beginning "Personal (" are kept for people\'s own organizations; choose another.'
    : undefined;
}

/** The user with this email, created if new; a given name replaces the stored one. */
export async function ensureUser(
  tx: Tx,
  email: string,
  name: string | undefined,
  at: string,
): Promise<UserRow> {
  const normalized = normalizeEmail(email);
  const user = await tx.accounts.ensureUser(
    { id: newId('user'), email: normalized, name: name ?? normalized.split('@')[0] ?? normalized },
    at,
  );
  if (name !== undefined && user.name !== name) {
    await tx.accounts.renameUser(user.id, name);
    return { ...user, name };
  }
  return user;
}

/**
 * The user's own organization (they own it), created on first use. Found by whose it is, never
 * by its name: an organization someone else named so (before names were kept) stays theirs, and
 * this one gets the user's id after the name.
 */
export async function personalOrganization(tx: Tx, user: UserRow, at: string): Promise<NamedRow> {
  const existing = await tx.accounts.personalOrganization(user.id);
  if (existing !== undefined) return existing;
  const name = personalOrganizationName(user.email);
  const organization = { id: newId('org'), name };
  if (!(await tx.accounts.insertPersonalOrganization(organization, at, user.id))) {
    await tx.accounts.insertPersonalOrganization(
      { id: organization.id, name: `${name} ${user.id}` },
      at,
      user.id,
    );
  }
  const created = await tx.accounts.personalOrganization(user.id);
  if (created === undefined) throw new Error(`the organization of ${user.id} could not be created`);
  await tx.accounts.ensureMembership(user.id, created.id, 'owner', at);
  return created;
}

/**
 * An organization by name, created if new; the user joins it (as its owner when this call
 * created it, else as a member unless they already had a role).
 */
export async function namedOrganization(
  tx: Tx,
  user: UserRow,
  name: string,
  at: string,
): Promise<{ organization: NamedRow; role: Role }> {
  const proposed = newId('org');
  const found = await tx.accounts.ensureOrganization({ id: proposed, name }, at);
  // Callers check organizationNameProblem first; this holds whatever they do.
  if (found.personal_user_id !== null) throw new Error(`"${name}" is a person's own organization`);
  const organization = { id: found.id, name: found.name };
  const role = await tx.accounts.ensureMembership(
    user.id,
    organization.id,
    organization.id === proposed ? 'owner' : 'member',
    at,
  );
  return { organization, role };
}

export async function createApiKey(
  store: Store,
  secret: Buffer,
  input: CreateKeyInput,
  now: Date,
): Promise<CreatedKey> {
  const at = now.toISOString();
  return store.transaction(async (tx) => {
    const user = await ensureUser(tx, input.email, input.userName, at);
    const organization =
      input.organization === undefined
        ? await personalOrganization(tx, user, at)
        : (await namedOrganization(tx, user, input.organization, at)).organization;
    const workspace = await tx.accounts.ensureWorkspace(
      { id: newId('ws'), name: input.workspace ?? DEFAULT_WORKSPACE },
      organization.id,
      at,
    );
    const spec: NewKeySpec = {
      name: input.keyName ?? DEFAULT_KEY_NAME,
      environment: input.environment,
      type: input.type ?? 'client',
      expiresAt: expiryAfter(now, input.expiresInDays ?? null),
      permissions: input.permissions ?? [],
    };
    return storeNewKey(tx, secret, user, spec, { workspace, organization }, now);
  });
}

export function keyStatus(key: Pick<KeyRow, 'revoked_at' | 'expires_at'>, now: Date): KeyStatus {
  if (key.revoked_at !== null) return 'revoked';
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now.getTime()) return 'expired';
  return 'active';
}

/**
 * The id of a key given whole (revoke-key --id sk_live_…): looked up by its digest, so the key
 * itself is never stored or printed. Undefined when the text is not a well-formed key or unknown.
 */
export async function keyIdOf(store: Store, secrets: Secrets, text: string): Promise<string | undefined> {
  let key: ApiKey;
  try {
    key = parseKey(text);
  } catch {
    return undefined;
  }
  for (const secret of secrets) {
    const found = await store.read.keys.byDigest(keyDigest(secret, key.value));
    if (found !== undefined) return found.key.id;
  }
  return undefined;
}

export type RevokeOutcome =
  | { readonly status: 'revoked'; readonly key: KeyRow }
  | { readonly status: 'already_revoked'; readonly key: KeyRow }
  | { readonly status: 'not_found' };

/** Revokes a key; once this resolves, every running server refuses it (see Store.transaction). */
export async function revokeApiKey(
  store: Store,
  id: string,
  now: Date,
  onUnconfirmed?: (servers: readonly string[]) => void,
): Promise<RevokeOutcome> {
  const at = now.toISOString();
  return store.transaction(
    async (tx): Promise<RevokeOutcome> => {
      const existing = await tx.keys.byId(id);
      if (existing === undefined) return { status: 'not_found' };
      if (!(await tx.keys.revoke(id, at))) return { status: 'already_revoked', key: existing };
      await tx.audit.record({ at, event: 'revoke', key_id: id, detail: { masked: existing.masked } });
      return { status: 'revoked', key: { ...existing, revoked_at: at } };
    },
    { invalidates: true, ...(onUnconfirmed && { onUnconfirmed }) },
  );
}

export interface ListedKey extends KeyListing {
  readonly status: KeyStatus;
}

export async function listKeys(store: Store, now: Date, email?: string): Promise<ListedKey[]> {
  const keys = await store.read.keys.list(email === undefined ? undefined : normalizeEmail(email));
  return keys.map((key) => ({ ...key, status: keyStatus(key, now) }));
}
