// A child process for credential-file tests that need another process, another uid or a kill.
// Usage: node --import tsx credentials-worker.ts <command> <args...>; prints one JSON line.
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCredentials, writeCredentials } from '../../packages/cli/src/core/credentials.js';
import { deviceIdentity } from '../../packages/cli/src/core/device.js';
import { ensureDeviceKey } from '../../packages/cli/src/core/device-key.js';
import { SekuireError } from '../../packages/cli/src/core/errors.js';
import { writePrivateFileAtomic } from '../../packages/cli/src/core/private-files.js';
import { ensureProfileDir, writeActiveProfile } from '../../packages/cli/src/core/profiles.js';

type Credentials = Parameters<typeof writeCredentials>[1];

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function waitFor(file: string): void {
  while (!existsSync(file)) sleep(2);
}

function credentialsFromEnv(): Credentials {
  return JSON.parse(process.env.SEKUIRE_TEST_CREDENTIALS ?? '') as Credentials;
}

function report(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function describeError(error: unknown): unknown {
  if (error instanceof SekuireError) {
    return {
      ok: false,
      name: error.name,
      code: error.code,
      exitCode: error.exitCode,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
    };
  }
  return { ok: false, name: (error as Error).name, message: String(error) };
}

/** Polls every entry of dir until stopFile exists; reports every mode other than 0600 it saw. */
function watch(dir: string, stopFile: string): void {
  const wider: string[] = [];
  let polls = 0;
  let tempSightings = 0;
  report({ ready: true });
  while (!existsSync(stopFile)) {
    polls++;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      let mode: number;
      try {
        mode = lstatSync(join(dir, entry)).mode & 0o777;
      } catch {
        continue;
      }
      if (entry.endsWith('.tmp')) tempSightings++;
      if (mode !== 0o600) wider.push(`${entry} ${mode.toString(8)}`);
    }
  }
  report({ polls, tempSightings, wider });
}

const [command = '', ...args] = process.argv.slice(2);
const arg = (i: number): string => args[i] ?? '';

switch (command) {
  case 'write': {
    // write <home> <goFile> <times>: waits for goFile so that several writers start together.
    const credentials = credentialsFromEnv();
    report({ waiting: true });
    waitFor(arg(1));
    try {
      for (let i = 0; i < Number(arg(2)); i++) writeCredentials(arg(0), credentials);
      report({ ok: true });
    } catch (error) {
      report(describeError(error));
    }
    break;
  }
  case 'write-many': {
    // write-many <home> <times> <umask octal>
    process.umask(Number.parseInt(arg(2), 8));
    const credentials = credentialsFromEnv();
    for (let i = 0; i < Number(arg(1)); i++) writeCredentials(arg(0), credentials);
    report({ ok: true });
    break;
  }
  case 'write-loop': {
    // write-loop <home> <padding bytes>: rewrites auth.json forever, each time a little different.
    const credentials = credentialsFromEnv();
    report({ started: true });
    for (let i = 0; ; i++) {
      writeCredentials(arg(0), { ...credentials, org_name: `${i}:${'x'.repeat(Number(arg(1)))}` });
    }
  }
  case 'switch-loop': {
    // switch-loop <home> <a> <b>: what `auth switch` writes, alternating between two names forever.
    report({ started: true });
    for (let i = 0; ; i++) writeActiveProfile(arg(0), i % 2 ? arg(2) : arg(1));
  }
  case 'profile-login-loop': {
    // profile-login-loop <home> <name> <padding bytes>: what `login --profile NAME` writes, forever.
    const credentials = credentialsFromEnv();
    report({ started: true });
    for (let i = 0; ; i++) {
      const dir = ensureProfileDir(arg(0), arg(1));
      ensureDeviceKey(dir);
      writeCredentials(dir, { ...credentials, org_name: `${i}:${'x'.repeat(Number(arg(2)))}` });
    }
  }
  case 'write-huge': {
    // write-huge <dir> <name> <bytes>: one very large atomic write, to be killed while it runs.
    const data = 'x'.repeat(Number(arg(2)));
    report({ started: true });
    writePrivateFileAtomic(arg(0), arg(1), data);
    report({ ok: true });
    break;
  }
  case 'device-id': {
    // device-id <home> <goFile>: a first login on a machine without a usable machine ID.
    report({ waiting: true });
    waitFor(arg(1));
    try {
      const identity = await deviceIdentity(
        {
          env: {},
          home: arg(0),
          platform: 'linux',
          arch: 'x64',
          readPlatformMachineId: async () => ({ unusable: 'no machine ID in this test' }),
        },
        { create: true },
      );
      report({ ok: true, fingerprint: identity.fingerprint });
    } catch (error) {
      report(describeError(error));
    }
    break;
  }
  case 'watch':
    watch(arg(0), arg(1));
    break;
  case 'read':
    try {
      const loaded = readCredentials(arg(0));
      report({ ok: true, credentials: loaded?.credentials ?? null, warnings: loaded?.warnings ?? [] });
    } catch (error) {
      report(describeError(error));
    }
    break;
  default:
    report({ ok: false, message: `unknown command ${command}` });
    process.exitCode = 2;
}
