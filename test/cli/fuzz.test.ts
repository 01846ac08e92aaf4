// Random bytes in auth.json and config.json never crash the CLI: a documented exit code, never a stack trace.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mintKey } from '@sekuire/shared/key';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TestMachine } from '../helpers/context.js';

const m = new TestMachine('fuzz', { SEKUIRE_BACKEND_URL: 'http://127.0.0.1:1' });
afterAll(() => m.cleanup());

const almostJson = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc
    .dictionary(
      fc.constantFrom(
        'api_key',
        'device_fingerprint',
        'backend',
        'org_id',
        'workspace_id',
        'version',
        'key_id',
      ),
      fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant('sk_live_x'), fc.array(fc.string())),
    )
    .map((record) => new TextEncoder().encode(JSON.stringify(record))),
);

describe('status with a random auth.json', () => {
  it('exits 15 (or 0 for a valid file) with a message naming the file, never a stack trace', {
    timeout: 60_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(almostJson, async (bytes) => {
        mkdirSync(m.home, { recursive: true, mode: 0o700 });
        writeFileSync(m.authFile, bytes, { mode: 0o600 });
        const run = await m.run(['status', '--offline']);
        expect([0, 15]).toContain(run.code);
        if (run.code === 15) expect(run.stderr).toContain(m.authFile);
        expect(run.stderr).not.toMatch(/\n\s+at |Unexpected error/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('status and login with a random config.json', () => {
  const KEY = mintKey('test').value;
  const anyJson = fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    fc
      .dictionary(
        fc.constantFrom('backend', 'web_url', 'timeout', 'connect_timeout', 'retries', 'other'),
        fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.array(fc.string())),
      )
      .map((record) => new TextEncoder().encode(JSON.stringify(record))),
  );
  it('exits 0, 2 or 15 with a message, never a stack trace', async () => {
    await fc.assert(
      fc.asyncProperty(anyJson, async (bytes) => {
        mkdirSync(m.home, { recursive: true, mode: 0o700 });
        rmSync(m.authFile, { force: true });
        writeFileSync(`${m.home}/config.json`, bytes, { mode: 0o600 });
        const run = await m.run(['status', '--offline', '--json'], { env: { SEKUIRE_API_KEY: KEY } });
        expect([0, 2, 15]).toContain(run.code);
        expect(run.stderr).not.toMatch(/\n\s+at |Unexpected error/);
        const login = await m.run(['login', '--with-key'], { input: '' });
        expect([2, 15]).toContain(login.code);
      }),
      { numRuns: 100 },
    );
  });
});
