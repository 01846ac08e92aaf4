// proxyFor reads the proxy variables as curl does, and never proxies loopback.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../packages/cli/src/core/errors.js';
import { proxyFor } from '../../packages/cli/src/core/proxy.js';

const API = new URL('https://api.example.com/api/v1/cli/status');

function proxied(target: string, env: Record<string, string>): string | undefined {
  return proxyFor(new URL(target), env)?.href;
}

describe('proxyFor', () => {
  it.each<[string, string, Record<string, string>, string | undefined]>([
    ['no variables', 'https://api.example.com/', {}, undefined],
    ['HTTPS_PROXY', 'https://api.example.com/', { HTTPS_PROXY: 'http://proxy:3128' }, 'http://proxy:3128/'],
    ['https_proxy', 'https://api.example.com/', { https_proxy: 'http://proxy:3128' }, 'http://proxy:3128/'],
    [
      'lowercase wins',
      'https://api.example.com/',
      { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' },
      'http://lower:1/',
    ],
    [
      'blank lowercase is unset',
      'https://api.example.com/',
      { https_proxy: ' ', HTTPS_PROXY: 'http://upper:2' },
      'http://upper:2/',
    ],
    [
      'HTTP_PROXY is not for https',
      'https://api.example.com/',
      { HTTP_PROXY: 'http://proxy:3128' },
      undefined,
    ],
    [
      'HTTP_PROXY for http',
      'http://api.example.com/',
      { HTTP_PROXY: 'http://proxy:3128' },
      'http://proxy:3128/',
    ],
    [
      'http_proxy wins for http',
      'http://api.example.com/',
      { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:2' },
      'http://lower:1/',
    ],
    [
      'HTTPS_PROXY is not for http',
      'http://api.example.com/',
      { HTTPS_PROXY: 'http://proxy:3128' },
      undefined,
    ],
    ['ALL_PROXY fallback', 'https://api.example.com/', { ALL_PROXY: 'http://all:1' }, 'http://all:1/'],
    [
      'all_proxy before ALL_PROXY',
      'https://api.example.com/',
      { all_proxy: 'http://a:1', ALL_PROXY: 'http://b:2' },
      'http://a:1/',
    ],
    [
      'scheme proxy before ALL_PROXY',
      'https://api.example.com/',
      { ALL_PROXY: 'http://all:1', HTTPS_PROXY: 'http://https:2' },
      'http://https:2/',
    ],
    [
      'no scheme gets http://',
      'https://api.example.com/',
      { HTTPS_PROXY: 'proxy.corp:8080' },
      'http://proxy.corp:8080/',
    ],
    [
      'credentials kept',
      'https://api.example.com/',
      { HTTPS_PROXY: 'http://u:p@proxy:1' },
      'http://u:p@proxy:1/',
    ],
    ['loopback 127.0.0.1', 'https://127.0.0.1:5556/', { HTTPS_PROXY: 'http://proxy:1' }, undefined],
    ['loopback 127.3.4.5', 'http://127.3.4.5/', { HTTP_PROXY: 'http://proxy:1' }, undefined],
    [
      'loopback ::1',
      'http://[::1]:80/',
      { HTTP_PROXY: 'http://proxy:1', ALL_PROXY: 'http://p:2' },
      undefined,
    ],
    ['loopback localhost', 'https://localhost/', { HTTPS_PROXY: 'http://proxy:1' }, undefined],
    ['loopback x.localhost', 'https://x.localhost/', { HTTPS_PROXY: 'http://proxy:1' }, undefined],
  ])('%s', (_name, target, env, expected) => {
    expect(proxied(target, env)).toBe(expected);
  });

  it.each<[string, string | undefined]>([
    ['*', undefined],
    ['api.example.com', undefined],
    ['example.com', undefined],
    ['.example.com', undefined],
    ['*.example.com', undefined],
    ['EXAMPLE.COM', undefined],
    ['other.org, example.com', undefined],
    ['other.org example.com', undefined],
    ['other.org,,\texample.com', undefined],
    ['example.com:443', undefined],
    ['example.com:8443', 'http://proxy:3128/'],
    ['ample.com', 'http://proxy:3128/'],
    ['www.example.com', 'http://proxy:3128/'],
    ['other.org', 'http://proxy:3128/'],
    ['', 'http://proxy:3128/'],
  ])('NO_PROXY=%j', (noProxy, expected) => {
    expect(proxied(API.href, { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: noProxy })).toBe(expected);
  });

  it.each<[string, string, string | undefined]>([
    ['https://10.1.2.3/', '10.1.2.3', undefined],
    ['https://10.1.2.3:8443/', '10.1.2.3:8443', undefined],
    ['https://10.1.2.3:8443/', '10.1.2.3:443', 'http://proxy:3128/'],
    ['https://110.1.2.3/', '10.1.2.3', 'http://proxy:3128/'],
    ['https://[2001:db8::1]/', '2001:db8::1', undefined],
    ['https://[2001:db8::1]/', '[2001:db8:0:0:0:0:0:1]', undefined],
    ['https://[2001:db8::1]:8443/', '[2001:db8::1]:8443', undefined],
    ['https://[2001:db8::1]:8443/', '[2001:db8::1]:443', 'http://proxy:3128/'],
  ])('%s with NO_PROXY=%s', (target, noProxy, expected) => {
    expect(proxied(target, { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: noProxy })).toBe(expected);
  });

  it('prefers no_proxy to NO_PROXY', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', no_proxy: 'other.org', NO_PROXY: 'example.com' };
    expect(proxied(API.href, env)).toBe('http://proxy:3128/');
  });

  it.each([
    [
      { HTTPS_PROXY: 'https://proxy:3128' },
      "HTTPS_PROXY names an https:// proxy, which sekuire does not support; use the proxy's http:// address (the connection to the backend stays encrypted end to end).",
    ],
    [
      { https_proxy: 'socks5://proxy:1080' },
      'https_proxy must be an http:// proxy URL, e.g. http://proxy.example.com:3128; socks5:// proxies are not supported.',
    ],
    [
      { ALL_PROXY: 'http://pro xy:1' },
      'ALL_PROXY is not a valid proxy URL; expected e.g. http://proxy.example.com:3128.',
    ],
    [
      { HTTPS_PROXY: 'http://secret@:1' },
      'HTTPS_PROXY is not a valid proxy URL; expected e.g. http://proxy.example.com:3128.',
    ],
  ])('refuses %j', (env, message) => {
    let thrown: unknown;
    try {
      proxyFor(API, env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect({ message: (thrown as UsageError).message, code: (thrown as UsageError).code }).toEqual({
      message,
      code: 'invalid_proxy',
    });
  });

  it('does not parse the proxy variables for a target that bypasses them', () => {
    expect(proxyFor(API, { HTTPS_PROXY: 'https://proxy:1', NO_PROXY: '*' })).toBeUndefined();
  });
});
