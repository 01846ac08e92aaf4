// Moves awaiting approval (PROTOCOL.md "Moving a key"), for a signed-in person: list, look, decide.
import type {} from '@fastify/csrf-protection';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../domain/managed-keys.js';
import {
  type DecideOutcome,
  decideMove,
  moveState,
  pendingMovesFor,
  type VisibleMove,
  visibleMove,
} from '../domain/moves.js';
import { ApiError } from './api-error.js';
import { requireWho, type WebDeps } from './session-auth.js';

/** A move as the person deciding it sees it: the key, the device it is bound to, the one asking. */
export function moveJson(move: VisibleMove, now: Date) {
  return {
    id: move.id,
    user_code: move.user_code,
    status: moveState(move, now),
    key: { id: move.key_id, name: move.key_name, masked: move.key_masked },
    // The device the key is bound to now: the one that loses it, while the move is pending.
    bound_device:
      move.bound_id === null
        ? null
        : {
            id: move.bound_id,
            name: move.bound_name,
            os: move.bound_os,
            bound_at: move.bound_at,
            last_seen_at: move.bound_last_seen_at,
          },
    to_device: {
      name: move.device_name,
      os: move.device_os,
      os_version: move.os_version,
      arch: move.arch,
      fingerprint_prefix: move.fingerprint.slice(0, 12),
      requested_ip: move.requested_ip,
    },
    created_at: move.created_at,
    expires_at: move.expires_at,
    decided_at: move.approved_at ?? move.denied_at,
  };
}

/** The refusals of a decision, shared by the API and the /move page. */
export function decisionError(outcome: Exclude<DecideOutcome, { ok: true }>): ApiError {
  switch (outcome.reason) {
    case 'not_found':
      return new ApiError('not_found', 'No such move.');
    case 'expired':
      return new ApiError('move_not_pending', 'This move expired before it was decided.');
    case 'decided':
      return new ApiError('move_not_pending', 'This move was already decided.');
    case 'key_not_active':
      return new ApiError('key_not_active', 'The key is revoked or expired: there is nothing to move.');
    case 'binding_changed':
      return new ApiError(
        'move_not_pending',
        'The key was bound to another device after this move was asked for: the new device must ask again.',
      );
  }
}

export const movesApi: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  // As the keys API: a cookie alone also needs the CSRF token; a bearer token does not.
  const checkCsrf = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (requireWho(request).via === 'bearer') return done();
    app.csrfProtection(request, reply, done);
  };
  const actor = (request: FastifyRequest): Actor => ({
    user: requireWho(request).user,
    clientIp: request.ip,
    now: deps.now(),
  });
  const id = (request: FastifyRequest) => (request.params as { id: string }).id;

  app.get('/api/v1/moves', async (request) => {
    const now = deps.now();
    const moves = await pendingMovesFor(deps.store, requireWho(request).user.id, now);
    // another_device_asked: more than one device asks for this key; each is listed (L1).
    return { moves: moves.map((move) => ({ ...moveJson(move, now), another_device_asked: move.duplicate })) };
  });

  app.get('/api/v1/moves/:id', async (request) => {
    const move = await visibleMove(deps.store, requireWho(request).user.id, id(request));
    if (move === undefined) throw new ApiError('not_found', 'No such move.');
    return moveJson(move, deps.now());
  });

  for (const [verb, approve] of [
    ['approve', true],
    ['deny', false],
  ] as const) {
    app.post(`/api/v1/moves/:id/${verb}`, { preHandler: checkCsrf }, async (request) => {
      const who = actor(request);
      const outcome = await decideMove(deps.store, who, id(request), approve);
      if (!outcome.ok) throw decisionError(outcome);
      const move = await visibleMove(deps.store, who.user.id, outcome.move.id);
      if (move === undefined) throw new ApiError('not_found', 'No such move.');
      const from = outcome.from;
      return {
        ...moveJson(move, who.now),
        // The device that lost the key (approved), if it was bound to one.
        moved_from: from === undefined ? null : { id: from.id, name: from.name, os: from.os },
      };
    });
  }
};
