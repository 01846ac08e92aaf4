// Scratch directories for core tests: created under the OS temp dir, removed after each test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyEnvironment, mintKey } from '@sekuire/shared/key';
import { afterEach } from 'vitest';
import type { StoredCredentials } from '../../packages/cli/src/core/credentials.js';

/** Registers an afterEach that removes every directory made by the returned function. */
export function useTempDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-'));
    dirs.push(dir);
    return dir;
  };
}

/** Runs fn with the process umask set to mask, restoring the previous one afterwards. */
export function withUmask<T>(mask: number, fn: () => T): T {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}

/** withUmask for async work: the umask stays set until the promise settles. */
export async function withUmaskAsync<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

export type NewCredentials = Omit<StoredCredentials, 'version'>;

/** Valid credentials with a freshly minted key; `tag` makes several of them distinguishable. */
export function sampleCredentials(tag = 'a', environment: KeyEnvironment = 'live'): NewCredentials {
  return {
    api_key: mintKey(environment).value,
    key_id: `key_${tag}`,
    environment,
    device_fingerprint: 'ab'.repeat(32),
    device_name: `host-${tag}`,
    os: 'linux',
    user_id: `user_${tag}`,
    user_email: `${tag}@example.com`,
    org_id: `org_${tag}`,
    org_name: `Org ${tag}`,
    workspace_id: `ws_${tag}`,
    workspace_name: `Workspace ${tag}`,
    backend: 'https://api.sekuire.ai',
    verified_at: '2025-01-01T00:00:00.000Z',
    device_key: '',
    expires_at: '',
  };
}
