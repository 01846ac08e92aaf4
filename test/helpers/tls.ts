// A throwaway self-signed certificate, made with openssl at test time (never committed).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface SelfSigned {
  /** PEM certificate: also the CA to trust (NODE_EXTRA_CA_CERTS, or `ca`). */
  readonly cert: string;
  readonly key: string;
}

/** Writes cert.pem and key.pem into `dir` for `names` (DNS names or IP addresses), valid one day. */
export function selfSignedCert(dir: string, names: readonly string[]): SelfSigned {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', cert].concat([
      '-subj',
      `/CN=${names[0] ?? 'localhost'}`,
      '-addext',
      `subjectAltName=${san}`,
    ]),
    { stdio: 'ignore' },
  );
  return { cert, key };
}
