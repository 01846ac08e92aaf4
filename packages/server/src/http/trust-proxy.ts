// Which proxies may say who the client is (`start --trust-proxy SPEC`): a hop count, or addresses and CIDRs.
import { isIP } from 'node:net';

/**
 * What Fastify's `trustProxy` is given. With it, `request.ip` walks X-Forwarded-For back through
 * trusted hops only, and `request.protocol` / `request.host` take X-Forwarded-Proto /
 * X-Forwarded-Host only when the connection itself comes from a trusted proxy. Without it those
 * headers are ignored: a client cannot choose its address, its scheme or its host.
 *
 * RFC 7239's `Forwarded` is not read (Fastify's proxy-addr does not either). Reading it beside
 * X-Forwarded-For would be worse than useless: a proxy that sets one passes the other on as the
 * client wrote it, so the server would trust whichever header the client forged.
 */
export type TrustProxy = number | readonly string[];

/** The names proxy-addr knows besides addresses: 127.0.0.0/8 and ::1, fe80::/10 etc., private ranges. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'] as const;

export type TrustProxyParse = { readonly trust: TrustProxy } | { readonly problem: string };

/** Why one entry of an address list is refused, or undefined when proxy-addr accepts it. */
function entryProblem(entry: string): string | undefined {
  if ((NAMED_RANGES as readonly string[]).includes(entry)) return undefined;
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  // A zone (fe80::1%eth0) names an interface of this machine: not something a header carries.
  if (family === 0 || address.includes('%')) return `"${entry}" is not an IP address`;
  if (extra !== undefined) return `"${entry}" has more than one "/"`;
  if (prefix === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) {
    return `"${entry}" needs a prefix length from 0 to ${bits} after the "/"`;
  }
  return undefined;
}

/**
 * `source` names where the text came from ("--trust-proxy", "SEKUIRE_SERVER_TRUST_PROXY").
 * A hop count trusts that many proxies in front of the server whatever their addresses; a list
 * trusts exactly those addresses (the safer choice when the proxies' addresses are known).
 */
export function parseTrustProxy(text: string, source: string): TrustProxyParse {
  const usage = `${source} takes a hop count (1 for one proxy in front) or a comma-separated list of addresses and CIDRs (127.0.0.1,10.0.0.0/8, or loopback)`;
  const spec = text.trim();
  if (/^\d+$/.test(spec)) {
    const hops = Number(spec);
    if (hops === 0) return { problem: `${usage}; 0 trusts no proxy: leave ${source} out instead.` };
    if (!Number.isSafeInteger(hops)) return { problem: `${usage}, not "${text}".` };
    return { trust: hops };
  }
  const entries = spec.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (entry === '') return { problem: `${usage}, not "${text}": an entry is empty.` };
    const problem = entryProblem(entry);
    if (problem !== undefined) return { problem: `${usage}, not "${text}": ${problem}.` };
  }
  return { trust: entries };
}
