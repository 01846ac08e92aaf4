// The backend's base URL: parsed and refused early (bad scheme, credentials, plain http off loopback).
import { UsageError } from './errors.js';
import { ipFamily } from './ip.js';

const EXAMPLE = 'e.g. https://api.sekuire.ai';

function invalid(message: string, source: string): UsageError {
  return new UsageError(message, 'invalid_backend_url', { details: { source } });
}

/** The refusal for plain http off loopback; send() repeats the check, so it lives in one place. */
export function plainHttpRefusal(url: URL, source: string): UsageError {
  return new UsageError(
    `Refusing to send an API key over plain http to ${url.hostname}; use https:// (plain http is allowed only for 127.0.0.0/8, ::1 and localhost). The URL came from ${source}.`,
    'insecure_backend_url',
    { details: { source, host: url.hostname } },
  );
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})(\/[A-Za-z0-9._~/-]*)?$/;

/**
 * `127.0.0.1:5556` or `localhost:5556`: a host and port without a scheme (which `new URL`
 * refuses, or reads `localhost:` as the scheme). The example given is this URL with its scheme,
 * http:// for this machine and https:// elsewhere, never the public API. Only text of that exact
 * shape is repeated: a key pasted into the wrong flag cannot match it.
 */
function schemeless(text: string): string | undefined {
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const host = (match[1] ?? '').toLowerCase();
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return `${loopback ? 'http' : 'https'}://${text}`;
}

/**
 * Parses a backend URL given by a flag, the environment or a stored login; `source` names it in
 * messages. Refuses before any connection is made, so a key never leaves over plain http.
 */
export function parseBackendUrl(text: string, source: string): URL {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid(`The backend URL from ${source} is empty; give one, ${EXAMPLE}.`, source);
  let url: URL;
  const withScheme = schemeless(trimmed);
  if (withScheme !== undefined) {
    throw invalid(
      `The backend URL from ${source} has no scheme; give an absolute URL: ${withScheme}.`,
      source,
    );
  }
  try {
    url = new URL(trimmed);
  } catch {
    // The text is not repeated: a key pasted into the wrong flag would end up in the message.
    throw invalid(`The backend URL from ${source} is not a URL; give an absolute URL, ${EXAMPLE}.`, source);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(
      `The backend URL from ${source} uses ${url.protocol.replace(/:$/, '')}://; only https:// (and http:// to this machine) is supported.`,
      source,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(
      `The backend URL from ${source} contains a user name or password; remove them (the API key is sent in a header).`,
      source,
    );
  }
  // URL drops an empty "?" or "#" from search and hash but keeps it in href.
  if (url.search !== '' || url.hash !== '' || url.href.includes('?') || url.href.includes('#')) {
    throw invalid(
      `The backend URL from ${source} has a query or fragment; give only scheme, host, port and path, ${EXAMPLE}.`,
      source,
    );
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) throw plainHttpRefusal(url, source);
  url.pathname = url.pathname.replace(/\/+$/, '');
  // The API's own path, given as part of the base: every request would go to /api/v1/api/v1/...
  const apiPath = /\/api(\/v\d+)?$/i.exec(url.pathname);
  if (apiPath) {
    const base = `${url.origin}${url.pathname.slice(0, apiPath.index)}`;
    throw invalid(
      `The backend URL from ${source} ends with ${apiPath[0]}, which sekuire adds itself; give the server's base URL: ${base}`,
      source,
    );
  }
  return url;
}

/** The web app's URL (the dashboard link): http(s), no credentials; `source` names it in messages. */
export function parseWebUrl(text: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UsageError(
      `The web URL from ${source} is not a URL; give an absolute URL, e.g. https://sekuire.ai.`,
      'invalid_web_url',
      {
        details: { source },
      },
    );
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    throw new UsageError(
      `The web URL from ${source} must be an http(s) URL without a user name or password, e.g. https://sekuire.ai.`,
      'invalid_web_url',
      { details: { source } },
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** A URL as shown and stored: no trailing slash. */
export function urlText(url: URL): string {
  return url.href.replace(/\/$/, '');
}

/** 127.0.0.0/8, ::1, localhost and *.localhost; takes URL.hostname (IPv6 in brackets) or a bare host. */
export function isLoopbackHost(hostname: string): boolean {
  let host = hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = ipFamily(host);
  if (family === 4) return host.split('.')[0] === '127';
  // Canonical form through URL, so 0:0:0:0:0:0:0:1 counts as ::1.
  if (family !== 6) return false;
  try {
    return new URL(`http://[${host}]/`).hostname === '[::1]';
  } catch {
    return false;
  }
}

/** An absolute API path ('/api/v1/...') under the backend's path prefix, if it has one. */
export function apiUrl(backend: URL, path: string): URL {
  const prefix = backend.pathname.replace(/\/+$/, '');
  return new URL(`${backend.origin}${prefix}${path.startsWith('/') ? path : `/${path}`}`);
}

/** Scheme, host and port: what a key may be sent to. Unlike URL.origin, never "null". */
export function originOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

export function sameOrigin(a: URL, b: URL): boolean {
  return originOf(a) === originOf(b);
}
