// sekuire config: defaults a self-hoster sets once; checked like the flags, stored 0600, never a way to move a stored key.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';
import { json } from '../helpers/fake-backend.js';

const backend = useBackend();
/** A machine with no SEKUIRE_BACKEND_URL: config.json is what names the backend. */
const machine = (name: string, env: Record<string, string | undefined> = {}): TestMachine =>
  backend.machine(name, { SEKUIRE_BACKEND_URL: undefined, ...env });

const mode = (path: string) => statSync(path).mode & 0o777;

describe('sekuire config', () => {
  it('set stores a checked value 0600 in a 0700 directory; get, list and path read it back', async () => {
    const m = machine('basics');
    const set = await m.run(['config', 'set', 'backend', `${backend.server.url}/`]);
    expect(set.code, set.stderr).toBe(0);
    const file = join(m.home, 'config.json');
    expect(set.stdout).toBe(`Set backend = ${backend.server.url} in ${file}\n`);
    expect([mode(m.home), mode(file)]).toEqual([0o700, 0o600]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ backend: backend.server.url });
    expect(readdirSync(m.home)).toEqual(['config.json']);

    const get = await m.run(['config', 'get', 'backend']);
    expect([get.code, get.stdout, get.stderr]).toEqual([0, `${backend.server.url}\n`, '']);
    expect((await m.run(['config', 'set', 'timeout', '2.5'])).code).toBe(0);
    const list = await m.run(['config', 'list']);
    expect(list.lines()).toEqual([
      `backend          ${backend.server.url}  (config.json)`,
      `web_url          ${backend.server.url}  (default)`,
      'timeout          2.5  (config.json)',
      'connect_timeout  5  (default)',
      'retries          2  (default)',
      'audiences        -  (default)',
    ]);
    expect((await m.run(['config', 'list'], { env: { SEKUIRE_TIMEOUT: '9' } })).lines()[2]).toBe(
      'timeout          9  (SEKUIRE_TIMEOUT)',
    );
    expect((await m.run(['config', 'path'])).stdout).toBe(`${file}\n`);
    const web = await m.run(['config', 'get', 'web_url', '--json']);
    expect(web.json()).toEqual({ name: 'web_url', value: backend.server.url, source: 'default' });
    expect(web.stderr).toBe('(the default)\n');

    const unset = await m.run(['config', 'unset', 'timeout']);
    expect(unset.stdout).toBe(`Removed timeout from ${file} (the default applies: 25)\n`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ backend: backend.server.url });
    expect((await m.run(['config', 'unset', 'timeout'])).stdout).toBe(`timeout was not set in ${file}\n`);
  });

  it.each([
    [
      ['config', 'set', 'backend', 'http://example.com'],
      'Refusing to send an API key over plain http to example.com',
    ],
    [
      ['config', 'set', 'backend', 'https://h.example/api/v1'],
      'ends with /api/v1, which sekuire adds itself',
    ],
    [['config', 'set', 'timeout', 'soon'], 'the value for timeout must be a number of seconds'],
    [['config', 'set', 'retries', '11'], 'the value for retries must be a whole number from 0 to 10'],
    [['config', 'set', 'web_url', 'ftp://x'], 'must be an http(s) URL'],
    [['config', 'set', 'api_key', 'sk_live_x'], 'Unknown setting "api_key".'],
    [['config', 'get', 'colour'], 'Unknown setting "colour".'],
  ])('%j: exit 2, nothing written', async (args, message) => {
    const m = machine('invalid');
    const run = await m.run(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(existsSync(m.home)).toBe(false);
  });

  it('refuses a symlinked SEKUIRE_HOME before conf is loaded; the link target stays empty', async () => {
    const m = machine('symlink');
    const target = join(m.dir, 'target');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, m.home);
    const run = await m.run(['config', 'set', 'web_url', 'https://dash.example']);
    expect(run.code).toBe(15);
    expect(run.stderr).toContain(`${m.home} is a symbolic link.`);
    expect(readdirSync(target)).toEqual([]);
  });

  it('a config.json others can write is refused by every command, as auth.json would be', async () => {
    const m = machine('loose');
    expect((await m.run(['config', 'set', 'backend', backend.server.url])).code).toBe(0);
    chmodSync(join(m.home, 'config.json'), 0o666);
    for (const args of [['status'], ['config', 'get', 'backend'], ['login', '--with-key']]) {
      const run = await m.run(args, { input: 'x' });
      expect(run.code, args.join(' ')).toBe(15);
      expect(run.stderr).toContain('can be changed by other users (mode 0666)');
    }
  });

  it('a bad value edited into config.json names the file and the fix', async () => {
    const m = machine('edited');
    expect((await m.run(['config', 'set', 'retries', '1'])).code).toBe(0);
    writeFileSync(join(m.home, 'config.json'), '{"retries": "lots"}', { mode: 0o600 });
    const run = await m.run(['status'], { env: { SEKUIRE_API_KEY: (await backend.server.createKey()).key } });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `retries in ${join(m.home, 'config.json')} must be a whole number from 0 to 10; got "lots".\nRun 'sekuire config unset retries', or set it again with 'sekuire config set retries VALUE'\n`,
    );
  });

  it('login uses the configured backend; SEKUIRE_BACKEND_URL and --backend win over it', async () => {
    const { key } = await backend.server.createKey();
    const decoy = await backend.fake(json(500, { error: 'decoy' }));
    const m = machine('precedence');
    expect((await m.run(['config', 'set', 'backend', decoy.url])).code).toBe(0);
    const viaEnv = await m.run(['login', '--with-key', '--json'], {
      input: key,
      env: { SEKUIRE_BACKEND_URL: backend.server.url, SEKUIRE_RETRIES: '0' },
    });
    expect(viaEnv.json()).toMatchObject({ backend: backend.server.url });
    const viaFlag = await m.run(['login', '--with-key', '--backend', backend.server.url], { input: key });
    expect(viaFlag.code).toBe(0);
    expect(decoy.requests).toEqual([]);
    const viaConfig = await m.run(['login', '--with-key'], { input: key, env: { SEKUIRE_RETRIES: '0' } });
    expect(viaConfig.code).toBe(13);
    expect(decoy.requests.length).toBe(1);
  });

  it('never sends a stored key to the configured backend: it goes where it was verified', async () => {
    const { key } = await backend.server.createKey();
    const recorder = await backend.fake(json(500, { error: 'recorder' }));
    const m = machine('pinned');
    expect((await m.run(['login', '--with-key', '--backend', backend.server.url], { input: key })).code).toBe(
      0,
    );
    expect((await m.run(['config', 'set', 'backend', recorder.url])).code).toBe(0);
    const status = await m.run(['status']);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain("config.json's backend is not used for the stored key");
    expect(recorder.requests).toEqual([]);
  });
});
