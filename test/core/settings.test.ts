// Precedence of every setting (flag > environment > config.json > default) and where the home directory is.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../packages/cli/src/core/errors.js';
import { sekuireHome, userHome } from '../../packages/cli/src/core/home.js';
import { Settings } from '../../packages/cli/src/core/settings.js';

const settings = (env: Record<string, string> = {}, values: Record<string, unknown> = {}) =>
  new Settings(env, { path: '/h/.sekuire/config.json', values, warnings: [] });

describe('the backend', () => {
  it.each([
    [{}, {}, undefined, 'https://api.sekuire.ai', 'the default', true],
    [
      {},
      { backend: 'https://cfg.example' },
      undefined,
      'https://cfg.example',
      'backend in /h/.sekuire/config.json',
      false,
    ],
    [
      { SEKUIRE_BACKEND_URL: 'https://env.example' },
      { backend: 'https://cfg.example' },
      undefined,
      'https://env.example',
      'SEKUIRE_BACKEND_URL',
      false,
    ],
    [
      { SEKUIRE_BACKEND_URL: 'https://env.example' },
      { backend: 'https://cfg.example' },
      { value: 'https://flag.example', name: '--backend' },
      'https://flag.example',
      '--backend',
      false,
    ],
  ])('env %j, config %j, flag %j -> %s (%s)', (env, values, flag, url, source, isDefault) => {
    const backend = settings(env, values).backend(flag);
    expect({ url: backend.url.href.replace(/\/$/, ''), source: backend.source, isDefault }).toEqual({
      url,
      source,
      isDefault: backend.isDefault,
    });
  });
});

describe('the dashboard link (web URL)', () => {
  const backendOf = (s: Settings, url?: string) =>
    s.backend(url ? { value: url, name: '--backend' } : undefined);
  it('--web-url > SEKUIRE_WEB_URL > config web_url > a self-hosted backend > sekuire.ai', () => {
    const all = settings({ SEKUIRE_WEB_URL: 'https://env.example' }, { web_url: 'https://cfg.example' });
    expect(all.webUrl({ value: 'https://flag.example/', name: '--web-url' }, backendOf(all))).toBe(
      'https://flag.example',
    );
    expect(all.webUrl(undefined, backendOf(all))).toBe('https://env.example');
    const config = settings({}, { web_url: 'https://cfg.example' });
    expect(config.webUrl(undefined, backendOf(config, 'http://127.0.0.1:5556'))).toBe('https://cfg.example');
    const none = settings();
    expect(none.webUrl(undefined, backendOf(none, 'https://sekuire.internal.example/base'))).toBe(
      'https://sekuire.internal.example',
    );
    expect(none.webUrl(undefined, backendOf(none))).toBe('https://sekuire.ai');
    expect(none.webUrl(undefined, backendOf(none, 'https://api.sekuire.ai'))).toBe('https://sekuire.ai');
  });
});

describe('the home directory', () => {
  const passwd = () => '/home/dev';
  it.each([
    [{ HOME: '/home/me' }, '/home/me/.sekuire'],
    [{ HOME: '' }, '/home/dev/.sekuire'],
    [{ HOME: '.' }, '/home/dev/.sekuire'],
    [{ HOME: 'relative/home' }, '/home/dev/.sekuire'],
    [{}, '/home/dev/.sekuire'],
    [{ HOME: '', SEKUIRE_HOME: 'creds' }, '/work/ci/creds'],
  ])('%j -> %s (never the working directory)', (env, expected) => {
    expect(sekuireHome(env, '/work/ci', passwd)).toBe(expected);
  });

  it.each([
    ['the account has no home', () => ''],
    ['a relative account home', () => 'home'],
    [
      'no account at all',
      () => {
        throw new Error('ENOENT: no passwd entry');
      },
    ],
  ])('HOME empty and %s: exit 2 naming HOME and SEKUIRE_HOME', (_what, account) => {
    let thrown: unknown;
    try {
      userHome({ HOME: '' }, account);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).exitCode).toBe(2);
    expect((thrown as UsageError).message).toBe(
      'HOME is empty, and the account has no home directory to use instead, so there is no safe place for ~/.sekuire.',
    );
    expect((thrown as UsageError).hint).toBe(
      'Set HOME to an absolute path, or SEKUIRE_HOME to the directory where Sekuire keeps its files',
    );
  });
});
