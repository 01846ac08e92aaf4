// The device fingerprint and where its machine ID comes from: override, platform, or a kept random ID.
import { createHash, createHmac } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  computeFingerprint,
  DEVICE_ID_FILE,
  type DeviceInputs,
  deviceFact,
  deviceIdentity,
  deviceName,
  osName,
  shortFingerprint,
  weakBindingWarning,
} from '../../packages/cli/src/core/device.js';
import { CredentialsFileError } from '../../packages/cli/src/core/errors.js';
import type { PlatformMachineId } from '../../packages/cli/src/core/machine-id.js';
import { useTempDirs, withUmaskAsync } from '../helpers/temp-home.js';
import { lastJson, startWorker } from '../helpers/worker.js';

const tempDir = useTempDirs();
/** What login asks for: keep a generated ID in device-id. */
const CREATE = { create: true } as const;
const MACHINE_ID = '4c4c4544004b4a10804bb4c04f4e3332';

function independentFingerprint(id: string, platform: string, arch: string): string {
  return createHmac('sha256', 'sekuire.device-fingerprint.v1')
    .update(`${id}\n${platform}\n${arch}`)
    .digest('hex');
}

function inputs(home: string, platformId: PlatformMachineId, env: Record<string, string> = {}): DeviceInputs {
  return {
    env,
    home,
    platform: 'linux',
    arch: 'x64',
    readPlatformMachineId: () => Promise.resolve(platformId),
  };
}

async function rejection(promise: Promise<unknown>): Promise<CredentialsFileError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialsFileError);
  return error as CredentialsFileError;
}

describe('computeFingerprint', () => {
  it('is 64 lowercase hex characters', () => {
    expect(computeFingerprint(MACHINE_ID, 'linux', 'x64')).toMatch(/^[0-9a-f]{64}$/);
    expect(computeFingerprint('', 'win32', 'arm64')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is HMAC-SHA-256 keyed with the app constant over id, platform and arch', () => {
    for (const [id, platform, arch] of [
      [MACHINE_ID, 'linux', 'x64'],
      ['IOPlatformUUID-like-0000', 'darwin', 'arm64'],
      ['{guid-like}', 'win32', 'ia32'],
    ] as const) {
      expect(computeFingerprint(id, platform, arch)).toBe(independentFingerprint(id, platform, arch));
    }
  });

  it('is stable for the same inputs and differs when any input differs', () => {
    const base = computeFingerprint(MACHINE_ID, 'linux', 'x64');
    expect(computeFingerprint(MACHINE_ID, 'linux', 'x64')).toBe(base);
    const others = [
      computeFingerprint(`${MACHINE_ID.slice(0, -1)}0`, 'linux', 'x64'),
      computeFingerprint(MACHINE_ID, 'darwin', 'x64'),
      computeFingerprint(MACHINE_ID, 'linux', 'arm64'),
    ];
    expect(new Set([base, ...others]).size).toBe(4);
  });

  it('is not the plain SHA-256 of the machine ID', () => {
    const plain = createHash('sha256').update(`${MACHINE_ID}\nlinux\nx64`).digest('hex');
    expect(computeFingerprint(MACHINE_ID, 'linux', 'x64')).not.toBe(plain);
    expect(computeFingerprint(MACHINE_ID, 'linux', 'x64')).not.toBe(
      createHash('sha256').update(MACHINE_ID).digest('hex'),
    );
  });
});

describe('shortFingerprint', () => {
  const fingerprint = computeFingerprint(MACHINE_ID, 'linux', 'x64');

  it('keeps 12 characters after login and 8 in status, then "..."', () => {
    expect(shortFingerprint(fingerprint, 12)).toBe(`${fingerprint.slice(0, 12)}...`);
    expect(shortFingerprint(fingerprint, 8)).toBe(`${fingerprint.slice(0, 8)}...`);
    expect(shortFingerprint('a1b2c3d4e5f6a7b8', 12)).toBe('a1b2c3d4e5f6...');
    expect(shortFingerprint('a1b2c3d4e5f6a7b8', 8)).toBe('a1b2c3d4...');
  });
});

describe('device facts sent at login', () => {
  it.each([
    ['a plain hostname', 'build-07', 'build-07'],
    ["macOS's .local", 'MacBook-Pro.local', 'MacBook-Pro'],
    ['a control character', 'host\u0007name', 'host name'],
    ['only spaces', '   ', 'unknown'],
    ['bidi and zero-width characters', 'evil\u202Egnp.exe\u200B', 'evilgnp.exe'],
    ['an empty name', '', 'unknown'],
  ])('a hostname with %s is sent as the backend accepts it', (_what, hostname, expected) => {
    expect(deviceName(hostname)).toBe(expected);
  });

  it('caps a long fact at 200 characters, without splitting a character', () => {
    const pretty = `Debian ${'x'.repeat(250)}`;
    expect(deviceFact(pretty, '')).toHaveLength(200);
    expect(deviceFact(pretty, '').endsWith('…')).toBe(true);
    const emoji = `${'a'.repeat(198)}😀😀`;
    expect(deviceFact(emoji, '')).toBe(`${'a'.repeat(198)}…`);
    expect(deviceFact('  \t ', 'fallback')).toBe('fallback');
  });
});

describe('osName', () => {
  it.each([
    ['darwin', 'macos'],
    ['win32', 'windows'],
    ['linux', 'linux'],
    ['freebsd', 'freebsd'],
  ] as const)('names %s as %s', (platform, name) => {
    expect(osName(platform)).toBe(name);
  });
});

describe('deviceIdentity', () => {
  it('uses SEKUIRE_MACHINE_ID first, without asking the platform', async () => {
    const home = join(tempDir(), 'home');
    let asked = 0;
    const identity = await deviceIdentity({
      ...inputs(home, { id: MACHINE_ID }, { SEKUIRE_MACHINE_ID: '  ci-runner-7\n' }),
      readPlatformMachineId: () => {
        asked++;
        return Promise.resolve({ id: MACHINE_ID });
      },
    });
    expect(identity).toEqual({
      fingerprint: independentFingerprint('ci-runner-7', 'linux', 'x64'),
      idSource: 'env',
      warnings: [],
    });
    expect(asked).toBe(0);
    expect(existsSync(home)).toBe(false);
    expect(weakBindingWarning(identity)).toBeUndefined();
  });

  it('ignores a blank SEKUIRE_MACHINE_ID', async () => {
    const identity = await deviceIdentity(
      inputs(tempDir(), { id: MACHINE_ID }, { SEKUIRE_MACHINE_ID: '  ' }),
    );
    expect(identity.idSource).toBe('machine');
  });

  it("uses the platform's machine ID when it is usable, writing nothing", async () => {
    const home = join(tempDir(), 'home');
    const identity = await deviceIdentity(inputs(home, { id: MACHINE_ID }));
    expect(identity).toEqual({
      fingerprint: independentFingerprint(MACHINE_ID, 'linux', 'x64'),
      idSource: 'machine',
      warnings: [],
    });
    expect(existsSync(home)).toBe(false);
    expect(weakBindingWarning(identity)).toBeUndefined();
  });

  it('passes platform and arch into the fingerprint', async () => {
    const home = tempDir();
    const mac = await deviceIdentity({
      ...inputs(home, { id: MACHINE_ID }),
      platform: 'darwin',
      arch: 'arm64',
    });
    expect(mac.fingerprint).toBe(independentFingerprint(MACHINE_ID, 'darwin', 'arm64'));
  });

  it('creates a random ID file (0600, directory 0700) when the platform has no usable ID', async () => {
    const home = join(tempDir(), 'home');
    const identity = await withUmaskAsync(0o000, () =>
      deviceIdentity(inputs(home, { unusable: '/etc/machine-id is empty' }), CREATE),
    );
    const file = join(home, DEVICE_ID_FILE);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(identity).toEqual({
      fingerprint: independentFingerprint(text.trim(), 'linux', 'x64'),
      idSource: 'generated',
      weakReason: '/etc/machine-id is empty',
      idFile: file,
      idCreated: true,
      warnings: [],
    });
  });

  it('reuses the generated ID on the next call', async () => {
    const home = tempDir();
    const first = await deviceIdentity(inputs(home, { unusable: 'running in a container (docker)' }), CREATE);
    const text = readFileSync(join(home, DEVICE_ID_FILE), 'utf8');
    const second = await deviceIdentity(inputs(home, { unusable: 'running in a container (docker)' }));
    // The same identity; only the first call created the file.
    expect(second).toEqual({ ...first, idCreated: undefined });
    expect(first.idCreated).toBe(true);
    expect(readFileSync(join(home, DEVICE_ID_FILE), 'utf8')).toBe(text);
  });

  it('gives different machines different generated IDs', async () => {
    const a = await deviceIdentity(inputs(tempDir(), { unusable: 'no /etc/machine-id' }));
    const b = await deviceIdentity(inputs(tempDir(), { unusable: 'no /etc/machine-id' }));
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  it('without create (every command but login), keeps nothing: a throwaway ID each time', async () => {
    const home = join(tempDir(), 'home');
    const a = await deviceIdentity(inputs(home, { unusable: 'no /etc/machine-id' }));
    const b = await deviceIdentity(inputs(home, { unusable: 'no /etc/machine-id' }));
    expect(existsSync(home)).toBe(false);
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(a.idFile).toBeUndefined();
  });

  it.each([
    ['an empty file', ''],
    ['only a line break', '\n'],
  ])(
    'replaces a device-id holding %s (left by a writer killed mid-write) instead of failing',
    async (_what, content) => {
      const home = tempDir();
      const file = join(home, DEVICE_ID_FILE);
      writeFileSync(file, content, { mode: 0o600 });
      const identity = await deviceIdentity(inputs(home, { unusable: 'no /etc/machine-id' }), CREATE);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^[0-9a-f]{64}\n$/);
      expect(identity.fingerprint).toBe(independentFingerprint(text.trim(), 'linux', 'x64'));
      expect(readdirSync(home)).toEqual([DEVICE_ID_FILE]);
    },
  );

  it('ten first runs at once agree on one ID: nobody sees a half-written file', async () => {
    const home = join(tempDir(), 'home');
    const go = join(tempDir(), 'go');
    const workers = Array.from({ length: 10 }, () => startWorker(['device-id', home, go]));
    await Promise.all(workers.map((worker) => worker.output('waiting')));
    writeFileSync(go, '');
    const results = await Promise.all(workers.map(async (worker) => lastJson((await worker.exited).stdout)));
    const ids = new Set(results.map((result) => result.fingerprint));
    expect(results.filter((result) => result.ok !== true)).toEqual([]);
    expect(ids.size).toBe(1);
    expect(readdirSync(home)).toEqual([DEVICE_ID_FILE]);
  });

  it.each([
    ['garbage', 'not a device id\n'],
    ['uppercase hex', `${'AB'.repeat(32)}\n`],
    ['a short id', `${'ab'.repeat(16)}\n`],
  ])('refuses a device-id file holding %s (exit 15)', async (_what, content) => {
    const home = tempDir();
    const file = join(home, DEVICE_ID_FILE);
    writeFileSync(file, content, { mode: 0o600 });
    const error = await rejection(deviceIdentity(inputs(home, { unusable: 'no /etc/machine-id' })));
    expect(error.exitCode).toBe(15);
    expect(error.code).toBe('device_id_corrupt');
    expect(error.message).toBe(`${file} does not hold a device ID.`);
    expect(error.hint).toBe("Remove it, then run 'sekuire login' (this device gets a new identity)");
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('refuses a device-id that is a symbolic link (exit 15)', async () => {
    const root = tempDir();
    const home = join(root, 'home');
    mkdirSync(home, { mode: 0o700 });
    const elsewhere = join(root, 'other-id');
    writeFileSync(elsewhere, `${'cd'.repeat(32)}\n`, { mode: 0o600 });
    symlinkSync(elsewhere, join(home, DEVICE_ID_FILE));
    const error = await rejection(deviceIdentity(inputs(home, { unusable: 'no /etc/machine-id' })));
    expect(error.exitCode).toBe(15);
    expect(error.code).toBe('credentials_symlink');
    expect(error.message).toContain(`${join(home, DEVICE_ID_FILE)} is a symbolic link.`);
    expect(lstatSync(join(home, DEVICE_ID_FILE)).isSymbolicLink()).toBe(true);
  });

  it('warns when the device-id file is readable by others, and still uses it', async () => {
    const home = tempDir();
    const file = join(home, DEVICE_ID_FILE);
    const id = 'ef'.repeat(32);
    writeFileSync(file, `${id}\n`);
    chmodSync(file, 0o644);
    const identity = await deviceIdentity(inputs(home, { unusable: 'no /etc/machine-id' }));
    expect(identity.fingerprint).toBe(independentFingerprint(id, 'linux', 'x64'));
    expect(identity.warnings).toEqual([
      `Warning: ${file} is readable by other users (mode 0644). Run 'chmod 600 ${file}', and revoke the key if someone else may have read it.`,
    ]);
  });
});

describe('weakBindingWarning', () => {
  it('one line of at most 120 characters with the fix, when the ID file is created; never again in that home', async () => {
    const home = tempDir();
    const unusable = { unusable: 'running in a container (docker), whose machine ID comes from its image' };
    const first = await deviceIdentity(inputs(home, unusable), CREATE);
    const warning = weakBindingWarning(first);
    expect(warning).toBe(
      'Warning: no usable machine ID here, so a random one is kept in device-id. Fix: set SEKUIRE_MACHINE_ID to a stable value.',
    );
    expect(warning?.length).toBeLessThanOrEqual(120);
    const again = await deviceIdentity(inputs(home, unusable), CREATE);
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(weakBindingWarning(again)).toBeUndefined();
    expect(first.idFile).toBe(join(home, DEVICE_ID_FILE));
  });
});
