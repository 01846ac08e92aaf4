// One HTTPS request with node:https (fetch cannot be told which CA to trust, nor which source address to use).
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The Set-Cookie lines, in order ([] when none). */
  readonly setCookie: string[];
  readonly body: string;
}

export interface HttpsRequestOptions {
  /** The CA to trust (PEM). */
  readonly ca: Buffer | string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** The source address to connect from, e.g. 127.0.0.2: another client on this machine. */
  readonly localAddress?: string;
}

export function httpsRequest(url: string, options: HttpsRequestOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: options.ca,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        // A new connection each time, so the source address is the one asked for.
        agent: false,
        ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            setCookie: response.headers['set-cookie'] ?? [],
            body,
          }),
        );
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** `name=value` of the cookie `name` among Set-Cookie lines, to send back; throws when absent. */
export function cookiePair(setCookie: readonly string[], name: string): string {
  const line = setCookie.find((candidate) => candidate.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(setCookie)}`);
  return line.split(';')[0] as string;
}
