// The request log: one JSON line per answered request with exactly its fields, no secret in any, errors with their stack.
import { describe, expect, it } from 'vitest';
import { flushRequestLog, type LogLevel } from '../../packages/server/src/http/request-log.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, harness, PASSWORD } from './harness.js';

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Logged {
  readonly h: Harness;
  /** Every line written so far, as written. */
  readonly text: () => string;
  readonly lines: () => Record<string, unknown>[];
}

/** A harness whose app logs at `level` into memory; unexpected errors go to that log, as under `start`. */
async function logged(level: LogLevel): Promise<Logged> {
  const written: string[] = [];
  const h = await harness({
    log: { level, stream: { write: (line) => void written.push(line) } },
    logError: undefined,
  });
  return {
    h,
    text: () => {
      flushRequestLog(h.app);
      return written.join('');
    },
    lines: () => {
      flushRequestLog(h.app);
      return written.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

/** The line of a request: every field, in the order written. */
function requestLine(fields: Record<string, unknown>) {
  return {
    level: 'info',
    time: expect.stringMatching(ISO_TIME),
    reqId: expect.stringMatching(/^req-/),
    client_ip: '127.0.0.1',
    duration_ms: expect.any(Number),
    msg: 'request',
    ...fields,
  };
}

describe('the request log', () => {
  it('one line per request: method, route template, status, duration, client address and the key id', async () => {
    const { h, lines } = await logged('info');
    try {
      const { apiKey, key } = await h.createKey();
      expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
      expect((await h.get('/api/v1/cli/status', apiKey.value, FP_A)).statusCode).toBe(200);
      expect((await h.get('/api/v1/cli/status', 'sk_test_not_a_key')).statusCode).toBe(401);
      expect((await h.inject({ method: 'GET', url: `/api/v1/no/such/${key.id}` })).statusCode).toBe(404);
      expect(lines()).toEqual([
        requestLine({ method: 'POST', route: '/api/v1/cli/login', status: 200, key_id: key.id }),
        requestLine({ method: 'GET', route: '/api/v1/cli/status', status: 200, key_id: key.id }),
        requestLine({ method: 'GET', route: '/api/v1/cli/status', status: 401 }),
        // Not the path: an unknown one is whatever a client made up (here, an id).
        requestLine({ method: 'GET', route: 'unmatched', status: 404 }),
      ]);
      const [first] = lines();
      expect(Object.keys(first ?? {})).toEqual([
        'level',
        'time',
        'reqId',
        'method',
        'route',
        'status',
        'duration_ms',
        'client_ip',
        'key_id',
        'msg',
      ]);
    } finally {
      await h.close();
    }
  });

  it('lines are made together shortly after: each still carries the time its request completed; close writes what waits', async () => {
    const written: string[] = [];
    const h = await harness({
      log: { level: 'info', stream: { write: (line) => void written.push(line) } },
      logError: undefined,
    });
    let closed = false;
    try {
      const before = Date.now();
      expect((await h.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
      const answered = Date.now();
      // Nobody flushes here: the app's own timer writes the line.
      for (let waited = 0; written.length === 0 && waited < 5_000; waited += 5) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(written).toHaveLength(1);
      const time = Date.parse(String((JSON.parse(written[0] ?? '{}') as { time: unknown }).time));
      // The moment the request completed, not the later moment its line was made.
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(answered);

      expect((await h.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
      closed = true;
      await h.close();
      expect(written.map((line) => (JSON.parse(line) as { route: unknown }).route)).toEqual([
        '/api/v1/health',
        '/api/v1/health',
      ]);
    } finally {
      if (!closed) await h.close();
    }
  });

  it('names the person signed in, and never holds a key, password, token, cookie, proof or signature', async () => {
    const { h, lines, text } = await logged('info');
    try {
      const user = await h.createUser({ email: 'ada@example.com' });
      const { apiKey, key } = await h.createKey({ email: 'ada@example.com' });
      const login = await h.login(apiKey.value, FP_A);
      const proof = h.sign(h.deviceKey(FP_A), 'GET', '/api/v1/cli/status');
      await h.inject({
        method: 'GET',
        url: '/api/v1/cli/status',
        headers: { 'x-api-key': apiKey.value, 'x-sekuire-device': FP_A, ...proof },
      });
      const signIn = await h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password: PASSWORD },
      });
      const tokens = signIn.json() as { access_token: string; refresh_token: string };
      const bearer = { authorization: `Bearer ${tokens.access_token}` };
      expect(
        (await h.inject({ method: 'GET', url: `/api/v1/keys/${key.id}`, headers: bearer })).statusCode,
      ).toBe(200);
      await h.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: tokens.refresh_token },
      });
      await h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password: 'a wrong canary password' },
      });
      const person = formSession(h);
      expect((await person.signIn('ada@example.com')).statusCode).toBe(303);
      expect((await person.get('/dashboard/settings?tab=api-keys')).statusCode).toBe(200);

      const byRoute = (route: string) => lines().filter((line) => line.route === route);
      expect(byRoute('/api/v1/keys/:id')).toEqual([
        requestLine({ method: 'GET', route: '/api/v1/keys/:id', status: 200, user_id: user.user.id }),
      ]);
      expect(byRoute('/api/v1/auth/login').map((line) => [line.status, line.user_id])).toEqual([
        [200, user.user.id],
        [401, undefined],
      ]);
      expect(byRoute('/dashboard/settings').map((line) => line.user_id)).toEqual([user.user.id]);
      const secrets = {
        key: apiKey.value,
        password: PASSWORD,
        wrongPassword: 'a wrong canary password',
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        sessionCookie: person.session() ?? 'no session cookie',
        signature: proof.signature ?? 'no signature',
        signatureInput: proof['signature-input'] ?? 'no signature input',
        devicePublicKey: JSON.stringify(h.deviceKey(FP_A).publicJwk).slice(1, 40),
      };
      expect(login.statusCode).toBe(200);
      const log = text();
      expect(Object.entries(secrets).filter(([, secret]) => log.includes(secret))).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('an unexpected error: the client sees internal_error, the log its stack on a line with the same reqId', async () => {
    const { h, lines, text } = await logged('warn');
    try {
      const { apiKey } = await h.createKey();
      expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
      await h.sql.exec('DROP TABLE devices');
      const response = await h.get('/api/v1/cli/status', apiKey.value, FP_A);
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({ error: 'internal_error', message: 'Internal server error.' });
      // At warn, the answered requests below 500 write nothing.
      const [error, request] = lines();
      expect(lines()).toHaveLength(2);
      expect(error).toEqual({
        level: 'error',
        time: expect.stringMatching(ISO_TIME),
        reqId: request?.reqId,
        msg: expect.stringMatching(
          /^sekuire-server: unexpected error in GET \/api\/v1\/cli\/status: (SqliteError: no such table: devices)\n\s+at /,
        ),
      });
      expect(request).toEqual({
        ...requestLine({ method: 'GET', route: '/api/v1/cli/status', status: 500 }),
        level: 'warn',
      });
      expect(text()).not.toContain(apiKey.value);
    } finally {
      await h.close();
    }
  });

  it('silent writes nothing, not even errors', async () => {
    const { h, text } = await logged('silent');
    try {
      const { apiKey } = await h.createKey();
      expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
      await h.sql.exec('DROP TABLE devices');
      expect((await h.get('/api/v1/cli/status', apiKey.value, FP_A)).statusCode).toBe(500);
      expect(text()).toBe('');
    } finally {
      await h.close();
    }
  });
});
