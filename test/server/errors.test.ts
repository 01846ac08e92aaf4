// Health, 404, 413, malformed JSON, content types, bad URLs and 500s: always the JSON error shape.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { deviceBody, FP_A, type Harness, harness } from './harness.js';

forEachEngine((engine) => {
  let h: Harness;
  let key: string;
  beforeEach(async () => {
    h = await harness({ engine });
    key = (await h.createKey()).apiKey.value;
  });
  afterEach(async () => {
    await h.close();
  });

  function postLogin(payload: string | Buffer, headers: Record<string, string> = {}) {
    return h.inject({
      method: 'POST',
      url: '/api/v1/cli/login',
      headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers },
      payload,
    });
  }

  describe('health', () => {
    it('answers {"status":"ok"} without a key, not cacheable', async () => {
      const response = await h.get('/api/v1/health', undefined);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
      expect(response.headers['cache-control']).toBe('no-store');
      const head = await h.inject({ method: 'HEAD', url: '/api/v1/health' });
      expect(head.statusCode).toBe(200);
      expect(head.body).toBe('');
    });
  });

  describe('error replies', () => {
    it.each([
      ['GET', '/'],
      ['GET', '/api/v1/cli'],
      ['GET', '/api/v1/cli/login'],
      ['DELETE', '/api/v1/cli/status'],
      ['GET', '/api/v2/cli/status'],
      ['POST', '/api/v1/health'],
      ['GET', '/api/v1/cli/status/extra'],
    ] as const)('%s %s -> 404 not_found', async (method, url) => {
      const response = await h.inject({ method, url, headers: { 'x-api-key': key } });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json()).toEqual({ error: 'not_found', message: 'No such endpoint.' });
    });

    it('a 65 KiB body -> 413 payload_too_large; exactly 64 KiB is accepted', async () => {
      const device = h.deviceKey(FP_A);
      const plain = deviceBody(FP_A, { padding: '' });
      const body = { ...plain, device: { ...plain.device, public_key: device.publicJwk } };
      const base = Buffer.byteLength(JSON.stringify(body));
      const sized = (bytes: number) => JSON.stringify({ ...body, padding: 'x'.repeat(bytes - base) });
      expect(Buffer.byteLength(sized(64 * 1024))).toBe(64 * 1024);

      const tooBig = await postLogin(sized(65 * 1024));
      expect(tooBig.statusCode).toBe(413);
      expect(tooBig.headers['cache-control']).toBe('no-store');
      expect(tooBig.json()).toEqual({
        error: 'payload_too_large',
        message: 'The request body is larger than the server accepts.',
      });
      const oneOver = await postLogin(sized(64 * 1024 + 1));
      expect(oneOver.statusCode).toBe(413);
      const exact = sized(64 * 1024);
      const atLimit = await postLogin(exact, h.sign(device, 'POST', '/api/v1/cli/login', exact));
      expect(atLimit.statusCode).toBe(200);
    });

    it.each([
      ['truncated JSON', '{"device": {'],
      ['not JSON at all', 'device=abc'],
      ['a trailing comma', '{"device": {},}'],
      [
        'a prototype-poisoning body',
        `{"__proto__": {"x": 1}, "device": ${JSON.stringify(deviceBody(FP_A).device)}}`,
      ],
      ['a constructor-poisoning body', '{"constructor": {"prototype": {"x": 1}}}'],
    ])('%s -> 400 invalid_request', async (_name, payload) => {
      const response = await postLogin(payload);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: 'invalid_request',
        message: 'The request body is not valid JSON.',
      });
    });

    it.each([
      ['text/plain', JSON.stringify(deviceBody(FP_A))],
      ['application/x-www-form-urlencoded', 'device=1'],
      ['multipart/form-data; boundary=x', '--x--'],
      ['not a type', JSON.stringify(deviceBody(FP_A))],
    ])('Content-Type %s -> 400 invalid_request', async (type, payload) => {
      const response = await postLogin(payload, { 'content-type': type });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: 'invalid_request',
        message: 'The request body must be JSON (Content-Type: application/json).',
      });
    });

    it('a body without a Content-Type -> 400 invalid_request', async () => {
      const response = await h.inject({
        method: 'POST',
        url: '/api/v1/cli/login',
        headers: { 'x-api-key': key },
        payload: Buffer.from(JSON.stringify(deviceBody(FP_A))),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBe('invalid_request');
    });

    it('an undecodable URL -> 400 invalid_request', async () => {
      const response = await h.inject({ method: 'GET', url: '/api/v1/%zz' });
      expect(response.statusCode).toBe(400);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json()).toEqual({ error: 'invalid_request', message: 'The request URL is malformed.' });
    });

    it('an unexpected failure -> 500 internal_error without details, logged to the error log only', async () => {
      await h.sql.exec('DROP TABLE devices');
      const response = await h.get('/api/v1/cli/status', key, FP_A);
      expect(response.statusCode).toBe(500);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.json()).toEqual({ error: 'internal_error', message: 'Internal server error.' });
      expect(h.logged).toHaveLength(1);
      expect(h.logged[0]).toMatch(
        /^sekuire-server: unexpected error in GET \/api\/v1\/cli\/status: (SqliteError: no such table: devices|PostgresError: relation "devices" does not exist)\n/,
      );
      expect(h.logged[0]).not.toContain(key);
    });
  });
});
