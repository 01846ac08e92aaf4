// sekuire api and the library with a login whose device key is in the SSH agent: the agent signs, or nothing is sent.
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { authorityOf, type PublicJwk, parsePublicJwk } from '@sekuire/shared/proof-format';
import { describe, expect, it } from 'vitest';
import * as library from '../../packages/cli/src/library.js';
import { ProofVerifier, storedDeviceKey } from '../../packages/server/src/domain/proofs.js';
import { useBackend } from '../helpers/backend.js';
import { Machine } from '../helpers/cli.js';
import { json, type Recorded } from '../helpers/fake-backend.js';
import { type AgentKey, type TestAgent, useAgents } from '../helpers/ssh-agent.js';

const backend = useBackend({ SEKUIRE_RETRIES: '0' });
const startAgent = useAgents();

/** A machine logged in with --key-store agent, and the environment a program on it would have. */
async function agentLogin(name: string, agent: TestAgent) {
  const { key, id } = await backend.server.createKey({ email: `${name}@example.com` });
  // The library reads the real machine ID source: SEKUIRE_MACHINE_ID makes it the CLI's too.
  const env = {
    SSH_AUTH_SOCK: agent.socket,
    SEKUIRE_MACHINE_ID: `machine-${name}`,
    SEKUIRE_RETRIES: '0',
  };
  const m = backend.machine(name, env);
  const login = await m.run(['login', '--with-key', '--key-store', 'agent'], { input: key });
  expect([login.code, login.stderr]).toEqual([0, '']);
  // No key file: the private half stays in the agent.
  expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);
  return { m, key, id, env: { ...env, HOME: m.dir, SEKUIRE_HOME: m.home } };
}

/** The agent key's public half as a JWK, from the .pub file ssh-keygen wrote. */
function agentJwk(device: AgentKey): PublicJwk {
  const pem = execFileSync('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', `${device.path}.pub`], {
    encoding: 'utf8',
  });
  const jwk = parsePublicJwk(createPublicKey(pem).export({ format: 'jwk' }));
  if (jwk === undefined) throw new Error('not a P-256 key');
  return jwk;
}

/**
 * Whether the recorded request carries a proof the agent key made for exactly what arrived, for
 * the server at `origin` (the proof must name its authority: one without is refused, as after
 * the cut-over).
 */
function proofVerdict(device: AgentKey, request: Recorded, origin: string) {
  const header = (name: string) => request.headers[name] as string | undefined;
  const served = authorityOf(new URL(origin));
  return new ProofVerifier({ now: () => new Date(), legacyProofsUntil: new Date(0) }).verify(
    {
      method: request.method,
      authority: header('host'),
      target: request.url,
      body: request.body,
      signatureInput: header('signature-input'),
      signature: header('signature'),
      contentDigest: header('content-digest'),
    },
    storedDeviceKey(agentJwk(device)),
    { serves: (authority) => authority === served },
  );
}

describe('sekuire api with the agent store', () => {
  it('signs through the agent: the backend accepts it, and an audience gets a proof over the bytes sent', async () => {
    const agent = await startAgent();
    const device = agent.addKey('api-agent');
    const { m, key } = await agentLogin('api-agent', agent);
    const whoami = await m.run(['api', '/api/v1/cli/whoami', '--json']);
    expect([whoami.code, whoami.stderr]).toEqual([0, '']);
    expect(whoami.json()).toMatchObject({ status: 200, body: { user: { email: 'api-agent@example.com' } } });

    const audience = await backend.fake(json(201, { id: 'job_1' }));
    const run = await m.run(['api', `${audience.url}/v1/jobs`, '-f', 'name=nightly'], {
      env: { SEKUIRE_AUDIENCES: audience.url },
    });
    expect([run.code, run.stdout, run.stderr]).toEqual([0, '{"id":"job_1"}', '']);
    const [request] = audience.requests;
    if (request === undefined) throw new Error('nothing arrived');
    expect([request.method, request.body]).toEqual(['POST', '{"name":"nightly"}']);
    expect(request.headers['x-api-key']).toBe(key);
    expect(await proofVerdict(device, request, audience.url)).toEqual({ ok: true });
  });

  it('the agent key removed: exit 15 before anything is sent, in process and from the built CLI', async () => {
    const agent = await startAgent();
    const device = agent.addKey('api-removed');
    const { m } = await agentLogin('api-removed', agent);
    agent.removeKey(device);
    const fake = await backend.fake(json(200, {}));
    const refusal = `The SSH agent at ${agent.socket} does not hold this device's key (${device.fingerprint}); the request was refused here and nothing was sent.`;
    for (const args of [
      ['api', '/api/v1/cli/whoami', '--backend', fake.url],
      ['api', `${fake.url}/v1/jobs`, '-f', 'name=nightly'],
    ]) {
      const run = await m.run(args, { env: { SEKUIRE_AUDIENCES: fake.url } });
      expect([run.code, run.stdout]).toEqual([15, '']);
      expect(run.stderr).toContain(refusal);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    // The package's api runs from status.cjs, which requires key-store.cjs for the agent.
    const cli = new Machine('machine-api-removed', { SSH_AUTH_SOCK: agent.socket });
    try {
      const built = await cli.run(['api', '/api/v1/cli/whoami', '--backend', fake.url], {
        env: { SEKUIRE_HOME: m.home, HOME: m.dir },
      });
      expect([built.code, built.stdout]).toEqual([15, '']);
      expect(built.stderr).toContain(refusal);
    } finally {
      cli.cleanup();
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('createClient with the agent store', () => {
  it('signs through the agent; a key the agent no longer holds is a SekuireError (exit code 15), nothing sent', async () => {
    const agent = await startAgent();
    const device = agent.addKey('lib-agent');
    const { env, id } = await agentLogin('lib-agent', agent);
    const audience = await backend.fake(json(201, { id: 'job_1' }));
    const client = library.createClient({ env, audiences: [audience.url] });
    const status = await client.fetch('/api/v1/cli/status');
    expect(status.status).toBe(200);
    expect(((await status.json()) as { key: { id: string } }).key.id).toBe(id);
    const posted = await client.fetch(`${audience.url}/v1/jobs`, { method: 'POST', body: 'nightly' });
    expect(posted.status).toBe(201);
    const [request] = audience.requests;
    if (request === undefined) throw new Error('nothing arrived');
    expect(await proofVerdict(device, request, audience.url)).toEqual({ ok: true });

    agent.removeKey(device);
    // The client opened the agent on its first fetch: the agent refuses the signature now.
    const refused = await client
      .fetch(`${audience.url}/v1/jobs`, { method: 'POST', body: 'again' })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(library.SekuireError);
    expect(refused).toMatchObject({ code: 'agent_refused', exitCode: 15 });
    // A new client finds the key missing when it opens the agent.
    const fresh = await library
      .createClient({ env, audiences: [audience.url] })
      .fetch(`${audience.url}/v1/jobs`)
      .catch((error: unknown) => error);
    expect(fresh).toBeInstanceOf(library.SekuireError);
    expect(fresh).toMatchObject({ code: 'agent_key_missing', exitCode: 15 });
    expect(audience.requests).toHaveLength(1);
  });
});
