// The library: createClient().fetch against the reference server and a recording audience; its hand-written types held to the source.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorityOf, parsePublicJwk } from '@sekuire/shared/proof-format';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as source from '../../packages/cli/src/library.js';
import type * as declared from '../../packages/cli/types/index.js';
import { ProofVerifier, storedDeviceKey } from '../../packages/server/src/domain/proofs.js';
import { useBackend } from '../helpers/backend.js';
import { json } from '../helpers/fake-backend.js';

const backend = useBackend({ SEKUIRE_RETRIES: '0' });

/** A machine logged in by the CLI, and the environment a program on it would have. */
async function loggedIn(name: string) {
  const { key, id } = await backend.server.createKey({ email: `${name}@example.com` });
  // The library reads the real machine ID source: SEKUIRE_MACHINE_ID makes it the CLI's too.
  const m = backend.machine(name, { SEKUIRE_MACHINE_ID: `machine-${name}` });
  expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
  const env = {
    HOME: m.dir,
    SEKUIRE_HOME: m.home,
    SEKUIRE_MACHINE_ID: `machine-${name}`,
    SEKUIRE_RETRIES: '0',
  };
  return { m, key, id, env };
}

describe('createClient', () => {
  it('calls the backend of the stored login, signed by this device, and hands back a Response', async () => {
    const { id, env, key } = await loggedIn('lib-status');
    const client = source.createClient({ env });
    const answer = await client.fetch('/api/v1/cli/status');
    expect(answer).toBeInstanceOf(Response);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await answer.json()) as { key: { id: string } }).key.id).toBe(id);
    // A Response like any other: a 404 resolves, it does not throw.
    const missing = await client.fetch(new URL(`${backend.server.url}/api/v1/cli/nothing-here`));
    expect([missing.status, missing.statusText]).toEqual([404, 'Not Found']);
    // The same key, given instead of read from auth.json, is signed with the same device key.
    const given = source.createClient({ env: { ...env, SEKUIRE_BACKEND_URL: backend.server.url }, key });
    expect((await given.fetch('/api/v1/cli/whoami')).status).toBe(200);
  });

  it('refuses an origin outside the rule before sending, with an Error', async () => {
    const { env } = await loggedIn('lib-refused');
    const other = await backend.fake(json(200, {}));
    const client = source.createClient({ env });
    await expect(client.fetch(`${other.url}/v1/jobs`)).rejects.toThrow(
      `Not sending the key to ${other.url}: it is neither the backend of the key in use (${backend.server.url}) nor an audience you listed.`,
    );
    await expect(client.fetch('/x', { headers: { 'X-API-Key': 'other' } })).rejects.toThrow(
      'The header x-api-key is set by sekuire itself',
    );
    expect(other.requests).toEqual([]);
  });

  it("sends a body to an audience with a proof over exactly its bytes and that audience's authority", async () => {
    const { m, env, key } = await loggedIn('lib-audience');
    const audience = await backend.fake(json(201, { id: 'job_1' }));
    const client = source.createClient({ env, audiences: [audience.url] });
    const body = JSON.stringify({ name: 'nightly' });
    const answer = await client.fetch(`${audience.url}/v1/jobs?dry=1`, {
      method: 'post',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    expect([answer.status, await answer.text()]).toEqual([201, '{"id":"job_1"}']);
    const [request] = audience.requests;
    if (request === undefined) throw new Error('nothing arrived');
    expect([request.method, request.url, request.body]).toEqual(['POST', '/v1/jobs?dry=1', body]);
    expect(request.headers['x-api-key']).toBe(key);
    expect(request.headers['content-digest']).toBe(
      `sha-256=:${createHash('sha256').update(body).digest('base64')}:`,
    );
    const jwk = parsePublicJwk(JSON.parse(readFileSync(join(m.home, 'device-key.json'), 'utf8')));
    if (jwk === undefined) throw new Error('no device key');
    // The server's verifier, refusing proofs without "@authority" (as after the cut-over).
    const verifier = new ProofVerifier({ now: () => new Date(), legacyProofsUntil: new Date(0) });
    const shown = (origin: string) => {
      const authority = authorityOf(new URL(origin));
      return verifier.verify(
        {
          method: request.method,
          authority,
          target: request.url,
          body: request.body,
          signatureInput: request.headers['signature-input'] as string,
          signature: request.headers.signature as string,
          contentDigest: request.headers['content-digest'] as string,
        },
        storedDeviceKey(jwk),
        { serves: (asked) => asked === authority },
      );
    };
    expect(request.headers.host).toBe(authorityOf(new URL(audience.url)));
    // Shown to the backend first (its authority is not the one signed), then to the audience.
    expect(await shown(backend.server.url)).toMatchObject({ ok: false, code: 'invalid_proof' });
    expect(await shown(audience.url)).toEqual({ ok: true });
  });

  it('uses a profile as the CLI does: the profile option, else SEKUIRE_PROFILE, else the active one', async () => {
    const { m, env } = await loggedIn('lib-profiles');
    const work = await backend.server.createKey({ email: 'lib-work@example.com' });
    expect((await m.run(['login', '--with-key', '--profile', 'work'], { input: work.key })).code).toBe(0);
    const email = async (options: declared.SekuireClientOptions) => {
      const answer = await source.createClient(options).fetch('/api/v1/cli/whoami');
      expect(answer.status).toBe(200);
      return ((await answer.json()) as { user: { email: string } }).user.email;
    };
    expect(await email({ env })).toBe('lib-profiles@example.com');
    expect(await email({ env, profile: 'work' })).toBe('lib-work@example.com');
    expect(await email({ env: { ...env, SEKUIRE_PROFILE: 'work' } })).toBe('lib-work@example.com');
    expect(await email({ env: { ...env, SEKUIRE_PROFILE: 'work' }, profile: 'default' })).toBe(
      'lib-profiles@example.com',
    );
    expect((await m.run(['auth', 'switch', 'work'])).code).toBe(0);
    expect(await email({ env })).toBe('lib-work@example.com');
    const failure = await source
      .createClient({ env, profile: 'nobody' })
      .fetch('/api/v1/cli/status')
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'not_logged_in', exitCode: 10, details: { profile: 'nobody' } });
  });

  it('throws what the CLI would exit with: not logged in is code not_logged_in, exit code 10', async () => {
    const m = backend.machine('lib-nobody');
    const client = source.createClient({ env: { HOME: m.dir, SEKUIRE_HOME: m.home } });
    const failure = await client.fetch('/api/v1/cli/status').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(source.SekuireError);
    expect(failure).toMatchObject({ code: 'not_logged_in', exitCode: 10, message: 'Not logged in' });
  });

  it('has the types types/index.d.ts declares, and the package.json exports map points at them', () => {
    expectTypeOf(source.createClient).toEqualTypeOf<typeof declared.createClient>();
    expectTypeOf<source.SekuireClient>().toEqualTypeOf<declared.SekuireClient>();
    expectTypeOf<source.SekuireClientOptions>().toEqualTypeOf<declared.SekuireClientOptions>();
    expectTypeOf<InstanceType<typeof source.SekuireError>>().toMatchTypeOf<declared.SekuireError>();
    const pkg = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../packages/cli/package.json'), 'utf8'),
    );
    expect(pkg.exports).toEqual({
      '.': { types: './dist/index.d.ts', import: './dist/index.mjs', require: './dist/index.cjs' },
      './package.json': './package.json',
    });
    expect(pkg.bin).toEqual({ sekuire: 'dist/cli.cjs' });
  });
});
