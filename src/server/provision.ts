// Creating and revoking keys: the operations behind create-key and revoke-key.
import { type ApiKey, type KeyEnvironment, mintKey } from '../core/key.js';
import type { KeyRow, NamedRow, UserRow } from './accounts.js';
import { keyDigest } from './digest.js';
import { newId } from './ids.js';
import type { Store } from './store.js';

export const DEFAULT_ORGANIZATION = 'Personal';
export const DEFAULT_WORKSPACE = 'Default';
export const DEFAULT_KEY_NAME = 'CLI key';

export interface CreateKeyInput {
  readonly email: string;
  /** The user's display name; the part of the email before @ for a new user without one. */
  readonly userName?: string;
  readonly keyName?: string;
  readonly organization?: string;
  readonly workspace?: string;
  readonly environment: KeyEnvironment;
  readonly expiresInDays?: number;
}

export interface CreatedKey {
  /** The whole key: returned once, never stored. */
  readonly apiKey: ApiKey;
  readonly key: KeyRow;
  readonly user: UserRow;
  readonly organization: NamedRow;
  readonly workspace: NamedRow;
}

const DAY_MS = 86_400_000;

export function createApiKey(store: Store, secret: Buffer, input: CreateKeyInput, now: Date): CreatedKey {
  const at = now.toISOString();
  const apiKey = mintKey(input.environment);
  const expiresAt =
    input.expiresInDays === undefined
      ? null
      : new Date(now.getTime() + input.expiresInDays * DAY_MS).toISOString();
  return store.inTransaction(() => {
    const user = store.accounts.ensureUser(
      newId('user'),
      input.email,
      input.userName,
      input.email.split('@')[0] ?? input.email,
      at,
    );
    const organization = store.accounts.ensureOrganization(
      newId('org'),
      input.organization ?? DEFAULT_ORGANIZATION,
      at,
    );
    const workspace = store.accounts.ensureWorkspace(
      newId('ws'),
      organization.id,
      input.workspace ?? DEFAULT_WORKSPACE,
      at,
    );
    const key: KeyRow = {
      id: newId('key'),
      masked: apiKey.masked,
      environment: apiKey.environment,
      name: input.keyName ?? DEFAULT_KEY_NAME,
      created_at: at,
      expires_at: expiresAt,
      revoked_at: null,
    };
    store.accounts.insertKey({
      ...key,
      digest: keyDigest(secret, apiKey.value),
      user_id: user.id,
      workspace_id: workspace.id,
    });
    store.audit.record({
      at,
      event: 'create',
      key_id: key.id,
      detail: { masked: key.masked, environment: key.environment, expires_at: expiresAt },
    });
    return { apiKey, key, user, organization, workspace };
  });
}

export type RevokeOutcome =
  | { readonly status: 'revoked'; readonly key: KeyRow }
  | { readonly status: 'already_revoked'; readonly key: KeyRow }
  | { readonly status: 'not_found' };

export function revokeApiKey(store: Store, id: string, now: Date): RevokeOutcome {
  const at = now.toISOString();
  return store.inTransaction((): RevokeOutcome => {
    const existing = store.accounts.keyById(id);
    if (existing === undefined) return { status: 'not_found' };
    if (!store.accounts.revokeKey(id, at)) return { status: 'already_revoked', key: existing };
    store.audit.record({ at, event: 'revoke', key_id: id, detail: { masked: existing.masked } });
    return { status: 'revoked', key: { ...existing, revoked_at: at } };
  });
}
