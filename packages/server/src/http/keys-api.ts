// The keys and devices API (DASHBOARD.md): a signed-in person's keys, by the visibility rule.
// app.csrfProtection comes with the plugin (registered in web.ts).
import type {} from '@fastify/csrf-protection';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { devicesFor, unbindDeviceFor } from '../domain/devices.js';
import type { CreatedKey } from '../domain/keys.js';
import {
  type Actor,
  createKeyFor,
  keyFor,
  listKeysFor,
  managedStatus,
  revokeKeyFor,
  rollKeyFor,
} from '../domain/managed-keys.js';
import type { VisibleDevice } from '../store/queries/devices.js';
import type { VisibleKey } from '../store/queries/keys.js';
import { ApiError } from './api-error.js';
import { requireWho, type WebDeps } from './session-auth.js';
import { parseListQuery, parseNewKeyBody, parseRollBody } from './validation.js';

export function visibleKeyJson(key: VisibleKey, now: Date) {
  return {
    id: key.id,
    name: key.name,
    masked: key.masked,
    environment: key.environment,
    type: key.type,
    status: managedStatus(key, now),
    created_at: key.created_at,
    created_by: { id: key.creator_id, email: key.creator_email },
    expires_at: key.expires_at,
    revoked_at: key.revoked_at,
    last_used_at: key.last_used_at,
    device:
      key.device_id === null
        ? null
        : {
            id: key.device_id,
            name: key.device_name,
            os: key.device_os,
            bound_at: key.device_bound_at,
            last_seen_at: key.device_last_seen_at,
          },
    workspace: { id: key.workspace_id, name: key.workspace_name },
    organization: { id: key.org_id, name: key.org_name },
  };
}

/** The one answer that carries a whole key: the moment it is created (or rolled). */
export function createdKeyJson(created: CreatedKey) {
  return {
    id: created.key.id,
    key: created.apiKey.value,
    masked: created.key.masked,
    name: created.key.name,
    environment: created.key.environment,
    type: created.key.type,
    status: 'active',
    created_at: created.key.created_at,
    expires_at: created.key.expires_at,
    workspace: { id: created.workspace.id, name: created.workspace.name },
    organization: { id: created.organization.id, name: created.organization.name },
  };
}

export function deviceJson(device: VisibleDevice) {
  return {
    id: device.id,
    name: device.name,
    os: device.os,
    os_version: device.os_version,
    arch: device.arch,
    fingerprint_prefix: device.fingerprint.slice(0, 12),
    bound_at: device.bound_at,
    last_seen_at: device.last_seen_at,
    last_ip: device.last_ip,
    key: { id: device.key_id, name: device.key_name, masked: device.key_masked },
  };
}

export function notFound(what: 'key' | 'device'): ApiError {
  return new ApiError('not_found', `No such ${what}.`);
}

export const keysApi: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  // A state change authenticated by the cookie alone could be forged by another site: it also
  // needs the CSRF token (header X-CSRF-Token). Bearer tokens are never sent by a browser on its own.
  const checkCsrf = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    if (requireWho(request).via === 'bearer') return done();
    app.csrfProtection(request, reply, done);
  };
  const changes = { preHandler: checkCsrf };
  const actor = (request: FastifyRequest): Actor => ({
    user: requireWho(request).user,
    clientIp: request.ip,
    now: deps.now(),
  });
  const id = (request: FastifyRequest) => (request.params as { id: string }).id;

  app.get('/api/v1/keys', async (request) => {
    const { limit, offset } = parseListQuery(request.query);
    const page = await listKeysFor(deps.store, requireWho(request).user.id, { limit, offset });
    const now = deps.now();
    return {
      keys: page.items.map((key) => visibleKeyJson(key, now)),
      // Extension: the list comes in pages (newest first), as a page of the dashboard does.
      total: page.total,
      limit,
      offset,
      has_more: offset + page.items.length < page.total,
    };
  });

  app.post('/api/v1/keys', changes, async (request, reply) => {
    const body = parseNewKeyBody(request.body);
    const outcome = await createKeyFor(deps.store, deps.secret, actor(request), body);
    if (!outcome.ok) {
      throw new ApiError('not_found', 'No such workspace (or you are not a member of its organization).');
    }
    return reply.code(201).send(createdKeyJson(outcome.created));
  });

  app.get('/api/v1/keys/:id', async (request) => {
    const key = await keyFor(deps.store, requireWho(request).user.id, id(request));
    if (key === undefined) throw notFound('key');
    return visibleKeyJson(key, deps.now());
  });

  app.delete('/api/v1/keys/:id', changes, async (request) => {
    const outcome = await revokeKeyFor(deps.store, actor(request), id(request), (seconds) =>
      deps.observe?.revocationConfirmed(seconds),
    );
    if (!outcome.ok) throw notFound('key');
    return { id: outcome.id, status: 'revoked', revoked_at: outcome.revokedAt };
  });

  app.post('/api/v1/keys/:id/roll', changes, async (request, reply) => {
    const grace = parseRollBody(request.body);
    const outcome = await rollKeyFor(deps.store, deps.secret, actor(request), id(request), grace);
    if (!outcome.ok && outcome.reason === 'not_found') throw notFound('key');
    if (!outcome.ok) throw new ApiError('key_not_active', 'Only an active key can be rolled.');
    return reply.code(201).send({
      ...createdKeyJson(outcome.created),
      replaces: { id: id(request), expires_at: outcome.oldExpiresAt },
    });
  });

  app.get('/api/v1/devices', async (request) => {
    const devices = await devicesFor(deps.store, requireWho(request).user.id);
    return { devices: devices.map(deviceJson) };
  });

  app.delete('/api/v1/devices/:id', changes, async (request) => {
    const outcome = await unbindDeviceFor(deps.store, actor(request), id(request));
    if (!outcome.ok) throw notFound('device');
    return { id: outcome.id, unbound_at: outcome.unboundAt };
  });
};
