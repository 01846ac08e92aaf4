// parseBackendUrl refuses unsafe backends before any connection; apiUrl keeps the path prefix.
import { describe, expect, it } from 'vitest';
import {
  apiUrl,
  isLoopbackHost,
  originOf,
  parseBackendUrl,
  sameOrigin,
} from '../../packages/cli/src/core/backend-url.js';
import { UsageError } from '../../packages/cli/src/core/errors.js';

function refusal(text: string): { code: string; message: string; exitCode: number } {
  try {
    parseBackendUrl(text, '--backend');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return { code: error.code, message: error.message, exitCode: error.exitCode };
  }
  throw new Error(`accepted ${text}`);
}

describe('parseBackendUrl', () => {
  it.each([
    ['https://api.sekuire.ai', 'https://api.sekuire.ai/'],
    ['https://api.sekuire.ai/', 'https://api.sekuire.ai/'],
    ['  https://API.Sekuire.ai//  ', 'https://api.sekuire.ai/'],
    ['https://example.com/sekuire/', 'https://example.com/sekuire'],
    ['https://example.com/a/b', 'https://example.com/a/b'],
    ['https://example.com:8443', 'https://example.com:8443/'],
    ['https://example.com:443', 'https://example.com/'],
    ['http://127.0.0.1:5556', 'http://127.0.0.1:5556/'],
    ['http://127.0.0.5', 'http://127.0.0.5/'],
    ['http://[::1]:8080', 'http://[::1]:8080/'],
    ['http://localhost', 'http://localhost/'],
    ['http://api.localhost:3000/prefix/', 'http://api.localhost:3000/prefix'],
  ])('accepts %s as %s', (text, href) => {
    expect(parseBackendUrl(text, '--backend').href).toBe(href);
  });

  it.each([
    [
      '',
      'invalid_backend_url',
      'The backend URL from --backend is empty; give one, e.g. https://api.sekuire.ai.',
    ],
    [
      '   ',
      'invalid_backend_url',
      'The backend URL from --backend is empty; give one, e.g. https://api.sekuire.ai.',
    ],
    [
      'api.sekuire.ai',
      'invalid_backend_url',
      'The backend URL from --backend is not a URL; give an absolute URL, e.g. https://api.sekuire.ai.',
    ],
    [
      'ftp://example.com',
      'invalid_backend_url',
      'The backend URL from --backend uses ftp://; only https:// (and http:// to this machine) is supported.',
    ],
    [
      'https://user:pw@example.com',
      'invalid_backend_url',
      'The backend URL from --backend contains a user name or password; remove them (the API key is sent in a header).',
    ],
    [
      'https://user@example.com',
      'invalid_backend_url',
      'The backend URL from --backend contains a user name or password; remove them (the API key is sent in a header).',
    ],
    [
      'https://example.com/?a=1',
      'invalid_backend_url',
      'The backend URL from --backend has a query or fragment; give only scheme, host, port and path, e.g. https://api.sekuire.ai.',
    ],
    [
      'https://example.com/?',
      'invalid_backend_url',
      'The backend URL from --backend has a query or fragment; give only scheme, host, port and path, e.g. https://api.sekuire.ai.',
    ],
    [
      'https://example.com/#top',
      'invalid_backend_url',
      'The backend URL from --backend has a query or fragment; give only scheme, host, port and path, e.g. https://api.sekuire.ai.',
    ],
    [
      'http://example.com',
      'insecure_backend_url',
      'Refusing to send an API key over plain http to example.com; use https:// (plain http is allowed only for 127.0.0.0/8, ::1 and localhost). The URL came from --backend.',
    ],
    [
      'http://128.0.0.1:5556',
      'insecure_backend_url',
      'Refusing to send an API key over plain http to 128.0.0.1; use https:// (plain http is allowed only for 127.0.0.0/8, ::1 and localhost). The URL came from --backend.',
    ],
    [
      'http://localhost.example.com',
      'insecure_backend_url',
      'Refusing to send an API key over plain http to localhost.example.com; use https:// (plain http is allowed only for 127.0.0.0/8, ::1 and localhost). The URL came from --backend.',
    ],
  ])('refuses %j', (text, code, message) => {
    expect(refusal(text)).toEqual({ code, message, exitCode: 2 });
  });

  it('never repeats text that is not a URL (it may be a key pasted into the wrong flag)', () => {
    const key = 'sk_live_abcdefghijklmnopqrstuvwxyz012345ABCDEF';
    expect(refusal(key).message).not.toContain('abcdef');
  });

  it('names the source it was given', () => {
    expect(() => parseBackendUrl('ftp://x', 'SEKUIRE_BACKEND_URL')).toThrow(
      'The backend URL from SEKUIRE_BACKEND_URL uses ftp://',
    );
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['a.b.localhost', true],
    ['128.0.0.1', false],
    ['::2', false],
    ['[::ffff:7f00:1]', false],
    ['localhost.example.com', false],
    ['mylocalhost', false],
    ['example.com', false],
  ])('%s -> %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('apiUrl', () => {
  it.each([
    ['https://api.sekuire.ai', '/api/v1/cli/status', 'https://api.sekuire.ai/api/v1/cli/status'],
    ['https://example.com/sekuire/', '/api/v1/cli/status', 'https://example.com/sekuire/api/v1/cli/status'],
    ['https://example.com/a/b', '/api/v1/cli/login', 'https://example.com/a/b/api/v1/cli/login'],
    ['http://127.0.0.1:5556', '/api/v1/cli/whoami', 'http://127.0.0.1:5556/api/v1/cli/whoami'],
  ])('%s + %s', (backend, path, href) => {
    expect(apiUrl(parseBackendUrl(backend, 'test'), path).href).toBe(href);
  });
});

describe('origins', () => {
  it.each([
    ['https://a.example/x', 'https://a.example:443/y', true],
    ['https://a.example', 'https://b.example', false],
    ['https://a.example', 'https://a.example:8443', false],
    ['http://127.0.0.1:80', 'https://127.0.0.1:443', false],
    ['http://localhost:1', 'http://LOCALHOST:1/z', true],
  ])('%s vs %s', (a, b, same) => {
    expect(sameOrigin(new URL(a), new URL(b))).toBe(same);
  });

  it('spells an origin as scheme://host[:port]', () => {
    expect(originOf(new URL('https://api.sekuire.ai:443/x?y'))).toBe('https://api.sekuire.ai');
    expect(originOf(new URL('http://[::1]:8080/'))).toBe('http://[::1]:8080');
  });
});
