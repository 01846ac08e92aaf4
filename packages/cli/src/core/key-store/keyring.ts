// The keyring store: the private key (a JWK) in the OS keyring through @napi-rs/keyring, an optional peer loaded only here.
import { execFile } from 'node:child_process';
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { jwkThumbprint, type PublicJwk, parsePublicJwk } from '@sekuire/shared/proof-format';
import { newP256Jwk } from '../device-key.js';
import type { Env } from '../home.js';
import { type DeviceSigner, KeyStoreError } from './types.js';

/** Every keyring call: a D-Bus that never answers must not hold the CLI (or a deploy) hostage. */
export const KEYRING_TIMEOUT_MS = 3000;
const SERVICE = 'sekuire';
export const KEYRING_PACKAGE = '@napi-rs/keyring';
/** The version package.json names as the optional peer, the one tested. */
const KEYRING_VERSION = '2.1.2';

/** One entry per SEKUIRE_HOME: two homes on one account are two devices, as with device-key.json. */
export function keyringAccount(home: string): string {
  return `device-key:${home}`;
}

/**
 * Where @napi-rs/keyring is, resolved as the CLI's own require would (beside a global sekuire
 * too); undefined when it is not installed. Resolving loads nothing.
 */
function keyringModule(): string | undefined {
  const base = typeof __filename === 'string' ? __filename : (process.argv[1] ?? `${process.cwd()}/`);
  try {
    return createRequire(realpathSync(base)).resolve(KEYRING_PACKAGE);
  } catch {
    return undefined;
  }
}

function notInstalled(): KeyStoreError {
  return new KeyStoreError(
    'keyring_not_installed',
    `The keyring store needs ${KEYRING_PACKAGE}, which is not installed next to sekuire (or has no build for this platform).`,
    `Install it: npm install -g ${KEYRING_PACKAGE}@${KEYRING_VERSION} (beside a global sekuire; for a sekuire in a project, npm install ${KEYRING_PACKAGE}@${KEYRING_VERSION} there), or log in with another --key-store`,
  );
}

function unreachable(what: string, detail: string): KeyStoreError {
  return new KeyStoreError(
    'keyring_unavailable',
    `The OS keyring ${what}: ${detail}. Nothing was sent.`,
    'Unlock the keyring, or start its service (on Linux, a Secret Service such as gnome-keyring on the session D-Bus); then try again',
  );
}

/**
 * The keyring call runs in a Node process of its own: the binding blocks its thread while it
 * waits for D-Bus (a bus that never answers blocks it for good), and neither a timer nor a
 * worker thread can end that, since a process's exit waits for its threads. The secret
 * travels on stdin and stdout, never in argv.
 */
const CHILD = `
const { Entry } = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => { input += chunk; }).on('end', () => {
  const request = JSON.parse(input);
  let answer;
  try {
    const entry = new Entry(request.service, request.account);
    if (request.op === 'set') { entry.setPassword(request.secret); answer = { ok: true }; }
    else answer = { ok: true, secret: entry.getPassword() ?? null };
  } catch (error) {
    answer = { ok: false, message: String((error && error.message) || error) };
  }
  process.stdout.write(JSON.stringify(answer));
});
`;

interface Answer {
  readonly ok: boolean;
  readonly secret?: string | null;
  readonly message?: string;
}

/** Throws the exit 15 that says what to install when the binding is not there. */
export function keyringInstalled(): void {
  if (keyringModule() === undefined) throw notInstalled();
}

function keyringCall(
  env: Env,
  what: string,
  request: { op: 'get' | 'set'; account: string; secret?: string },
): Promise<Answer> {
  const module = keyringModule();
  if (module === undefined) return Promise.reject(notInstalled());
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', CHILD, module],
      { env: { ...env }, timeout: KEYRING_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 },
      (error, stdout) => {
        if (error?.killed)
          return reject(unreachable(what, `no answer within ${KEYRING_TIMEOUT_MS / 1000} s`));
        let answer: Answer | undefined;
        try {
          answer = JSON.parse(stdout) as Answer;
        } catch {
          answer = undefined;
        }
        if (answer === undefined) return reject(unreachable(what, 'the keyring library could not be loaded'));
        if (!answer.ok) return reject(unreachable(what, (answer.message ?? 'failed').slice(0, 300)));
        resolve(answer);
      },
    );
    // EPIPE when the child dies before reading: its missing answer is reported above.
    child.stdin?.on('error', () => {});
    child.stdin?.end(JSON.stringify({ service: SERVICE, ...request }));
  });
}

function keyringSigner(home: string, publicJwk: PublicJwk, privateKey: KeyObject): DeviceSigner {
  return {
    store: 'keyring',
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    where: `the OS keyring (${SERVICE}, ${keyringAccount(home)})`,
    agentKey: '',
    warnings: [],
    sign: (data) => sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

function parseStored(home: string, text: string): DeviceSigner {
  try {
    const record = JSON.parse(text) as Record<string, unknown>;
    const publicJwk = parsePublicJwk(record);
    if (publicJwk !== undefined && typeof record.d === 'string') {
      const privateKey = createPrivateKey({ key: { ...publicJwk, d: record.d }, format: 'jwk' });
      return keyringSigner(home, publicJwk, privateKey);
    }
  } catch {
    // Reported below, as any entry that is not a device key.
  }
  throw new KeyStoreError(
    'keyring_key_corrupt',
    `The keyring entry ${SERVICE} / ${keyringAccount(home)} does not hold a device key.`,
    "Remove the entry, then run 'sekuire login --key-store keyring --rebind' (a person approves the move to a new device key)",
  );
}

export async function openKeyringSigner(home: string, env: Env): Promise<DeviceSigner> {
  const account = keyringAccount(home);
  const answer = await keyringCall(env, 'did not answer', { op: 'get', account });
  if (typeof answer.secret !== 'string') {
    throw new KeyStoreError(
      'keyring_key_missing',
      // The binding answers "no entry" for a Secret Service it cannot reach, too (no D-Bus session).
      `The OS keyring has no device key for this home (${SERVICE} / ${account}), or cannot be reached; the request was refused here and nothing was sent.`,
      "Check that the keyring is unlocked and its service is running (on Linux, a Secret Service on the session D-Bus that DBUS_SESSION_BUS_ADDRESS names). If the key is gone for good, run 'sekuire login --key-store keyring --rebind' (a person approves the move to a new device key)",
    );
  }
  return parseStored(home, answer.secret);
}

/** login --key-store keyring: the key already in the keyring for this home, else a new one put there. */
export async function createKeyringSigner(home: string, env: Env): Promise<DeviceSigner> {
  const account = keyringAccount(home);
  const existing = await keyringCall(env, 'did not answer', { op: 'get', account });
  if (typeof existing.secret === 'string') return parseStored(home, existing.secret);
  const jwk = newP256Jwk();
  const record = { version: 1, kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d };
  await keyringCall(env, 'did not store the key', { op: 'set', account, secret: JSON.stringify(record) });
  // Read back: what signs from now on is what the keyring holds.
  return openKeyringSigner(home, env);
}
