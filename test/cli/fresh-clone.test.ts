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
});
