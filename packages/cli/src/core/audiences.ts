// Where `sekuire api` and the library may send the key: the backend, and the origins a user listed.
import { isLoopbackHost, originOf, plainHttpRefusal } from './backend-url.js';
import { UsageError } from './errors.js';

function invalid(message: string, source: string): UsageError {
  return new UsageError(message, 'invalid_audience', { details: { source } });
}

/**
 * A comma-separated list of origins (scheme://host[:port]), each https, or http to a loopback
 * host only; returned as origins without a trailing slash, duplicates removed. A path, a user
 * name, a query or a fragment is refused: an audience is an origin, nothing narrower.
 */
export function parseAudiences(text: string, source: string): string[] {
  const origins: string[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw invalid(
        `An audience from ${source} is not a URL; give origins such as https://api.example.com.`,
        source,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalid(
        `An audience from ${source} uses ${url.protocol.replace(/:$/, '')}://; only https:// (and http:// to this machine) is supported.`,
        source,
      );
    }
    if (
      url.username !== '' ||
      url.password !== '' ||
      url.search !== '' ||
      url.hash !== '' ||
      /[?#]/.test(item) ||
      !/^\/?$/.test(url.pathname)
    ) {
      throw invalid(
        `The audience ${originOf(url)} from ${source} has more than an origin; give only scheme, host and port, e.g. ${originOf(url)}.`,
        source,
      );
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) throw plainHttpRefusal(url, source);
    const origin = originOf(url);
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}
