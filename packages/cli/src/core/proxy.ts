// Which proxy a request goes through: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, as curl reads them.
import { isLoopbackHost } from './backend-url.js';
import { UsageError } from './errors.js';
import type { Env } from './home.js';
import { ipFamily } from './ip.js';

/** The first variable that is set and not blank; lowercase first, as curl does. */
function firstSet(env: Env, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function bare(host: string): string {
  let h = host.toLowerCase().replace(/\.$/, '');
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  // One spelling per IPv6 address, so that ::1 and 0:0:0:0:0:0:0:1 compare equal.
  if (ipFamily(h) === 6) {
    try {
      h = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return h;
    }
  }
  return h;
}

interface Exclusion {
  readonly host: string;
  readonly port?: string;
}

function parseExclusion(entry: string): Exclusion | undefined {
  let host = entry;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1] ?? '';
    port = bracketed[2];
  } else {
    const withPort = /^([^:]+):(\d+)$/.exec(entry);
    if (withPort) {
      host = withPort[1] ?? '';
      port = withPort[2];
    }
  }
  host = bare(host.replace(/^\*?\./, ''));
  return host === '' ? undefined : { host, port };
}

function excluded(target: URL, noProxy: string): boolean {
  const entries = noProxy.split(/[\s,]+/).filter((entry) => entry !== '');
  if (entries.includes('*')) return true;
  const host = bare(target.hostname);
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return entries.some((entry) => {
    const exclusion = parseExclusion(entry);
    if (!exclusion) return false;
    if (exclusion.port !== undefined && exclusion.port !== port) return false;
    // An address matches only itself; a name matches itself and its subdomains.
    if (ipFamily(exclusion.host) !== 0) return host === exclusion.host;
    return host === exclusion.host || host.endsWith(`.${exclusion.host}`);
  });
}

function parseProxy(name: string, value: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    // Not repeated: a proxy URL may carry a password.
    throw new UsageError(
      `${name} is not a valid proxy URL; expected e.g. http://proxy.example.com:3128.`,
      'invalid_proxy',
      { details: { variable: name } },
    );
  }
  if (url.protocol === 'https:') {
    throw new UsageError(
      `${name} names an https:// proxy, which sekuire does not support; use the proxy's http:// address (the connection to the backend stays encrypted end to end).`,
      'invalid_proxy',
      { details: { variable: name } },
    );
  }
  if (url.protocol !== 'http:' || url.hostname === '') {
    throw new UsageError(
      `${name} must be an http:// proxy URL, e.g. http://proxy.example.com:3128; ${url.protocol.replace(/:$/, '')}:// proxies are not supported.`,
      'invalid_proxy',
      { details: { variable: name } },
    );
  }
  return url;
}

/** The proxy for `target`, or undefined to connect directly. Loopback targets never use one (as in Go). */
export function proxyFor(target: URL, env: Env): URL | undefined {
  if (isLoopbackHost(target.hostname)) return undefined;
  const noProxy = firstSet(env, ['no_proxy', 'NO_PROXY']);
  if (noProxy && excluded(target, noProxy.value)) return undefined;
  const names =
    target.protocol === 'https:'
      ? ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']
      : ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'];
  const proxy = firstSet(env, names);
  return proxy ? parseProxy(proxy.name, proxy.value) : undefined;
}
