// Where the CLI keeps V8's compile cache: this user's cache folder, never a relative or shared path.
import { describe, expect, it } from 'vitest';
import { compileCacheDir } from '../../packages/cli/src/cli/compile-cache.js';

describe('compileCacheDir', () => {
  it.each([
    ['linux', { HOME: '/home/ada' }, '/home/ada/.cache/sekuire/compile-cache'],
    [
      'linux',
      { HOME: '/home/ada', XDG_CACHE_HOME: '/var/cache/ada' },
      '/var/cache/ada/sekuire/compile-cache',
    ],
    ['linux', { HOME: '/home/ada', XDG_CACHE_HOME: 'cache' }, '/home/ada/.cache/sekuire/compile-cache'],
    ['linux', { HOME: '' }, undefined],
    ['linux', { HOME: 'relative' }, undefined],
    ['linux', {}, undefined],
    ['linux', { XDG_CACHE_HOME: '/var/cache/ada' }, '/var/cache/ada/sekuire/compile-cache'],
    ['darwin', { HOME: '/Users/ada' }, '/Users/ada/Library/Caches/sekuire/compile-cache'],
    ['darwin', { HOME: '', XDG_CACHE_HOME: '/tmp/x' }, undefined],
    ['win32', { HOME: '/home/ada' }, undefined],
  ] as const)('%s %j -> %s', (platform, env, expected) => {
    expect(compileCacheDir(env, platform)).toBe(expected);
  });
});
