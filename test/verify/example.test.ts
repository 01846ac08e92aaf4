// examples/deploy-api as its README runs it: a real server, a key bound to a device, requests
// signed by the CLI's signing code, verified, then refused after revoke-key.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { bindDevice, FINGERPRINT, send, signedRequest } from '../helpers/service-client.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/deploy-api/server.mjs');

let server: TestServer;
let service: ChildProcess;
let base: string;
let output = '';

beforeAll(async () => {
  server = await startServer();
  const verifyKey = await server.createKey({
    email: 'deploys@example.com',
    org: 'Acme',
    type: 'server',
    permissions: ['verify'],
  });
  service = spawn(process.execPath, [EXAMPLE], {
    env: {
      PATH: process.env.PATH ?? '',
      SEKUIRE_URL: server.url,
      SEKUIRE_VERIFY_KEY: verifyKey.key,
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  base = await new Promise<string>((resolvePromise, reject) => {
    let stdout = '';
    service.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      output += chunk;
      const match = /^Listening on (\S+)$/m.exec(stdout);
      if (match?.[1] !== undefined) resolvePromise(match[1]);
    });
    service.once('exit', (code) => reject(new Error(`the example exited (${code}): ${output}`)));
  });
});

afterAll(async () => {
  if (service !== undefined && service.exitCode === null) {
    await new Promise((resolvePromise) => {
      service.once('exit', resolvePromise);
      service.kill('SIGTERM');
    });
  }
  await server?.stop();
});

it('a key bound to a device deploys; a key without deploy:write cannot; after revoke-key, refused', async () => {
  const alice = await server.createKey({
    email: 'alice@example.com',
    org: 'Acme',
    permissions: ['deploy:write'],
  });
  const device: DeviceKey = await bindDevice(server.url, alice.key);
  const deploy = new URL('/deploy', base);
  expect(await signedRequest(deploy, 'POST', alice.key, device, '{"ref":"v1.2.0"}')).toEqual({
    status: 201,
    body: { id: 1, ref: 'v1.2.0', by: 'alice@example.com', device: 'ada-laptop' },
  });
  expect(await signedRequest(new URL('/deploys', base), 'GET', alice.key, device)).toEqual({
    status: 200,
    body: { deploys: [{ id: 1, ref: 'v1.2.0', by: 'alice@example.com', device: 'ada-laptop' }] },
  });
  const bob = await server.createKey({ email: 'bob@example.com', org: 'Acme' });
  const bobDevice = await bindDevice(server.url, bob.key, 'b'.repeat(64));
  expect(await signedRequest(deploy, 'POST', bob.key, bobDevice, '{}', 'b'.repeat(64))).toEqual({
    status: 403,
    body: { error: 'forbidden', message: 'This API key lacks the permission deploy:write.' },
  });
  expect(await send(new URL('/health', base), 'GET', {})).toEqual({ status: 200, body: { ok: true } });

  await server.revokeKey(alice.id);
  expect(await signedRequest(deploy, 'POST', alice.key, device, '{"ref":"v1.2.1"}', FINGERPRINT)).toEqual({
    status: 401,
    body: { error: 'key_revoked', message: 'This API key has been revoked.' },
  });
  // The service never wrote a key anywhere.
  expect(output).not.toContain(alice.key);
});
