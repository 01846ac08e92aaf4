// A person at the dashboard without a browser: fetch with a cookie jar, forms sent with their CSRF token.
import { TEST_PASSWORD } from './server.js';

export interface WebResponse {
  readonly status: number;
  readonly location: string | undefined;
  readonly body: string;
}

/** Signed in as `email` on the server at `origin`; redirects are returned, never followed. */
export class WebSession {
  private readonly jar = new Map<string, string>();
  private csrf = '';
  private constructor(readonly origin: string) {}

  static async signIn(origin: string, email: string, password = TEST_PASSWORD): Promise<WebSession> {
    const session = new WebSession(origin);
    await session.get('/login');
    const response = await session.post('/login', { email, password });
    if (response.status !== 303)
      throw new Error(`sign-in as ${email} answered ${response.status}: ${response.body}`);
    return session;
  }

  private remember(response: Response, body: string): WebResponse {
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      if (name) this.jar.set(name.trim(), value.join('='));
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
    if (token !== undefined) this.csrf = token;
    return { status: response.status, location: response.headers.get('location') ?? undefined, body };
  }

  private cookies(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** A path on the server, or an absolute URL (the CLI's own listener, for the redirect back). */
  async get(path: string): Promise<WebResponse> {
    const url = path.startsWith('http') ? path : `${this.origin}${path}`;
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: this.cookies() } });
    return this.remember(response, await response.text());
  }

  async post(path: string, fields: Record<string, string>): Promise<WebResponse> {
    const response = await fetch(`${this.origin}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.cookies(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: this.csrf, ...fields }).toString(),
    });
    return this.remember(response, await response.text());
  }
}
