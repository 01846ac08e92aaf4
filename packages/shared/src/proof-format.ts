// Device proof on the wire: an RFC 9421 (HTTP Message Signatures) profile, built the same way by CLI and server.
import type { createHash as CreateHash } from 'node:crypto';
import { sha256 } from './sha256.js';

/**
 * A signed request carries three headers (RFC 9421 and RFC 9530):
 *
 *     Content-Digest: sha-256=:<base64 SHA-256 of the body; of nothing for a GET>:
 *     Signature-Input: sekuire=("@method" "@path" "@query" "content-digest");created=<unix s>;nonce="<random>";keyid="<JWK thumbprint>";alg="ecdsa-p256-sha256"
 *     Signature: sekuire=:<base64 of the P-256 signature, r || s>:
 *
 * The covered components are fixed, in this order; the signature base is RFC 9421 §2.5's.
 */
export const PROOF_LABEL = 'sekuire';
export const PROOF_ALG = 'ecdsa-p256-sha256';
export const COVERED = '("@method" "@path" "@query" "content-digest")';
/** A proof older or newer than this (seconds) is stale: the window the replay cache must cover. */
export const PROOF_WINDOW_S = 300;

/** The public half of a device key (RFC 7517), P-256 only. */
export interface PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

export interface ProofParams {
  /** Unix seconds. */
  readonly created: number;
  readonly nonce: string;
  /** The RFC 7638 thumbprint of the public key that signed. */
  readonly keyid: string;
}

const COORDINATE = /^[A-Za-z0-9_-]{43}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const KEYID = /^[A-Za-z0-9_-]{43}$/;

/** A JWK as received (login body, device-key.json): undefined when it is not a P-256 public key. */
export function parsePublicJwk(value: unknown): PublicJwk | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.kty !== 'EC' || record.crv !== 'P-256') return undefined;
  if (typeof record.x !== 'string' || typeof record.y !== 'string') return undefined;
  if (!COORDINATE.test(record.x) || !COORDINATE.test(record.y)) return undefined;
  return { kty: 'EC', crv: 'P-256', x: record.x, y: record.y };
}

/** RFC 7638: SHA-256 of the required members in lexical order, base64url. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  // Our own SHA-256: the CLI checks the thumbprint offline, without loading node:crypto.
  return sha256(canonical).toString('base64url');
}

let createHash: typeof CreateHash | undefined;

/** RFC 9530 Content-Digest of the body as sent (an absent body is the empty string). */
export function contentDigest(body: string | Buffer | undefined): string {
  // node:crypto's, looked up once: when signing or verifying it is loaded by then, and
  // `status --offline`, which imports this module too, never loads it.
  createHash ??= process.getBuiltinModule('node:crypto').createHash;
  return `sha-256=:${createHash('sha256')
    .update(body ?? '')
    .digest('base64')}:`;
}

export function signatureParams(params: ProofParams): string {
  return `${COVERED};created=${params.created};nonce="${params.nonce}";keyid="${params.keyid}";alg="${PROOF_ALG}"`;
}

/** RFC 9421 §2.2: "@query" is the query with its "?", or "?" when there is none. */
export function queryComponent(search: string): string {
  return search === '' ? '?' : search;
}

/** RFC 9421 §2.5: one line per covered component, then the signature parameters. */
export function signatureBase(
  method: string,
  path: string,
  query: string,
  digest: string,
  params: string,
): string {
  return [
    `"@method": ${method.toUpperCase()}`,
    `"@path": ${path}`,
    `"@query": ${queryComponent(query)}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${params}`,
  ].join('\n');
}

/** Our profile of Signature-Input, strictly: anything else is not a proof of ours. */
export function parseSignatureInput(header: string | undefined): (ProofParams & { raw: string }) | undefined {
  if (header === undefined) return undefined;
  const prefix = `${PROOF_LABEL}=`;
  if (!header.startsWith(prefix)) return undefined;
  const raw = header.slice(prefix.length);
  const match =
    /^\("@method" "@path" "@query" "content-digest"\);created=(\d{1,12});nonce="([^"]*)";keyid="([^"]*)";alg="([^"]*)"$/.exec(
      raw,
    );
  if (match === null) return undefined;
  const [, created, nonce, keyid, alg] = match;
  if (alg !== PROOF_ALG || !NONCE.test(nonce ?? '') || !KEYID.test(keyid ?? '')) return undefined;
  return { created: Number(created), nonce: nonce as string, keyid: keyid as string, raw };
}

/** The raw signature bytes of `Signature: sekuire=:<base64>:`. */
export function parseSignature(header: string | undefined): Buffer | undefined {
  const match = header === undefined ? null : /^sekuire=:([A-Za-z0-9+/]{86}==):$/.exec(header);
  return match?.[1] === undefined ? undefined : Buffer.from(match[1], 'base64');
}
