// /metrics: the names and labels of the issue, route templates only, outcomes counted where they are decided.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, harness, PASSWORD } from './harness.js';

/** The value of one sample line (`name{labels} value`), or undefined when it is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

forEachEngine((engine) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ engine, withMetrics: true });
  });
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  const scrape = async () => {
    const response = await h.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return response.body;
  };

  it('counts requests by method, route template and status; never an id or an unknown path', async () => {
    const user = await h.createUser({ email: 'ada@example.com' });
    const { apiKey, key } = await h.createKey({ email: 'ada@example.com' });
    expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
    for (let i = 0; i < 3; i++)
      expect((await h.get('/api/v1/cli/status', apiKey.value, FP_A)).statusCode).toBe(200);
    const token = (
      await h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password: PASSWORD },
      })
    ).json().access_token as string;
    const bearer = { authorization: `Bearer ${token}` };
    expect(
      (await h.inject({ method: 'GET', url: `/api/v1/keys/${key.id}`, headers: bearer })).statusCode,
    ).toBe(200);
    expect((await h.inject({ method: 'GET', url: `/api/v1/nothing/${key.id}` })).statusCode).toBe(404);

    const text = await scrape();
    const requests = (method: string, route: string, status: number) =>
      sample(text, `sekuire_http_requests_total{method="${method}",route="${route}",status="${status}"}`);
    expect(requests('POST', '/api/v1/cli/login', 200)).toBe(1);
    expect(requests('GET', '/api/v1/cli/status', 200)).toBe(3);
    expect(requests('POST', '/api/v1/auth/login', 200)).toBe(1);
    expect(requests('GET', '/api/v1/keys/:id', 200)).toBe(1);
    expect(requests('GET', 'unmatched', 404)).toBe(1);
    expect(
      sample(text, 'sekuire_http_request_duration_seconds_count{method="GET",route="/api/v1/cli/status"}'),
    ).toBe(3);
    expect(text).toContain('# TYPE sekuire_http_request_duration_seconds histogram');
    // Every route label is a registered template or "unmatched".
    const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((match) => match[1]));
    expect([...routes].sort()).toEqual([
      '/api/v1/auth/login',
      '/api/v1/cli/login',
      '/api/v1/cli/status',
      '/api/v1/keys/:id',
      'unmatched',
    ]);
    expect(text).not.toContain(key.id);
    expect(text).not.toContain(user.user.id);
  });

  it('counts key checks, refused proofs and sign-ins by outcome, and times a revocation until every instance confirmed', async () => {
    await h.createUser({ email: 'ada@example.com' });
    const { apiKey, key } = await h.createKey({ email: 'ada@example.com' });
    const other = await h.createKey({ email: 'ada@example.com', expiresInDays: 0 });
    expect((await h.login(apiKey.value, FP_A)).statusCode).toBe(200);
    expect((await h.get('/api/v1/cli/status', 'sk_test_not_a_key')).statusCode).toBe(401);
    expect((await h.get('/api/v1/cli/status', other.apiKey.value)).statusCode).toBe(401);
    // Without a proof, then with a proof sent twice.
    const unsigned = { 'x-api-key': apiKey.value, 'x-sekuire-device': FP_A };
    expect(
      (await h.inject({ method: 'GET', url: '/api/v1/cli/status', headers: unsigned })).json().error,
    ).toBe('proof_required');
    const proof = h.sign(h.deviceKey(FP_A), 'GET', '/api/v1/cli/status');
    const signed = { ...unsigned, ...proof };
    expect((await h.inject({ method: 'GET', url: '/api/v1/cli/status', headers: signed })).statusCode).toBe(
      200,
    );
    expect((await h.inject({ method: 'GET', url: '/api/v1/cli/status', headers: signed })).json().error).toBe(
      'proof_replayed',
    );
    const signIn = (password: string) =>
      h.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'ada@example.com', password },
      });
    expect((await signIn('not the password')).statusCode).toBe(401);
    const token = (await signIn(PASSWORD)).json().access_token as string;
    const revoke = await h.inject({
      method: 'DELETE',
      url: `/api/v1/keys/${key.id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(revoke.statusCode).toBe(200);
    expect((await h.get('/api/v1/cli/status', apiKey.value, FP_A)).json().error).toBe('key_revoked');
    // And through the dashboard's page, signed in through its form.
    const third = await h.createKey({ email: 'ada@example.com' });
    const person = formSession(h);
    expect((await person.signIn('ada@example.com')).statusCode).toBe(303);
    expect((await person.get(`/dashboard/keys/${third.key.id}/revoke`)).statusCode).toBe(200);
    expect((await person.post(`/dashboard/keys/${third.key.id}/revoke`, {})).statusCode).toBe(303);

    const text = await scrape();
    expect({
      valid: sample(text, 'sekuire_key_checks_total{outcome="valid"}'),
      unknown: sample(text, 'sekuire_key_checks_total{outcome="unknown"}'),
      expired: sample(text, 'sekuire_key_checks_total{outcome="expired"}'),
      revoked: sample(text, 'sekuire_key_checks_total{outcome="revoked"}'),
    }).toEqual({ valid: 4, unknown: 1, expired: 1, revoked: 1 });
    expect({
      proof_required: sample(text, 'sekuire_proofs_refused_total{reason="proof_required"}'),
      invalid_proof: sample(text, 'sekuire_proofs_refused_total{reason="invalid_proof"}'),
      proof_stale: sample(text, 'sekuire_proofs_refused_total{reason="proof_stale"}'),
      proof_replayed: sample(text, 'sekuire_proofs_refused_total{reason="proof_replayed"}'),
    }).toEqual({ proof_required: 1, invalid_proof: 0, proof_stale: 0, proof_replayed: 1 });
    expect({
      ok: sample(text, 'sekuire_sign_ins_total{outcome="ok"}'),
      invalid_credentials: sample(text, 'sekuire_sign_ins_total{outcome="invalid_credentials"}'),
      rate_limited: sample(text, 'sekuire_sign_ins_total{outcome="rate_limited"}'),
    }).toEqual({ ok: 2, invalid_credentials: 1, rate_limited: 0 });
    expect(sample(text, 'sekuire_revocation_confirm_seconds_count')).toBe(2);
    expect(sample(text, 'sekuire_revocation_confirm_seconds_bucket{le="+Inf"}')).toBe(2);
  });

  it('reports the database pool, LISTEN and the process', async () => {
    const text = await scrape();
    expect(sample(text, 'sekuire_db_pool_connections{state="max"}')).toBe(engine === 'postgres' ? 10 : 1);
    expect(sample(text, 'sekuire_db_pool_connections{state="in_use"}')).toBe(0);
    expect(sample(text, 'sekuire_listen_up')).toBe(1);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });
});

describe('sign-ins past the limit', () => {
  it('count as rate_limited', async () => {
    const h = await harness({
      withMetrics: true,
      signInLimit: { perAddress: 100, perAccount: 1, windowMs: 60_000 },
    });
    try {
      await h.createUser({ email: 'ada@example.com' });
      const attempt = () =>
        h.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'ada@example.com', password: 'not the password' },
        });
      expect((await attempt()).statusCode).toBe(401);
      expect((await attempt()).statusCode).toBe(429);
      const text = (await h.inject({ method: 'GET', url: '/metrics' })).body;
      expect(sample(text, 'sekuire_sign_ins_total{outcome="invalid_credentials"}')).toBe(1);
      expect(sample(text, 'sekuire_sign_ins_total{outcome="rate_limited"}')).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('without metrics', () => {
  it('there is no /metrics on the API port', async () => {
    const h = await harness();
    try {
      const response = await h.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: 'not_found', message: 'No such endpoint.' });
    } finally {
      await h.close();
    }
  });
});
