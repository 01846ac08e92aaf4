// The tpm store (Linux): a P-256 key made in the TPM; openssl's tpm2 provider signs with it, one process per proof.
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jwkThumbprint, type PublicJwk, parsePublicJwk } from '@sekuire/shared/proof-format';
import type { Env } from '../home.js';
import { createPrivateFile, readPrivateFile, writePrivateFileAtomic } from '../private-files.js';
import { type DeviceSigner, fixedWidth, KeyStoreError } from './types.js';

/** The key as the TPM wrapped it (a TSS2 PRIVATE KEY PEM): useless without that TPM. */
export const TPM_KEY_FILE = 'tpm-key.pem';
/** Its public half, so that opening the store needs no TPM call. */
export const TPM_PUBLIC_FILE = 'tpm-key.json';
const DEFAULT_DEVICE = '/dev/tpmrm0';
/** A TPM is slow (and rate-limits under dictionary-attack lockout): generous, but never a hang. */
const TPM_TIMEOUT_MS = 10_000;
const PROVIDERS = ['-provider', 'tpm2', '-provider', 'default'];

/** The TPM tpm2-tools would use: TPM2TOOLS_TCTI, else the kernel's resource manager. */
export function tpmTcti(env: Env): string {
  const named = env.TPM2TOOLS_TCTI?.trim();
  if (named) return named;
  if (!existsSync(DEFAULT_DEVICE)) {
    throw new KeyStoreError(
      'tpm_unavailable',
      `No TPM here: ${DEFAULT_DEVICE} does not exist and TPM2TOOLS_TCTI is not set.`,
      'Use a machine with a TPM 2.0 (and its kernel resource manager), or name one with TPM2TOOLS_TCTI; or log in with another --key-store',
    );
  }
  return `device:${DEFAULT_DEVICE}`;
}

function openssl(args: readonly string[], tcti: string, input: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'openssl',
      [...args],
      {
        encoding: 'buffer',
        timeout: TPM_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        // tpm2-openssl reads its TPM from TPM2OPENSSL_TCTI; the rest of the environment as it is.
        env: { ...process.env, TPM2OPENSSL_TCTI: tcti },
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return reject(
            new KeyStoreError(
              'tpm_tools_missing',
              'The tpm store needs openssl with the tpm2 provider, and openssl is not installed.',
              'Install openssl and tpm2-openssl (Debian: apt-get install openssl tpm2-openssl), or log in with another --key-store',
            ),
          );
        }
        const said = stderr.toString('utf8');
        if (/could not load the shared library.*tpm2\.so/i.test(said)) {
          return reject(
            new KeyStoreError(
              'tpm_tools_missing',
              'openssl has no tpm2 provider: the tpm store cannot reach the TPM.',
              'Install tpm2-openssl (Debian: apt-get install tpm2-openssl), or log in with another --key-store',
            ),
          );
        }
        const first = /Failed to instantiate TCTI|Cannot connect|tcti:IO failure/i.test(said)
          ? 'it cannot be reached'
          : (said.split('\n').find((line) => line.trim() !== '') ?? `exit ${error.code}`);
        reject(
          new KeyStoreError(
            'tpm_failed',
            `The TPM (${tcti}) did not answer: ${error.killed ? `no answer within ${TPM_TIMEOUT_MS / 1000} s` : first.trim().slice(0, 300)}. Nothing was sent.`,
            "Check that the TPM is there and this user may use it (the tss group for /dev/tpmrm0). If this device's TPM key is gone for good, run 'sekuire login --rebind' (a person approves the move to a new device key)",
            { tcti },
          ),
        );
      },
    );
    // A child that exits before reading (the TPM gone) makes this write fail with EPIPE: its exit
    // status and stderr, handled above, say what happened; unhandled, the error would end the CLI.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

/** An ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) as r||s. */
export function derToP1363(der: Buffer): Buffer {
  const fail = () =>
    new KeyStoreError(
      'tpm_failed',
      'The TPM answered with a signature that does not parse.',
      "Run 'sekuire login --key-store tpm' again",
    );
  let at = 0;
  const length = (): number => {
    const first = der[at++];
    if (first === undefined) throw fail();
    if (first < 0x80) return first;
    const bytes = first & 0x7f;
    let value = 0;
    for (let i = 0; i < bytes; i++) value = value * 256 + (der[at++] ?? 0);
    return value;
  };
  if (der[at++] !== 0x30) throw fail();
  length();
  const integer = (): Buffer => {
    if (der[at++] !== 0x02) throw fail();
    const size = length();
    const value = der.subarray(at, at + size);
    at += size;
    return value;
  };
  const r = integer();
  const s = integer();
  return Buffer.concat([fixedWidth(r), fixedWidth(s)]);
}

function tpmSigner(
  home: string,
  tcti: string,
  publicJwk: PublicJwk,
  warnings: readonly string[],
): DeviceSigner {
  const keyPath = join(home, TPM_KEY_FILE);
  return {
    store: 'tpm',
    publicJwk,
    thumbprint: jwkThumbprint(publicJwk),
    where: `the TPM key wrapped in ${keyPath}`,
    agentKey: '',
    warnings,
    sign: async (data) =>
      derToP1363(
        await openssl(
          ['pkeyutl', ...PROVIDERS, '-sign', '-inkey', keyPath, '-rawin', '-digest', 'sha256'],
          tcti,
          data,
        ),
      ),
  };
}

function missing(home: string): KeyStoreError {
  return new KeyStoreError(
    'tpm_key_missing',
    `The login's key store is tpm, but ${join(home, TPM_KEY_FILE)} or ${join(home, TPM_PUBLIC_FILE)} is not there.`,
    "If this device's TPM key is gone for good, run 'sekuire login --rebind' (a person approves the move to a new device key)",
  );
}

/** The stored login's TPM key: the files are read here; the TPM is reached only to sign. */
export async function openTpmSigner(home: string, env: Env): Promise<DeviceSigner> {
  const tcti = tpmTcti(env);
  const wrapped = readPrivateFile(join(home, TPM_KEY_FILE), home);
  const pub = readPrivateFile(join(home, TPM_PUBLIC_FILE), home);
  if (wrapped === undefined || pub === undefined) throw missing(home);
  let publicJwk: PublicJwk | undefined;
  try {
    publicJwk = parsePublicJwk(JSON.parse(pub.text));
  } catch {
    publicJwk = undefined;
  }
  if (publicJwk === undefined) throw missing(home);
  return tpmSigner(home, tcti, publicJwk, [...wrapped.warnings, ...pub.warnings]);
}

/** login --key-store tpm: the key this home already has in the TPM, else a new one made there. */
export async function createTpmSigner(home: string, env: Env): Promise<DeviceSigner> {
  const tcti = tpmTcti(env);
  const keyPath = join(home, TPM_KEY_FILE);
  if (readPrivateFile(keyPath, home) === undefined) {
    const made = (
      await openssl(['genpkey', ...PROVIDERS, '-algorithm', 'EC', '-pkeyopt', 'group:P-256'], tcti, '')
    ).toString('utf8');
    if (!made.startsWith('-----BEGIN TSS2 PRIVATE KEY-----')) {
      throw new KeyStoreError(
        'tpm_failed',
        'The TPM did not make a key.',
        'Check the TPM, then run the login again',
      );
    }
    // Exclusive: two logins at once agree on the key that won, as with device-key.json.
    createPrivateFile(home, TPM_KEY_FILE, made);
  }
  const wrapped = readPrivateFile(keyPath, home);
  if (wrapped === undefined) throw missing(home);
  // The public half, from the wrapped key itself: the two files always agree after a login.
  const spki = (await openssl(['pkey', ...PROVIDERS, '-pubout'], tcti, wrapped.text)).toString('utf8');
  const jwk = createPublicKey(spki).export({ format: 'jwk' });
  const publicJwk: PublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string };
  writePrivateFileAtomic(home, TPM_PUBLIC_FILE, `${JSON.stringify({ version: 1, ...publicJwk }, null, 2)}\n`);
  return tpmSigner(home, tcti, publicJwk, wrapped.warnings);
}
