// login on a full or read-only disk: found before the backend moves the binding (needs root and a tmpfs mount).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useBackend } from '../helpers/backend.js';
import type { TestMachine } from '../helpers/context.js';

const backend = useBackend();
const mounts: string[] = [];
afterEach(() => {
  for (const dir of mounts.splice(0)) {
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A small tmpfs of our own; undefined where this user or container may not mount one. */
function smallDisk(options: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-disk-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=64k,mode=0700,${options}`, 'tmpfs', dir]);
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

const canMount = (() => {
  const probe = smallDisk('rw');
  if (!probe) return false;
  spawnSync('umount', [probe]);
  mounts.splice(mounts.indexOf(probe), 1);
  rmSync(probe, { recursive: true, force: true });
  return true;
})();

async function boundElsewhere(): Promise<{ key: string; id: string; a: TestMachine }> {
  const { key, id } = await backend.server.createKey();
  const a = backend.machine('device-a');
  expect((await a.run(['login', '--with-key'], { input: key })).code).toBe(0);
  return { key, id, a };
}

async function events(id: string): Promise<string[]> {
  return ((await backend.server.audit(id)) as { event: string }[]).map((entry) => entry.event);
}

describe.skipIf(!canMount)('login --rebind on device B whose disk cannot take auth.json', () => {
  it('a full disk: exit 15 naming it, and the binding stays on A', async () => {
    const { key, id, a } = await boundElsewhere();
    const disk = smallDisk('rw') as string;
    const home = join(disk, 'sekuire');
    mkdirSync(home, { mode: 0o700 });
    fill(disk);
    const b = backend.machine('device-b', { SEKUIRE_HOME: home });
    const run = await b.run(['login', '--with-key', '--rebind'], { input: key });
    expect(run.code).toBe(15);
    expect(run.stderr).toBe(
      `Cannot write ${join(home, 'auth.json')}: the disk is full.\nFree some space, or set SEKUIRE_HOME to a directory on another disk\n`,
    );
    expect((await a.run(['status'])).code).toBe(0);
    expect(await events(id)).toEqual(['create', 'bind']);
  });

  it('a read-only disk: exit 15 before the key is read', async () => {
    const { key, id, a } = await boundElsewhere();
    const disk = smallDisk('rw') as string;
    const home = join(disk, 'sekuire');
    mkdirSync(home, { mode: 0o700 });
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    const b = backend.machine('device-b-ro', { SEKUIRE_HOME: home });
    const run = await b.run(['login', '--with-key', '--rebind'], { input: key });
    expect(run.code).toBe(15);
    expect(run.stderr).toContain('the file system is read-only');
    expect((await a.run(['status'])).code).toBe(0);
    expect(await events(id)).toEqual(['create', 'bind']);
  });
});
