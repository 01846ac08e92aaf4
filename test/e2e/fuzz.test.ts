// Random bytes in auth.json never crash the built CLI: a documented exit code, never a stack trace.
import { mkdirSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Machine } from '../helpers/cli.js';

const m = new Machine('fuzz', { SEKUIRE_BACKEND_URL: 'http://127.0.0.1:1' });
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
      { numRuns: 25 },
    );
  });
});
