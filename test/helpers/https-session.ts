// A person at the dashboard over https from a source address of their choosing: a cookie jar, forms with their CSRF token.
import { type HttpsAnswer, httpsRequest } from './https-request.js';
import { TEST_PASSWORD } from './server.js';

export class HttpsSession {
  private readonly jar = new Map<string, string>();
  private csrf = '';

  /** `localAddress`: where this person connects from (127.0.0.2: another client on this machine). */
  constructor(
    readonly origin: string,
    private readonly ca: string,
    readonly localAddress: string,
  ) {}

  private remember(answer: HttpsAnswer): HttpsAnswer {
    for (const line of answer.setCookie) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      this.jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(answer.body)?.[1];
    if (token !== undefined) this.csrf = token;
    return answer;
  }

  private cookies(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** The names of the cookies this person holds. */
  cookieNames(): string[] {
    return [...this.jar.keys()];
  }

  async get(path: string): Promise<HttpsAnswer> {
    return this.remember(
      await httpsRequest(`${this.origin}${path}`, {
        ca: this.ca,
        localAddress: this.localAddress,
        headers: { cookie: this.cookies() },
      }),
    );
  }

  async post(path: string, fields: Record<string, string>): Promise<HttpsAnswer> {
    return this.remember(
      await httpsRequest(`${this.origin}${path}`, {
        ca: this.ca,
        localAddress: this.localAddress,
        method: 'POST',
        headers: { cookie: this.cookies(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: this.csrf, ...fields }).toString(),
      }),
    );
  }

  /** Through the sign-in form; answers its 303 (or the refusal). */
  async signIn(email: string, password = TEST_PASSWORD): Promise<HttpsAnswer> {
    await this.get('/login');
    return this.post('/login', { email, password });
  }
}
