// The raw machine ID behind the device fingerprint, and whether it can tell machines apart.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Env } from './home.js';

/** What the platform offers: an ID, or why there is none worth using. */
export type PlatformMachineId = { readonly id: string } | { readonly unusable: string };

const SYSTEMD_ID = /^[0-9a-f]{32}$/;

/**
 * Linux: read the files node-machine-id would `cat` in a shell, without the shell (it costs
 * ~20 ms, and `status --offline` must not spawn). Unlike node-machine-id, an empty or
 * uninitialized file, and a container whose ID came from its image, are reported as unusable
 * instead of hashing to the same value everywhere or silently becoming the hostname.
 * `root` is `/` except in tests, which lay out the same files in a scratch directory.
 */
export function linuxMachineId(env: Env, root = '/'): PlatformMachineId {
  const container = containerHint(env, root);
  if (container)
    return { unusable: `running in a container (${container}), whose machine ID comes from its image` };
  for (const file of [join(root, 'etc/machine-id'), join(root, 'var/lib/dbus/machine-id')]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    if (text === '') return { unusable: `${file} is empty` };
    if (text === 'uninitialized') return { unusable: `${file} is not initialized yet` };
    if (!SYSTEMD_ID.test(text)) return { unusable: `${file} does not hold a machine ID` };
    if (/^0+$/.test(text)) return { unusable: `${file} is all zeros` };
    return { id: text };
  }
  return { unusable: `no ${join(root, 'etc/machine-id')}` };
}

function containerHint(env: Env, root: string): string | undefined {
  if (existsSync(join(root, '.dockerenv'))) return 'docker';
  if (existsSync(join(root, 'run/.containerenv'))) return 'podman';
  if (env.container) return env.container;
  if (env.KUBERNETES_SERVICE_HOST) return 'kubernetes';
  try {
    const cgroup = readFileSync(join(root, 'proc/1/cgroup'), 'utf8');
    const match = /(docker|kubepods|containerd|libpod|lxc)/.exec(cgroup);
    if (match) return match[1];
  } catch {
    // No /proc: not Linux as we know it; nothing to add.
  }
  return undefined;
}

/**
 * macOS, Windows, FreeBSD: node-machine-id knows each platform's command (ioreg, REG QUERY,
 * kenv). Loaded only here; its default export is the only import form that works from ESM.
 */
async function commandMachineId(): Promise<PlatformMachineId> {
  let id: string;
  try {
    const { default: nodeMachineId } = await import('node-machine-id');
    id = (await nodeMachineId.machineId(true)).trim();
  } catch (error) {
    return { unusable: `the machine ID could not be read (${(error as Error).message.split('\n')[0]})` };
  }
  if (id === '') return { unusable: 'the machine ID is empty' };
  if (id === hostname().toLowerCase()) return { unusable: 'the machine ID is only the hostname' };
  return { id };
}

/** The platform's machine ID, read the cheapest way each platform allows. */
export function readPlatformMachineId(
  platform: NodeJS.Platform,
  env: Env,
  root = '/',
): Promise<PlatformMachineId> {
  if (platform === 'linux') return Promise.resolve(linuxMachineId(env, root));
  if (platform === 'darwin' || platform === 'win32' || platform === 'freebsd') return commandMachineId();
  return Promise.resolve({ unusable: `no machine ID source on ${platform}` });
}
