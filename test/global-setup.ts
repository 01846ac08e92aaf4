// The run's setup: a temp folder of its own (in RAM where there is one), and one throwaway PostgreSQL cluster (tests make a database each) unless skipped.
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type Cluster, SKIP_VARIABLE, startCluster, stopCluster } from './helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster of this run; null when PostgreSQL tests are skipped on purpose. */
    postgres: Cluster | null;
  }
}

/** A folder in RAM (Linux's /dev/shm) the run can write to, or undefined. */
function ramFolder(): string | undefined {
  try {
    if (!statSync('/dev/shm').isDirectory()) return undefined;
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return undefined;
  }
}

/**
 * The run's scratch files (temp homes, SQLite files, the PostgreSQL cluster, sockets) go in a
 * folder of the run's own, in RAM when there is one: on a disk (ext4 on a VM), PostgreSQL's
 * CREATE DATABASE for each test cost 60-130 ms of CPU against 15 ms in RAM, and the whole suite
 * ~30 s of CPU. Removed after the run, with whatever a test left behind. A TMPDIR set by whoever
 * runs the tests is kept as the parent. Set here, before the workers start: they and every
 * process they spawn inherit it.
 */
function useRunTempDir(): () => void {
  const parent = process.env.TMPDIR ? tmpdir() : (ramFolder() ?? tmpdir());
  const dir = mkdtempSync(join(parent, 'sekuire-test-'));
  // For the one test that needs a disk's slowness (private-files: a watcher must see a temp file).
  process.env.SEKUIRE_TEST_DISK_TMPDIR ??= tmpdir();
  // As /tmp is: tests run commands as another user (nobody, postgres), in folders of their own.
  chmodSync(dir, 0o1777);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const removeTempDir = useRunTempDir();
  if (process.env[SKIP_VARIABLE] === '1') {
    process.stderr.write(`\nPostgreSQL tests are SKIPPED: ${SKIP_VARIABLE}=1.\n\n`);
    project.provide('postgres', null);
    return async () => removeTempDir();
  }
  let cluster: Cluster;
  try {
    cluster = await startCluster();
  } catch (error) {
    removeTempDir();
    throw error;
  }
  project.provide('postgres', cluster);
  return async () => {
    try {
      await stopCluster(cluster);
    } finally {
      removeTempDir();
    }
  };
}
