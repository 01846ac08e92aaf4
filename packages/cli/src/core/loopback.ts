// The CLI's side of browser login: a listener on 127.0.0.1 that takes exactly one matching callback.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from './errors.js';

export type CallbackResult =
  | { readonly kind: 'code'; readonly code: string }
  | { readonly kind: 'denied' }
  | { readonly kind: 'timeout' };

export interface CallbackListener {
  /** http://127.0.0.1:PORT/callback/<random>: the redirect_uri of this login. */
  readonly redirectUri: string;
  /**
   * Resolves with the first callback whose state matches; callbacks with another state are
   * answered 400 and ignored (a forged or stale redirect must not end the login).
   */
  wait(state: string, timeoutMs: number): Promise<CallbackResult>;
  close(): Promise<void>;
}

/**
 * The dashboard's look (its colours, font and card) in a few inline rules: this page is the
 * last one of a browser login, and was the one plain page of it. Inline, as the CSP allows.
 */
const STYLE =
  'body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f6f7f9;color:#1b1f24;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}' +
  'main{box-sizing:border-box;width:min(28rem,calc(100vw - 2rem));background:#fff;border:1px solid #dfe3e8;border-radius:8px;box-shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08);padding:1.25rem 1.5rem}' +
  'h1{font-size:1.35rem;margin:0 0 .5rem}p{margin:0;color:#5b6572}.brand{font-weight:700;color:#2f54eb;margin:0 0 .75rem}' +
  '.ok h1{color:#1a7f37}.bad h1{color:#c9302c}';

function page(response: ServerResponse, status: number, title: string, text: string): void {
  const tone =
    status === 200 && title === 'Login approved'
      ? 'ok'
      : status >= 400 || title === 'Login denied'
        ? 'bad'
        : '';
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Sekuire</title><style>${STYLE}</style></head><body><main class="${tone}"><p class="brand">Sekuire</p><h1>${title}</h1><p>${text}</p></main></body></html>`;
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // The URL carries the one-time code: no page it could lead to may see it.
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-content-type-options': 'nosniff',
  });
  response.end(body);
}

/** Listens on 127.0.0.1 (never a wider address), on `port` or any free one. */
export async function listenForCallback(port: number): Promise<CallbackListener> {
  const path = `/callback/${randomBytes(12).toString('base64url')}`;
  let handle: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) =>
    page(response, 503, 'Not ready', 'The login has not started yet.');
  const server: Server = createServer((request, response) => handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(`Port ${port} on 127.0.0.1 is already in use.`, 'port_in_use', {
              hint: 'Choose another with --port, or leave --port out to use any free port',
            })
          : error.code === 'EACCES'
            ? new UsageError(`Not allowed to listen on port ${port}.`, 'port_refused', {
                hint: 'Use a port above 1023, or leave --port out',
              })
            : error,
      );
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  let finished = false;
  return {
    redirectUri: `http://127.0.0.1:${actual}${path}`,
    wait(state, timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          finished = true;
          resolve({ kind: 'timeout' });
        }, timeoutMs);
        handle = (request, response) => {
          const url = new URL(request.url ?? '/', 'http://127.0.0.1');
          if (request.method !== 'GET' || url.pathname !== path) {
            page(response, 404, 'Not found', 'Nothing here.');
            return;
          }
          if (finished) {
            page(response, 410, 'Login finished', 'This login is already over. You can close this tab.');
            return;
          }
          if (url.searchParams.get('state') !== state) {
            page(
              response,
              400,
              'Not this login',
              'This answer does not belong to the login in progress (its state does not match), so it was ignored. Go back to the terminal.',
            );
            return;
          }
          const code = url.searchParams.get('code');
          const error = url.searchParams.get('error');
          if (code === null && error === null) {
            page(
              response,
              400,
              'Incomplete answer',
              'The answer has neither a code nor an error; it was ignored.',
            );
            return;
          }
          finished = true;
          clearTimeout(timer);
          if (code !== null && code !== '') {
            page(response, 200, 'Login approved', 'You can close this tab and go back to the terminal.');
            resolve({ kind: 'code', code });
          } else {
            page(response, 200, 'Login denied', 'Nothing was issued. You can close this tab.');
            resolve({ kind: 'denied' });
          }
        };
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
