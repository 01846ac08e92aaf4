// Keys as people manage them (API and dashboard): create, list, get, revoke, roll, each authorized.
import type { KeyEnvironment } from '@sekuire/shared/key';
import type { NamedRow, UserRow } from '../store/queries/accounts.js';
import type { KeyRow, KeyType, VisibleKey } from '../store/queries/keys.js';
import type { Store, Tx } from '../store/store.js';
import { newId } from './ids.js';
import { type CreatedKey, DEFAULT_WORKSPACE, expiryAfter, type NewKeySpec, storeNewKey } from './keys.js';

export const MAX_EXPIRY_DAYS = 3650;
export const MAX_GRACE_SECONDS = 604_800;

export type ManagedStatus = 'active' | 'revoked' | 'expired' | 'rolling';

/** Someone acting through the API or the dashboard. */
export interface Actor {
  readonly user: UserRow;
  readonly clientIp: string;
  readonly now: Date;
}

export interface NewKeyRequest {
  readonly name: string;
  readonly environment: KeyEnvironment;
  readonly type: KeyType;
  /** null: never expires. */
  readonly expiresInDays: number | null;
  readonly workspaceId?: string;
  readonly permissions?: readonly string[];
}

export function managedStatus(
  key: Pick<KeyRow, 'revoked_at' | 'expires_at' | 'replaced_by'>,
  now: Date,
): ManagedStatus {
  if (key.revoked_at !== null) return 'revoked';
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now.getTime()) return 'expired';
  return key.replaced_by === null ? 'active' : 'rolling';
}

/**
 * Where a new key goes: the workspace named (in an organization the person belongs to), or the
 * Default workspace of their own organization (else of the first they joined).
 */
export async function targetWorkspace(
  tx: Tx,
  user: UserRow,
  workspaceId: string | undefined,
  at: string,
): Promise<{ workspace: NamedRow; organization: NamedRow } | undefined> {
  const memberships = await tx.accounts.memberships(user.id);
  if (workspaceId !== undefined) {
    const workspace = await tx.accounts.workspace(workspaceId);
    const membership = memberships.find((entry) => entry.id === workspace?.org_id);
    if (workspace === undefined || membership === undefined) return undefined;
    return { workspace, organization: { id: membership.id, name: membership.name } };
  }
  const own = await tx.accounts.personalOrganization(user.id);
  const organization = own ?? memberships[0];
  if (organization === undefined) return undefined;
  const workspace = await tx.accounts.ensureWorkspace(
    { id: newId('ws'), name: DEFAULT_WORKSPACE },
    organization.id,
    at,
  );
  return { workspace, organization: { id: organization.id, name: organization.name } };
}

/** A key made by a person (API, dashboard, roll, browser login): theirs, and audited as their act. */
export function insertKey(
  tx: Tx,
  secret: Buffer,
  actor: Actor,
  spec: NewKeySpec,
  place: { workspace: NamedRow; organization: NamedRow },
  detail: Record<string, unknown> = {},
): Promise<CreatedKey> {
  return storeNewKey(tx, secret, actor.user, spec, place, actor.now, {
    client_ip: actor.clientIp,
    actor_user_id: actor.user.id,
    detail,
  });
}

export type CreateOutcome =
  | { readonly ok: true; readonly created: CreatedKey }
  | { readonly ok: false; readonly reason: 'no_workspace' };

export function createKeyFor(
  store: Store,
  secret: Buffer,
  actor: Actor,
  request: NewKeyRequest,
): Promise<CreateOutcome> {
  return store.transaction(async (tx): Promise<CreateOutcome> => {
    const place = await targetWorkspace(tx, actor.user, request.workspaceId, actor.now.toISOString());
    if (place === undefined) return { ok: false, reason: 'no_workspace' };
    const spec: NewKeySpec = {
      name: request.name,
      environment: request.environment,
      type: request.type,
      expiresAt: expiryAfter(actor.now, request.expiresInDays),
      permissions: request.permissions ?? [],
    };
    return { ok: true, created: await insertKey(tx, secret, actor, spec, place) };
  });
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly total: number;
}

export async function listKeysFor(
  store: Store,
  userId: string,
  page?: { limit: number; offset: number },
): Promise<Page<VisibleKey>> {
  const [items, total] = await Promise.all([
    store.read.keys.visibleTo(userId, page),
    page === undefined ? Promise.resolve(-1) : store.read.keys.countVisibleTo(userId),
  ]);
  return { items, total: total === -1 ? items.length : total };
}

export function keyFor(store: Store, userId: string, keyId: string): Promise<VisibleKey | undefined> {
  return store.read.keys.visibleKey(userId, keyId);
}

export type RevokeForOutcome =
  | { readonly ok: true; readonly id: string; readonly revokedAt: string }
  | { readonly ok: false; readonly reason: 'not_found' };

/**
 * Idempotent: revoking a revoked key answers when it was revoked. Every server refuses it once
 * this resolves; onConfirmed hears how long that took after the commit.
 */
export function revokeKeyFor(
  store: Store,
  actor: Actor,
  keyId: string,
  onConfirmed?: (seconds: number) => void,
): Promise<RevokeForOutcome> {
  const at = actor.now.toISOString();
  return store.transaction(
    async (tx): Promise<RevokeForOutcome> => {
      const key = await tx.keys.visibleKey(actor.user.id, keyId);
      if (key === undefined) return { ok: false, reason: 'not_found' };
      if (key.revoked_at !== null) return { ok: true, id: key.id, revokedAt: key.revoked_at };
      await tx.keys.revoke(key.id, at);
      await tx.audit.record({
        at,
        event: 'revoke',
        key_id: key.id,
        client_ip: actor.clientIp,
        actor_user_id: actor.user.id,
        detail: { masked: key.masked },
      });
      return { ok: true, id: key.id, revokedAt: at };
    },
    { invalidates: true, ...(onConfirmed && { onConfirmed }) },
  );
}

export type RollOutcome =
  | { readonly ok: true; readonly created: CreatedKey; readonly oldExpiresAt: string }
  | { readonly ok: false; readonly reason: 'not_found' | 'not_active' };

export interface RollRequest {
  readonly graceSeconds: number;
  /** The new key's permissions; the old key's when absent (a roll is the one way to change them). */
  readonly permissions?: readonly string[];
}

/**
 * A new key with the same name, environment, type and workspace (and permissions, unless the
 * roll names others); the old one keeps working for the grace period, then answers key_expired.
 * Rotation without downtime: deploy the new key within the grace period.
 */
export function rollKeyFor(
  store: Store,
  secret: Buffer,
  actor: Actor,
  keyId: string,
  roll: RollRequest,
): Promise<RollOutcome> {
  const { graceSeconds } = roll;
  return store.transaction(
    async (tx): Promise<RollOutcome> => {
      await tx.lock('api_keys', keyId);
      const old = await tx.keys.visibleKey(actor.user.id, keyId);
      if (old === undefined) return { ok: false, reason: 'not_found' };
      if (managedStatus(old, actor.now) !== 'active') return { ok: false, reason: 'not_active' };
      const graceEnds = new Date(actor.now.getTime() + graceSeconds * 1000).toISOString();
      const created = await insertKey(
        tx,
        secret,
        actor,
        // The replacement lives as long as the old one would have (or forever).
        {
          name: old.name,
          environment: old.environment,
          type: old.type,
          expiresAt: old.expires_at,
          permissions: roll.permissions ?? old.permissions,
        },
        {
          workspace: { id: old.workspace_id, name: old.workspace_name },
          organization: { id: old.org_id, name: old.org_name },
        },
        { rolled_from: old.id },
      );
      const oldExpiresAt = old.expires_at !== null && old.expires_at < graceEnds ? old.expires_at : graceEnds;
      await tx.keys.replace(old.id, created.key.id, oldExpiresAt);
      await tx.audit.record({
        at: actor.now.toISOString(),
        event: 'roll',
        key_id: old.id,
        client_ip: actor.clientIp,
        actor_user_id: actor.user.id,
        detail: {
          masked: old.masked,
          replaced_by: created.key.id,
          expires_at: oldExpiresAt,
          grace_seconds: graceSeconds,
        },
      });
      return { ok: true, created, oldExpiresAt };
    },
    { invalidates: true },
  );
}
