// Changing store is a device-key rotation: signed by the old key, the new key bound at once, the old one refused.
import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rotationStatement } from '@sekuire/shared/rotation';
import { describe, expect, it } from 'vitest';
import { readDeviceKey } from '../../packages/cli/src/core/device-key.js';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { MoveApprover, quickSleep } from '../helpers/moves.js';
import { useAgents } from '../helpers/ssh-agent.js';

const backend = useBackend();
const startAgent = useAgents();

function stored(m: TestMachine): Record<string, string> {
  return JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
}

/** GET /api/v1/cli/status signed by `key`, as a device that kept the old key would send it. */
async function statusSignedBy(
  m: TestMachine,
  apiKey: string,
  key: NonNullable<ReturnType<typeof readDeviceKey>>,
) {
  const path = '/api/v1/cli/status';
  const response = await fetch(`${backend.server.url}${path}`, {
    headers: {
      'x-api-key': apiKey,
      'x-sekuire-device': stored(m).device_fingerprint as string,
      ...signed(key, 'GET', `${backend.server.url}${path}`, undefined),
    },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function events(id: string): Promise<string[]> {
  return ((await backend.server.audit(id)) as { event: string }[]).map((event) => event.event);
}

describe('login --key-store on a device already logged in', () => {
  it('file -> agent: the old key signs the change, the new key works at once, the old key is refused', async () => {
    const agent = await startAgent();
    const agentKey = agent.addKey('rotation');
    const { key, id } = await backend.server.createKey();
    const m = backend.machine('rotate-to-agent', { SSH_AUTH_SOCK: agent.socket });
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const fileKey = readDeviceKey(m.home);
    if (fileKey === undefined) throw new Error('no device-key.json after a file login');
    expect(stored(m).device_key).toBe(fileKey.thumbprint);

    const rotate = await m.run(['login', '--with-key', '--key-store', 'agent'], { input: key });
    expect(rotate.code).toBe(0);
    expect(rotate.stderr).toContain(
      `This device's key moved from the file store to the agent store (the SSH agent key ${agentKey.fingerprint}); the backend refuses the old key from now on.`,
    );
    const auth = stored(m);
    expect(auth.key_store).toBe('agent');
    expect(auth.agent_key).toBe(agentKey.fingerprint);
    expect(auth.device_key).not.toBe(fileKey.thumbprint);
    expect((await m.run(['status'])).code).toBe(0);

    const old = await statusSignedBy(m, key, fileKey);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_proof');
    expect(await events(id)).toEqual(['create', 'bind', 'device_key_rotated', 'refresh', 'proof_refused']);

    // And back: the agent's key signs the change to the file store, whose key is the same file.
    const back = await m.run(['login', '--with-key', '--key-store', 'file'], { input: key });
    expect(back.code).toBe(0);
    expect(back.stderr).toContain("This device's key moved from the agent store to the file store");
    expect(stored(m).device_key).toBe(fileKey.thumbprint);
    expect((await m.run(['status'])).code).toBe(0);
  });

  it('the old key lost (agent emptied): exit 15 naming --rebind; --rebind asks for a move a person approves', async () => {
    const agent = await startAgent();
    const agentKey = agent.addKey('lost');
    const email = 'rotate-lost@example.com';
    await backend.server.createUser(email);
    const { key, id } = await backend.server.createKey({ email });
    const m = backend.machine('rotate-lost', { SSH_AUTH_SOCK: agent.socket });
    expect((await m.run(['login', '--with-key', '--key-store', 'agent'], { input: key })).code).toBe(0);
    agent.removeKey(agentKey);

    const refused = await m.run(['login', '--with-key', '--key-store', 'file'], { input: key });
    expect(refused.code).toBe(15);
    expect(refused.stderr).toContain(
      "This device's current key (the agent store) cannot sign the change to the file store: The SSH agent at",
    );
    expect(refused.stderr).toContain(
      "If that key is gone for good, run 'sekuire login --key-store file --rebind': a person approves the move to the new key, as for a new device",
    );
    expect(stored(m).key_store).toBe('agent');

    const owner = await MoveApprover.signIn(backend.server.url, email);
    const moving = m.run(['login', '--with-key', '--key-store', 'file', '--rebind'], {
      input: key,
      context: { sleep: quickSleep },
    });
    const move = await owner.waitFor(id);
    expect((await owner.decide(move.id, 'approve')).status).toBe(200);
    const moved = await moving;
    expect(moved.code).toBe(0);
    expect(stored(m).key_store).toBe('file');
    expect((await m.run(['status'])).code).toBe(0);
  });
});

describe('POST /api/v1/cli/device-key refuses', () => {
  const PATH = '/api/v1/cli/device-key';

  /** A device logged in with the file store: its key, fingerprint and API key. */
  async function device(tag: string) {
    const { key } = await backend.server.createKey();
    const m = backend.machine(tag);
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const current = readDeviceKey(m.home);
    if (current === undefined) throw new Error('no device key');
    return { key, current, fingerprint: stored(m).device_fingerprint as string };
  }

  async function post(
    headers: Record<string, string>,
    body: Record<string, unknown>,
    signer?: NonNullable<ReturnType<typeof readDeviceKey>>,
  ) {
    const text = JSON.stringify(body);
    const response = await fetch(`${backend.server.url}${PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...headers,
        // Signed for the server's own address: the proof names it ("@authority").
        ...(signer === undefined ? {} : signed(signer, 'POST', `${backend.server.url}${PATH}`, text)),
      },
      body: text,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function possession(from: string, to: NonNullable<ReturnType<typeof readDeviceKey>>): string {
    return sign('sha256', Buffer.from(rotationStatement(from, to.thumbprint)), {
      key: to.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
  }

  it("a request without the proof of the bound key, or with another key's", async () => {
    const { key, current, fingerprint } = await device('rotate-api-proof');
    const next = memoryDeviceKey();
    const body = { public_key: next.publicJwk, possession: possession(current.thumbprint, next) };
    const headers = { 'x-api-key': key, 'x-sekuire-device': fingerprint };
    expect((await post(headers, body)).body.error).toBe('proof_required');
    const byNew = await post(headers, body, next);
    expect(byNew.status).toBe(401);
    expect(byNew.body.error).toBe('invalid_proof');
  });

  it("a possession signature that is not the new key's over both thumbprints: 400, nothing changes", async () => {
    const { key, current, fingerprint } = await device('rotate-api-possession');
    const next = memoryDeviceKey();
    const headers = { 'x-api-key': key, 'x-sekuire-device': fingerprint };
    const wrongSigner = await post(
      headers,
      { public_key: next.publicJwk, possession: possession(current.thumbprint, current) },
      current,
    );
    expect(wrongSigner.status).toBe(400);
    expect(wrongSigner.body).toMatchObject({ error: 'invalid_request', field: 'possession' });
    const malformed = await post(headers, { public_key: next.publicJwk, possession: 'x' }, current);
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('possession');
    // The binding still holds the old key: a proof by it is accepted.
    const ok = await post(
      headers,
      { public_key: next.publicJwk, possession: possession(current.thumbprint, next) },
      current,
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ device: { key_thumbprint: next.thumbprint } });
  });

  it('another device (fingerprint), or a key bound to none: 409', async () => {
    const { key, current } = await device('rotate-api-elsewhere');
    const next = memoryDeviceKey();
    const body = { public_key: next.publicJwk, possession: possession(current.thumbprint, next) };
    const elsewhere = await post({ 'x-api-key': key, 'x-sekuire-device': 'f'.repeat(64) }, body, current);
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.error).toBe('device_mismatch');
    const unbound = await backend.server.createKey();
    const none = await post({ 'x-api-key': unbound.key, 'x-sekuire-device': 'f'.repeat(64) }, body, current);
    expect(none.status).toBe(409);
    expect(none.body.error).toBe('not_bound');
  });
});
