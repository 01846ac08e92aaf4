// A person at the dashboard through the harness (inject, no sockets): cookies kept, and dropped
// when the server clears them; forms sent with the CSRF token of the last page that had one.
import type { LightMyRequestResponse } from 'fastify';
import { type Harness, PASSWORD } from './harness.js';

export interface FormSession {
  get(url: string): Promise<LightMyRequestResponse>;
  /** A form as the page sends it: urlencoded, with the CSRF token; pairs may repeat a name. */
  post(
    url: string,
    fields: Record<string, string> | readonly (readonly [string, string])[],
  ): Promise<LightMyRequestResponse>;
  /** A JSON API call with the session cookie, and the CSRF token of a page unless told not to. */
  api(method: 'GET' | 'POST' | 'DELETE', url: string, withToken?: boolean): Promise<LightMyRequestResponse>;
  /** Through the sign-in form; answers its 303 (or the refusal). */
  signIn(email: string, password?: string): Promise<LightMyRequestResponse>;
  /** The session cookie's value: `prefix` is `__Host-` under TLS. */
  session(): string | undefined;
}

export function formSession(h: Harness, prefix = ''): FormSession {
  const jar = new Map<string, string>();
  let csrf = '';
  const remember = (response: LightMyRequestResponse) => {
    for (const cookie of response.cookies) {
      const expired = cookie.expires !== undefined && cookie.expires.getTime() < Date.now();
      if (cookie.value === '' || expired) jar.delete(cookie.name);
      else jar.set(cookie.name, cookie.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
    if (token !== undefined) csrf = token;
    return response;
  };
  const cookies = () => Object.fromEntries(jar);
  const session: FormSession = {
    get: async (url) => remember(await h.inject({ method: 'GET', url, cookies: cookies() })),
    post: async (url, fields) =>
      remember(
        await h.inject({
          method: 'POST',
          url,
          cookies: cookies(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams([
            ['_csrf', csrf],
            ...(Array.isArray(fields) ? fields : Object.entries(fields)),
          ]).toString(),
        }),
      ),
    async api(method, url, withToken = true) {
      if (withToken) await session.get('/dashboard/settings?tab=api-keys');
      return h.inject({
        method,
        url,
        cookies: cookies(),
        ...(withToken && { headers: { 'x-csrf-token': csrf } }),
      });
    },
    async signIn(email, password = PASSWORD) {
      await session.get('/login');
      return session.post('/login', { email, password });
    },
    session: () => jar.get(`${prefix}sekuire_session`),
  };
  return session;
}
