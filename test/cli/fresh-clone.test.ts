// What a new user hit on a fresh clone, each fixed: the messages a CLI user reads.
import { describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';

const backend = useBackend();

describe('what a new user reads', () => {
  it('status with a server key says it never binds, not to log in to bind it', async () => {
    const { key } = await backend.server.createKey({ type: 'server' });
    const m = backend.machine('server-key');
    const run = await m.run(['status'], { env: { SEKUIRE_API_KEY: key } });
    expect(run.code).toBe(0);
    expect(run.lines().at(-1)).toBe(
      'Binding: a server key, never bound to a device (use it with SEKUIRE_API_KEY)',
    );
    expect(run.stdout).not.toContain('sekuire login');
    const json = await m.run(['status', '--json'], { env: { SEKUIRE_API_KEY: key } });
    expect(json.json()).toMatchObject({ key: { type: 'server' }, device: { bound_here: false } });
    const client = await backend.server.createKey();
    const unbound = await m.run(['status'], { env: { SEKUIRE_API_KEY: client.key } });
    expect(unbound.lines().at(-1)).toBe(
      "Binding: the key is not bound to any device (run 'sekuire login' to bind it here)",
    );
  });

  it('in a container: one short machine-ID warning, at the first login in this home only', async () => {
    const m = backend.machine('container', {}, null);
    const warning =
      'Warning: no usable machine ID here, so a random one is kept in device-id. Fix: set SEKUIRE_MACHINE_ID to a stable value.';
    const first = await m.run(['login', '--with-key'], { input: (await backend.server.createKey()).key });
    expect(first.code).toBe(0);
    expect(first.stderr.split('\n')).toContain(warning);
    expect(first.stderr.split('\n').every((line) => line.length <= 120)).toBe(true);
    const second = await m.run(['login', '--with-key'], { input: (await backend.server.createKey()).key });
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('machine ID');
  });

  it('a refusal tells two devices of one name apart, with a time a person reads', async () => {
    const { key } = await backend.server.createKey();
    const first = backend.machine('vm', {}, 'a'.repeat(32));
    expect((await first.run(['login', '--with-key'], { input: key })).code).toBe(0);
    // Another machine, also called "vm" (hostname host-vm in these tests).
    const second = backend.machine('vm', {}, 'b'.repeat(32));
    const refused = await second.run(['login', '--with-key'], { input: key });
    expect(refused.code).toBe(12);
    expect(refused.stderr.split('\n')[0]).toMatch(
      /^This key is bound to another device: host-vm \(linux, Debian GNU\/Linux 12 \(bookworm\)\), bound \d{4}-\d\d-\d\d \d\d:\d\d UTC\. Nothing was saved\.$/,
    );
  });

  it('a backend URL without a scheme: the example is that URL with one, not the public API', async () => {
    const m = backend.machine('no-scheme');
    for (const [given, example] of [
      ['127.0.0.1:5556', 'http://127.0.0.1:5556'],
      ['localhost:5556', 'http://localhost:5556'],
      ['sekuire.example.com:8443', 'https://sekuire.example.com:8443'],
    ] as const) {
      const run = await m.run(['login', '--with-key', '--backend', given], { input: 'x' });
      expect(run.code).toBe(2);
      expect(run.stderr.split('\n')[0]).toBe(
        `The backend URL from --backend has no scheme; give an absolute URL: ${example}.`,
      );
    }
  });
});
