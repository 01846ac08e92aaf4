// An empty npm prefix, its own npm cache and HOME, and the clean environment its programs run in.
import { type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { NodeUnderTest } from './node-under-test.js';

/** The system's own directories: compilers, tar, sh; never a developer's node or npm. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * What npm needs from this machine's setup to reach the registry (a proxy, a CA that a
 * TLS-inspecting proxy signs with). Nothing else of the developer's environment or npm
 * configuration goes through: no ~/.npmrc, no npm_config_* from an outer `npm test`.
 */
const NETWORK = [
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'npm_config_registry',
  'npm_config_cafile',
];

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock milliseconds, for the report a run prints; no assertion reads it. */
  readonly ms: number;
}

export class Prefix {
  /** Everything lives under here: removed by remove(). */
  readonly dir = mkdtempSync(join(tmpdir(), 'sekuire-install-'));
  /** The `--prefix` of the global installs: bin/ and lib/node_modules/. */
  readonly prefix = join(this.dir, 'prefix');
  readonly npmCache: string;
  readonly home = join(this.dir, 'home');
  /** The working directory of every program: nothing of the repository is reachable from it. */
  readonly cwd = join(this.dir, 'cwd');
  private readonly npmCli = npmCliPath();

  /** `npmCache`: another prefix's, to install with a warm cache; else one of its own, empty. */
  constructor(
    readonly node: NodeUnderTest,
    npmCache?: string,
  ) {
    this.npmCache = npmCache ?? join(this.dir, 'npm-cache');
    for (const dir of [this.prefix, this.home, this.cwd]) mkdirSync(dir);
    mkdirSync(this.npmCache, { recursive: true });
    // Node resolves bare imports through every ancestor's node_modules: none may exist.
    for (let up = this.dir; up !== dirname(up); up = dirname(up)) {
      if (existsSync(join(dirname(up), 'node_modules'))) {
        throw new Error(
          `${dirname(up)}/node_modules would let installed code find packages it does not ship`,
        );
      }
    }
  }

  /** The environment installed programs see: the Node under test first in PATH, then bin/. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: [dirname(this.node.bin), join(this.prefix, 'bin'), SYSTEM_PATH].join(delimiter),
      HOME: this.home,
      ...extra,
    };
  }

  /** `npm install --global --prefix` these arguments, npm itself running under the Node under test. */
  npmInstall(args: readonly string[]): Promise<Run> {
    return run(this.node.bin, [this.npmCli, 'install', '--global', '--prefix', this.prefix, ...args], {
      cwd: this.cwd,
      env: this.npmEnv(),
    });
  }

  /** `npm install` these arguments as a project's dependencies, in `project` (a folder with a package.json). */
  npmInstallInto(project: string, args: readonly string[]): Promise<Run> {
    return run(this.node.bin, [this.npmCli, 'install', ...args], { cwd: project, env: this.npmEnv() });
  }

  private npmEnv(): NodeJS.ProcessEnv {
    const env = this.env({
      npm_config_cache: this.npmCache,
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      // The headers of the Node under test, in case better-sqlite3 compiles (else node-gyp downloads them).
      ...(this.node.nodedir === undefined ? {} : { npm_config_nodedir: this.node.nodedir }),
    });
    for (const name of NETWORK) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  /** An installed program (`bin/<name>`), run by its shebang under the PATH of env(). */
  bin(name: string, args: readonly string[], env: Record<string, string>, input?: string): Promise<Run> {
    return run(join(this.prefix, 'bin', name), args, { cwd: this.cwd, env: this.env(env) }, input);
  }

  /** `lib/node_modules/<name>`. */
  installed(name: string): string {
    return join(this.prefix, 'lib/node_modules', name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** npm's own script, found where the developer's shell finds `npm`. */
function npmCliPath(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'npm');
    if (dir !== '' && existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error('npm is not in PATH');
}

/** Bytes of every file under `dir` (what `du --apparent-size` counts), symbolic links not followed. */
export function treeSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? treeSize(path) : lstatSync(path).size;
  }
  return total;
}

export function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  input?: string,
): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}
