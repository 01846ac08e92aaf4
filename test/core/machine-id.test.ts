// The Linux machine ID: which files count, which contents are unusable, and container detection.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linuxMachineId, readPlatformMachineId } from '../../packages/cli/src/core/machine-id.js';
import { useTempDirs } from '../helpers/temp-home.js';

const tempDir = useTempDirs();
const ID = '4c4c4544004b4a10804bb4c04f4e3332';
const DBUS_ID = '0123456789abcdef0123456789abcdef';

/** A scratch root laid out like a Linux machine: path (relative to root) -> contents. */
function fakeRoot(files: Record<string, string>): string {
  const root = tempDir();
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
  }
  return root;
}

describe('linuxMachineId', () => {
  it('reads /etc/machine-id', () => {
    const root = fakeRoot({ 'etc/machine-id': `${ID}\n`, 'proc/1/cgroup': '0::/init.scope\n' });
    expect(linuxMachineId({}, root)).toEqual({ id: ID });
  });

  it('falls back to /var/lib/dbus/machine-id when /etc/machine-id is missing', () => {
    const root = fakeRoot({ 'var/lib/dbus/machine-id': `${DBUS_ID}\n` });
    expect(linuxMachineId({}, root)).toEqual({ id: DBUS_ID });
  });

  it('falls back to /var/lib/dbus/machine-id when /etc/machine-id cannot be read', () => {
    const root = fakeRoot({ 'etc/machine-id/not-a-file': '', 'var/lib/dbus/machine-id': `${DBUS_ID}\n` });
    expect(linuxMachineId({}, root)).toEqual({ id: DBUS_ID });
  });

  it('prefers /etc/machine-id over the D-Bus copy', () => {
    const root = fakeRoot({ 'etc/machine-id': `${ID}\n`, 'var/lib/dbus/machine-id': `${DBUS_ID}\n` });
    expect(linuxMachineId({}, root)).toEqual({ id: ID });
  });

  it.each([
    ['empty', '', 'is empty'],
    ['only a newline', '\n', 'is empty'],
    ['uninitialized', 'uninitialized\n', 'is not initialized yet'],
    ['all zeros', `${'0'.repeat(32)}\n`, 'is all zeros'],
    ['uppercase hex', `${ID.toUpperCase()}\n`, 'does not hold a machine ID'],
    ['31 hex characters', `${ID.slice(1)}\n`, 'does not hold a machine ID'],
    ['33 hex characters', `${ID}0\n`, 'does not hold a machine ID'],
    ['a UUID with dashes', '4c4c4544-004b-4a10-804b-b4c04f4e3332\n', 'does not hold a machine ID'],
    ['a hostname', 'build-host\n', 'does not hold a machine ID'],
  ])('calls a file that is %s unusable', (_what, text, why) => {
    const root = fakeRoot({ 'etc/machine-id': text, 'var/lib/dbus/machine-id': `${DBUS_ID}\n` });
    expect(linuxMachineId({}, root)).toEqual({ unusable: `${join(root, 'etc/machine-id')} ${why}` });
  });

  it('reports a missing machine ID', () => {
    const root = fakeRoot({});
    expect(linuxMachineId({}, root)).toEqual({ unusable: `no ${join(root, 'etc/machine-id')}` });
  });

  const containerReason = (name: string) => ({
    unusable: `running in a container (${name}), whose machine ID comes from its image`,
  });

  it.each([
    ['/.dockerenv', { '.dockerenv': '' }, {}, 'docker'],
    ['/run/.containerenv', { 'run/.containerenv': '' }, {}, 'podman'],
    ['$container', {}, { container: 'systemd-nspawn' }, 'systemd-nspawn'],
    ['$KUBERNETES_SERVICE_HOST', {}, { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, 'kubernetes'],
    ['a docker cgroup', { 'proc/1/cgroup': '12:pids:/docker/3f9a1b\n0::/docker/3f9a1b\n' }, {}, 'docker'],
    ['a kubepods cgroup', { 'proc/1/cgroup': '0::/kubepods/besteffort/pod1\n' }, {}, 'kubepods'],
    ['a containerd cgroup', { 'proc/1/cgroup': '0::/system.slice/containerd.service\n' }, {}, 'containerd'],
    ['a libpod cgroup', { 'proc/1/cgroup': '0::/machine.slice/libpod-abc.scope\n' }, {}, 'libpod'],
    ['an lxc cgroup', { 'proc/1/cgroup': '0::/lxc/web1\n' }, {}, 'lxc'],
  ] as const)('detects a container from %s, even with a valid machine ID', (_what, files, env, name) => {
    const root = fakeRoot({ 'etc/machine-id': `${ID}\n`, ...files });
    expect(linuxMachineId(env, root)).toEqual(containerReason(name));
  });

  it.each([
    ['a cgroup v2 root', '0::/\n'],
    ['a systemd scope', '0::/init.scope\n'],
    ['cgroup v1 on a host', '12:pids:/init.scope\n1:name=systemd:/init.scope\n'],
  ])('does not mistake %s for a container', (_what, cgroup) => {
    const root = fakeRoot({ 'etc/machine-id': `${ID}\n`, 'proc/1/cgroup': cgroup });
    expect(linuxMachineId({ container: '' }, root)).toEqual({ id: ID });
  });
});

describe('readPlatformMachineId', () => {
  it('reads Linux machine IDs under the given root', async () => {
    const root = fakeRoot({ 'etc/machine-id': `${ID}\n` });
    await expect(readPlatformMachineId('linux', {}, root)).resolves.toEqual({ id: ID });
    await expect(readPlatformMachineId('linux', { KUBERNETES_SERVICE_HOST: 'k' }, root)).resolves.toEqual({
      unusable: 'running in a container (kubernetes), whose machine ID comes from its image',
    });
  });

  it.each(['aix', 'sunos', 'openbsd', 'android'] as const)(
    'has no machine ID source on %s',
    async (platform) => {
      await expect(readPlatformMachineId(platform, {})).resolves.toEqual({
        unusable: `no machine ID source on ${platform}`,
      });
    },
  );
});
