// The tpm store against swtpm: a key made in the TPM, the wrapped blob in SEKUIRE_HOME, openssl's tpm2 provider signing.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { json } from '../helpers/fake-backend.js';
import { TestTpm } from '../helpers/swtpm.js';

const backend = useBackend();
const tpms: TestTpm[] = [];
afterAll(async () => {
  for (const tpm of tpms.splice(0)) await tpm.stop();
});

async function startTpm(): Promise<TestTpm> {
  const tpm = await TestTpm.start();
  tpms.push(tpm);
  return tpm;
}

function stored(m: TestMachine): Record<string, string> {
  return JSON.parse(readFileSync(m.authFile, 'utf8')) as Record<string, string>;
}

describe('login --key-store tpm', () => {
  it('makes the key in the TPM, keeps only the wrapped blob (0600), and every proof verifies', async () => {
    const tpm = await startTpm();
    const { key } = await backend.server.createKey();
    const m = backend.machine('tpm-login', { TPM2TOOLS_TCTI: tpm.tcti });
    const login = await m.run(['login', '--with-key', '--key-store', 'tpm', '--json'], { input: key });
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.json<{ device: Record<string, unknown> }>().device.key_store).toBe('tpm');
    expect(stored(m).key_store).toBe('tpm');
    const wrapped = join(m.home, 'tpm-key.pem');
    expect(readFileSync(wrapped, 'utf8')).toMatch(/^-----BEGIN TSS2 PRIVATE KEY-----\n/);
    expect(statSync(wrapped).mode & 0o777).toBe(0o600);
    expect(statSync(join(m.home, 'tpm-key.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);

    for (let i = 0; i < 4; i++) {
      const status = await m.run(['status']);
      expect(status.stderr).toBe('');
      expect(status.code).toBe(0);
      expect(status.stdout).toContain('Device Key: tpm\n');
    }
    // Each signature loads, signs and flushes: nothing is left in the TPM's few object slots.
    expect(tpm.transientHandles()).toEqual([]);
    expect((await m.run(['status', '--offline'])).code).toBe(0);
  });

  it('the TPM gone: exit 15 naming it, nothing sent, never a key file instead', async () => {
    const tpm = await startTpm();
    const { key } = await backend.server.createKey();
    const m = backend.machine('tpm-gone', { TPM2TOOLS_TCTI: tpm.tcti });
    expect((await m.run(['login', '--with-key', '--key-store', 'tpm'], { input: key })).code).toBe(0);
    await tpm.stop();
    const fake = await backend.fake(json(200, {}));
    const run = await m.run(['status', '--backend', fake.url]);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(
      `The TPM (${tpm.tcti}) did not answer: it cannot be reached. Nothing was sent.`,
    );
    expect(run.stderr).toContain('Nothing was sent.');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(fake.requests).toHaveLength(0);
    expect(existsSync(join(m.home, 'device-key.json'))).toBe(false);
  });

  it.skipIf(existsSync('/dev/tpmrm0'))(
    'no TPM named and no /dev/tpmrm0: exit 15 before the key is asked for',
    async () => {
      const m = backend.machine('tpm-none');
      // Nothing on stdin: the refusal comes before the key is read, not "no key given".
      const run = await m.run(['login', '--with-key', '--key-store', 'tpm'], { input: '' });
      expect(run.code).toBe(15);
      expect(run.stderr).toContain('No TPM here: /dev/tpmrm0 does not exist and TPM2TOOLS_TCTI is not set.');
      expect(existsSync(m.authFile)).toBe(false);
    },
  );

  it('file -> tpm is a rotation signed by the file key', async () => {
    const tpm = await startTpm();
    const { key, id } = await backend.server.createKey();
    const m = backend.machine('tpm-rotate', { TPM2TOOLS_TCTI: tpm.tcti });
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const rotate = await m.run(['login', '--with-key', '--key-store', 'tpm'], { input: key });
    expect(rotate.code).toBe(0);
    expect(rotate.stderr).toContain("This device's key moved from the file store to the tpm store");
    expect((await m.run(['status'])).code).toBe(0);
    const events = ((await backend.server.audit(id)) as { event: string }[]).map((event) => event.event);
    expect(events).toEqual(['create', 'bind', 'device_key_rotated', 'refresh']);
  });
});
