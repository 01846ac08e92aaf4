// Reads the PEM certificate and key for --tls-cert/--tls-key and checks they form a usable pair.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsMaterial } from '../http/http-server.js';
import { UsageError } from './errors.js';

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`Cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`);
  }
}

/** Both paths or neither; undefined when neither (plain HTTP). */
export function loadTlsMaterial(
  certPath: string | undefined,
  keyPath: string | undefined,
): TlsMaterial | undefined {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    throw new UsageError('--tls-cert and --tls-key go together: give both (PEM files) or neither.');
  }
  const material = { cert: readPem(certPath, '--tls-cert'), key: readPem(keyPath, '--tls-key') };
  try {
    createSecureContext(material);
  } catch (error) {
    throw new UsageError(
      `The TLS certificate and key cannot be used (${(error as Error).message}); both must be PEM files that belong together.`,
    );
  }
  return material;
}
