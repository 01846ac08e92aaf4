// Which authorities this server's own API accepts proofs for: where it listens, and its public origins.
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Audience } from '../domain/proofs.js';
import { overHttps } from './scheme.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** An address as a URL's host spells it: IPv6 in brackets, without a zone. */
function hostOf(address: string): string {
  const bare = address.split('%')[0] ?? address;
  return isIP(bare) === 6 ? `[${bare.toLowerCase()}]` : bare.toLowerCase();
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/**
 * The authorities a listening socket is reached by: its own address and port; on loopback,
 * localhost, 127.0.0.1 and [::1] as one; on every address (0.0.0.0, ::), each interface's
 * address, loopback's names and the machine's host name. The scheme's default port is left out,
 * as a client's URL leaves it out.
 */
export function listenAuthorities(address: string, port: number, tls: boolean): Set<string> {
  const hosts = new Set<string>([hostOf(address)]);
  if (isLoopback(address)) for (const name of LOOPBACK_NAMES) hosts.add(name);
  if (address === '0.0.0.0' || address === '::') {
    for (const name of LOOPBACK_NAMES) hosts.add(name);
    hosts.add(hostname().toLowerCase());
    for (const entries of Object.values(networkInterfaces())) {
      for (const entry of entries ?? []) hosts.add(hostOf(entry.address));
    }
  }
  const withPort = port === (tls ? 443 : 80) ? (host: string) => host : (host: string) => `${host}:${port}`;
  return new Set([...hosts].map(withPort));
}

/** `https://api.example.com` -> `api.example.com`: the authority a client signs for that origin. */
export function publicAuthority(origin: string): string {
  return new URL(origin).host;
}

/**
 * The server's own audience: the public origins named (start --public-url), and where it
 * listens, read once it does (with --port 0 the port is known only then). In-process requests
 * (no socket) are served for the public origins alone.
 */
export function servedAuthorities(
  app: FastifyInstance,
  tls: boolean,
  publicOrigins: readonly string[],
): Audience {
  const named = new Set(publicOrigins.map(publicAuthority));
  let listening: Set<string> | undefined;
  return {
    serves(authority) {
      if (named.has(authority)) return true;
      if (listening === undefined) {
        const address = app.server.address();
        if (address === null || typeof address === 'string') return false;
        listening = listenAuthorities(address.address, address.port, tls);
      }
      return listening.has(authority);
    },
  };
}

/** Characters no authority holds: a Host header with them names no server of ours. */
const NOT_AN_AUTHORITY = /[/?#@\\\s]/;

/**
 * The authority a request was addressed to (its Host, or a trusted proxy's X-Forwarded-Host),
 * as RFC 9421 spells "@authority": lower case, the scheme's default port left out.
 */
export function requestAuthority(request: FastifyRequest): string | undefined {
  const host = request.host;
  if (typeof host !== 'string' || host === '' || NOT_AN_AUTHORITY.test(host)) return undefined;
  try {
    return new URL(`${overHttps(request) ? 'https' : 'http'}://${host}`).host;
  } catch {
    return undefined;
  }
}
