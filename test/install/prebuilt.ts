// better-sqlite3's binary for an install without a compiler run: prebuild-install's own cache.
//
// better-sqlite3 installs with `prebuild-install || node-gyp rebuild --release`. prebuild-install
// downloads a prebuilt binary from GitHub (which this machine cannot reach), but first looks for
// `<npm cache>/_prebuilds/<sha512(url)[0..6]>-<basename(url)>` (prebuild-install/download.js,
// util.js). Putting a tarball of a binary built for the same Node ABI there makes the install take
// the path users take (a prebuilt binary, no compiler) in about a second instead of a compile of
// minutes (270-280 s measured on two busy cores). The binaries are kept in .cache/prebuilds/, named as GitHub names them (version, ABI,
// platform, arch); the first comes from the repository's own node_modules when its ABI matches,
// or from the first install that had to compile. (glibc Linux only: elsewhere it compiles.)
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { NodeUnderTest } from './node-under-test.js';

const REPO = resolve(import.meta.dirname, '../..');
// prebuild-install as better-sqlite3 resolves it.
const require = createRequire(join(REPO, 'node_modules/better-sqlite3/package.json'));
/** The path of the binary inside the package, in the tarball and once installed. */
export const BINARY = 'build/Release/better_sqlite3.node';
const KEPT = join(REPO, '.cache/prebuilds');

interface PrebuildUtil {
  getDownloadUrl(opts: Record<string, unknown>): string;
  cachedPrebuild(url: string): string;
}

export interface Prebuilt {
  /** Where prebuild-install would download it from. */
  readonly url: string;
  /** The tarball kept in .cache/prebuilds/ (it may not exist yet). */
  readonly kept: string;
  /** sha256 of the binary in `kept`; undefined when there is none to seed. */
  readonly sha256: string | undefined;
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The URL prebuild-install computes for `version` under `node` (its own function, from the lockfile's copy). */
function downloadUrl(version: string, node: NodeUnderTest): string {
  const pkg = JSON.parse(readFileSync(join(REPO, 'node_modules/better-sqlite3/package.json'), 'utf8')) as {
    version: string;
  };
  if (pkg.version !== version) {
    throw new Error(
      `sekuire-server pins better-sqlite3 ${version}, node_modules holds ${pkg.version}: run npm ci`,
    );
  }
  const util = require('prebuild-install/util.js') as PrebuildUtil;
  return util.getDownloadUrl({
    pkg,
    runtime: 'node',
    abi: node.abi,
    platform: process.platform,
    arch: process.arch,
    libc: '',
    'tag-prefix': 'v',
  });
}

/** Where prebuild-install looks for `url` when the npm cache is `npmCache`. */
function cachedPath(url: string, npmCache: string): string {
  const util = require('prebuild-install/util.js') as PrebuildUtil;
  // cachedPrebuild() reads the cache from npm_config_cache; its name part is all we need.
  return join(npmCache, '_prebuilds', basename(util.cachedPrebuild(url)));
}

/** Writes `binary` as a tarball laid out like GitHub's (build/Release/…), replacing `tarball` at once. */
function keep(binary: string, tarball: string): void {
  const stage = mkdtempSync(join(tmpdir(), 'sekuire-prebuilt-'));
  try {
    mkdirSync(join(stage, dirname(BINARY)), { recursive: true });
    copyFileSync(binary, join(stage, BINARY));
    mkdirSync(dirname(tarball), { recursive: true });
    const partial = `${tarball}.${process.pid}.tmp`;
    execFileSync('tar', ['-czf', partial, '-C', stage, 'build']);
    renameSync(partial, tarball);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** sha256 of the binary inside a kept tarball. */
function sha256In(tarball: string): string {
  const binary = execFileSync('tar', ['-xzOf', tarball, BINARY], { maxBuffer: 256 * 1024 * 1024 });
  return createHash('sha256').update(binary).digest('hex');
}

/**
 * Finds or makes the prebuilt binary for `node` and puts it where prebuild-install looks in
 * `npmCache`. The repository's own binary qualifies only when `node` loads it (same ABI).
 */
export function seedPrebuilt(version: string, node: NodeUnderTest, npmCache: string): Prebuilt {
  const url = downloadUrl(version, node);
  const kept = join(KEPT, basename(url));
  if (!existsSync(kept)) {
    const own = join(REPO, 'node_modules/better-sqlite3', BINARY);
    const loads = spawnSync(node.bin, ['-e', `require(${JSON.stringify(own)})`], { env: {} }).status === 0;
    if (loads) keep(own, kept);
  }
  if (!existsSync(kept)) return { url, kept, sha256: undefined };
  const target = cachedPath(url, npmCache);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(kept, target);
  return { url, kept, sha256: sha256In(kept) };
}

/** Keeps the binary an install compiled, so that the next install on this ABI needs no compiler. */
export function keepCompiled(prebuilt: Prebuilt, installedPackage: string): void {
  keep(join(installedPackage, BINARY), prebuilt.kept);
}
