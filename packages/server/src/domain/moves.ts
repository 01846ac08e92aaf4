// Moving a binding to another device: the new device asks, a person who may manage the key decides.
import type { DeviceFacts, DeviceRow } from '../store/queries/devices.js';
import type { KeyRecord } from '../store/queries/keys.js';
import type { MoveRow, VisibleMove } from '../store/queries/moves.js';
import type { Store, Tx } from '../store/store.js';
import { DEVICE_TTL_MS, newUserCode, normalizeUserCode, POLL_INTERVAL_S } from './cli-grants.js';
import { newId } from './ids.js';
import { keyStatus } from './keys.js';
import type { Actor } from './managed-keys.js';
import type { ExpectedKey } from './proofs.js';

export type { MoveRow, VisibleMove };

/** A move lives as long as a device code: 15 minutes, polled every 5 seconds at most. */
export const MOVE_TTL_MS = DEVICE_TTL_MS;

export type MoveState = 'pending' | 'approved' | 'denied' | 'expired' | 'completed';

export function moveState(move: MoveRow, now: Date): MoveState {
  if (move.denied_at !== null) return 'denied';
  if (move.approved_at !== null) return 'approved';
  if (move.device_id !== null) return 'completed';
  return Date.parse(move.expires_at) <= now.getTime() ? 'expired' : 'pending';
}

export interface MoveRequest {
  readonly keyId: string;
  readonly from: DeviceRow;
  readonly facts: DeviceFacts;
  readonly deviceKey: ExpectedKey;
  readonly clientIp: string;
  readonly now: Date;
}

/**
 * Records a pending move, inside the login's transaction (the key's row is locked). The same
 * device asking again replaces its own undecided request; another device's request stays
 * pending beside it (L1): a newer request by someone holding the key never silently ends the
 * owner's. Both are listed, flagged, and each device is told that another one asked too.
 */
export async function requestMove(tx: Tx, request: MoveRequest): Promise<MoveRow> {
  const at = request.now.toISOString();
  await tx.moves.supersedeFrom(request.keyId, request.facts.fingerprint, at);
  let userCode = newUserCode();
  // Two codes the same: 1 in 2.6 × 10^10 per pair; the lookup keeps the unique index from
  // failing the transaction.
  for (let attempt = 0; (await tx.moves.byUserCode(userCode)) !== undefined && attempt < 5; attempt++) {
    userCode = newUserCode();
  }
  const move: MoveRow = {
    id: newId('move'),
    key_id: request.keyId,
    user_code: userCode,
    from_device_id: request.from.id,
    fingerprint: request.facts.fingerprint,
    device_name: request.facts.name,
    device_os: request.facts.os,
    os_version: request.facts.os_version,
    arch: request.facts.arch,
    public_key: request.deviceKey.publicKey,
    key_thumbprint: request.deviceKey.thumbprint,
    requested_ip: request.clientIp,
    created_at: at,
    expires_at: new Date(request.now.getTime() + MOVE_TTL_MS).toISOString(),
    interval_seconds: POLL_INTERVAL_S,
    last_polled_at: null,
    decided_by: null,
    approved_at: null,
    denied_at: null,
    device_id: null,
  };
  await tx.moves.insert(move);
  await tx.audit.record({
    at,
    event: 'move_request',
    key_id: request.keyId,
    fingerprint: request.facts.fingerprint,
    device_name: request.facts.name,
    client_ip: request.clientIp,
    detail: {
      move_id: move.id,
      from_device_id: request.from.id,
      from_device: request.from.name,
      os: request.facts.os,
    },
  });
  return move;
}

/** The binding a move makes: the new device's facts and key. */
async function bindMoved(tx: Tx, move: MoveRow, at: string): Promise<DeviceRow> {
  const device: DeviceRow = {
    id: newId('dev'),
    key_id: move.key_id,
    fingerprint: move.fingerprint,
    name: move.device_name,
    os: move.device_os,
    os_version: move.os_version,
    arch: move.arch,
    bound_at: at,
    last_seen_at: at,
    last_ip: move.requested_ip,
    public_key: move.public_key,
    key_thumbprint: move.key_thumbprint,
  };
  await tx.devices.insert(device);
  await tx.moves.completed(move.id, device.id);
  return device;
}

export type DecideOutcome =
  | {
      readonly ok: true;
      readonly move: MoveRow;
      /** The new binding (approved). */
      readonly device: DeviceRow | undefined;
      /** The binding the approval ended, if the key had one. */
      readonly from: DeviceRow | undefined;
    }
  | {
      readonly ok: false;
      readonly reason: 'not_found' | 'decided' | 'expired' | 'key_not_active' | 'binding_changed';
    };

/**
 * Approve move / Deny, by a person allowed to manage the key. Approval moves the binding at
 * once: the old device's next request is refused, on every running server.
 */
export async function decideMove(
  store: Store,
  actor: Actor,
  moveId: string,
  approve: boolean,
): Promise<DecideOutcome> {
  const visible = await store.read.moves.visible(actor.user.id, { id: moveId });
  if (visible === undefined) return { ok: false, reason: 'not_found' };
  const at = actor.now.toISOString();
  return store.transaction(
    async (tx): Promise<DecideOutcome> => {
      await tx.lock('api_keys', visible.key_id);
      const move = await tx.moves.byId(visible.id);
      if (move === undefined) return { ok: false, reason: 'not_found' };
      const state = moveState(move, actor.now);
      if (state === 'expired') return { ok: false, reason: 'expired' };
      if (state !== 'pending') return { ok: false, reason: 'decided' };
      const key = await tx.keys.byId(move.key_id);
      if (approve && (key === undefined || keyStatus(key, actor.now) !== 'active'))
        return { ok: false, reason: 'key_not_active' };
      const from = await tx.devices.active(move.key_id);
      // Bound to a third device since the move was asked for: what the person would approve is
      // not what they were shown. (Freed meanwhile is fine: the poll would bind it anyway.)
      if (approve && from !== undefined && from.id !== move.from_device_id)
        return { ok: false, reason: 'binding_changed' };
      if (!(await tx.moves.decide(move.id, actor.user.id, at, approve)))
        return { ok: false, reason: 'decided' };
      const decided = {
        ...move,
        decided_by: actor.user.id,
        ...(approve ? { approved_at: at } : { denied_at: at }),
      };
      if (!approve) {
        await tx.audit.record({
          at,
          event: 'move_deny',
          key_id: move.key_id,
          fingerprint: move.fingerprint,
          device_name: move.device_name,
          client_ip: actor.clientIp,
          actor_user_id: actor.user.id,
          detail: { move_id: move.id, requested_ip: move.requested_ip },
        });
        return { ok: true, move: decided, device: undefined, from: undefined };
      }
      if (from !== undefined) await tx.devices.unbind(from.id, at);
      // The other devices that asked for this key lose: their polls answer expired_token.
      await tx.moves.supersede(move.key_id, at);
      const device = await bindMoved(tx, move, at);
      await tx.audit.record({
        at,
        event: 'move',
        key_id: move.key_id,
        fingerprint: device.fingerprint,
        device_name: device.name,
        client_ip: actor.clientIp,
        actor_user_id: actor.user.id,
        detail: {
          move_id: move.id,
          from: from?.fingerprint ?? null,
          to: device.fingerprint,
          from_device: from?.name ?? null,
          from_device_id: from?.id ?? null,
          device_id: device.id,
          requested_ip: move.requested_ip,
        },
      });
      return { ok: true, move: { ...decided, device_id: device.id }, device, from };
    },
    { invalidates: true },
  );
}

/** The move a poll names, if it is one of this key's: its device key checks the poll's proof. */
export async function moveOfKey(store: Store, keyId: string, moveId: string): Promise<MoveRow | undefined> {
  const move = await store.read.moves.byId(moveId);
  return move?.key_id === keyId ? move : undefined;
}

/** Polled again within the interval after the last poll that was recorded. */
function tooSoon(move: MoveRow, now: Date): boolean {
  return (
    move.last_polled_at !== null &&
    now.getTime() - Date.parse(move.last_polled_at) < move.interval_seconds * 1000
  );
}

export type MovePoll =
  | { readonly status: 'moved'; readonly record: KeyRecord; readonly device: DeviceRow }
  | { readonly status: 'authorization_pending'; readonly otherRequests: number }
  | { readonly status: 'slow_down' | 'access_denied' | 'expired_token' }
  | { readonly status: 'invalid_grant'; readonly message: string };

/**
 * The new device polls (the device flow's answers): pending, slower please, denied, expired,
 * or the login answer once the binding is its own. When the key was freed meanwhile (logout on
 * the old device, or an admin's unbind), nothing is left to approve: the poll binds it.
 */
export async function pollMove(
  store: Store,
  record: KeyRecord,
  moveId: string,
  clientIp: string,
  now: Date,
): Promise<MovePoll> {
  const keyId = record.key.id;
  // A poll too soon is answered from a read, writing nothing (RFC 8628 §3.5, as for device
  // codes): polling as fast as one can costs no write and no lock. A move freed or rebound
  // meanwhile is told at the next poll on time.
  const seen = await store.read.moves.byId(moveId);
  if (seen !== undefined && seen.key_id === keyId && moveState(seen, now) === 'pending' && tooSoon(seen, now))
    return { status: 'slow_down' };
  // One transaction per poll on time records it (every 5 s); only a poll that binds tells every server.
  const polled = await store.transaction(async (tx): Promise<MovePoll | 'free'> => {
    await tx.lock('api_keys', keyId);
    const move = await tx.moves.byId(moveId);
    if (move === undefined || move.key_id !== keyId)
      return { status: 'invalid_grant', message: 'No such move for this key.' };
    const active = await tx.devices.active(keyId);
    const state = moveState(move, now);
    if (state === 'approved' || state === 'completed') {
      if (active?.id !== move.device_id)
        return { status: 'invalid_grant', message: 'The key has been moved or unbound since this move.' };
      return { status: 'moved', record, device: active };
    }
    if (state === 'denied') return { status: 'access_denied' };
    if (state === 'expired') return { status: 'expired_token' };
    if (active === undefined) return 'free';
    if (active.id !== move.from_device_id)
      return {
        status: 'invalid_grant',
        message: 'The key was bound to another device since this move was asked for: ask again.',
      };
    // Another poll may have been recorded since the read above.
    if (tooSoon(move, now)) return { status: 'slow_down' };
    await tx.moves.polled(move.id, now.toISOString(), move.interval_seconds);
    return {
      status: 'authorization_pending',
      otherRequests: await tx.moves.otherPending(keyId, move.id, now.toISOString()),
    };
  });
  if (polled !== 'free') return polled;
  return store.transaction(
    async (tx): Promise<MovePoll> => {
      await tx.lock('api_keys', keyId);
      const move = await tx.moves.byId(moveId);
      // Decided, or bound by someone else, between the two transactions: poll again.
      if (
        move === undefined ||
        moveState(move, now) !== 'pending' ||
        (await tx.devices.active(keyId)) !== undefined
      )
        return { status: 'authorization_pending', otherRequests: 0 };
      const at = now.toISOString();
      const device = await bindMoved(tx, move, at);
      await tx.audit.record({
        at,
        event: 'bind',
        key_id: keyId,
        fingerprint: device.fingerprint,
        device_name: device.name,
        client_ip: clientIp,
        detail: { device_id: device.id, move_id: move.id, os: device.os, os_version: device.os_version },
      });
      return { status: 'moved', record, device };
    },
    { invalidates: true },
  );
}

/** The move a typed code stands for, if the person may decide it and it is still pending. */
export async function pendingMoveByCode(
  store: Store,
  userId: string,
  typed: string,
  now: Date,
): Promise<VisibleMove | undefined> {
  const code = normalizeUserCode(typed);
  if (code === undefined) return undefined;
  const move = await store.read.moves.visible(userId, { userCode: code });
  return move !== undefined && moveState(move, now) === 'pending' ? move : undefined;
}

export function visibleMove(store: Store, userId: string, moveId: string): Promise<VisibleMove | undefined> {
  return store.read.moves.visible(userId, { id: moveId });
}

/** A pending move, and whether another device asked for the same key too (L1). */
export interface PendingMove extends VisibleMove {
  readonly duplicate: boolean;
}

export async function pendingMovesFor(store: Store, userId: string, now: Date): Promise<PendingMove[]> {
  const moves = await store.read.moves.pendingFor(userId, now.toISOString());
  const perKey = new Map<string, number>();
  for (const move of moves) perKey.set(move.key_id, (perKey.get(move.key_id) ?? 0) + 1);
  return moves.map((move) => ({ ...move, duplicate: (perKey.get(move.key_id) ?? 0) > 1 }));
}
