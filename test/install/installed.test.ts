// The packages users install: packed from this clone, installed into an empty npm prefix, run from there.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Published, Tarball } from '../../scripts/pack.js';
import { TestKeyring } from '../helpers/keyring.js';
import { bindDevice, signedRequest } from '../helpers/service-client.js';
import { type InstalledServer, startInstalledServer } from './installed-server.js';
import { nodeUnderTest } from './node-under-test.js';
import { BINARY, keepCompiled, type Prebuilt, seedPrebuilt, sha256 } from './prebuilt.js';
import { Prefix, type Run, run, treeSize } from './prefix.js';
import { packCurrent } from './tarballs.js';

const REPO = resolve(import.meta.dirname, '../..');
const node = nodeUnderTest();
/** A hang guard, not a measure: without a kept binary, better-sqlite3 compiles (~280 s on 2 busy cores). */
const INSTALL_TIMEOUT_MS = 900_000;
const MAX_CLI_BYTES = 3 * 1024 * 1024;
/** An install-time script npm runs on the user's machine. */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];
/** The device the CLI sees: a fixed machine ID, so the fingerprint is this test's own. */
const MACHINE = { SEKUIRE_MACHINE_ID: 'sekuire-installed-test' };
const ENGINE_WARNING = /EBADENGINE|Unsupported engine|engine "node" is incompatible/i;

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bundleDependencies?: unknown;
  scripts?: Record<string, string>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const serverPackage = readJson<PackageJson>(join(REPO, 'packages/server/package.json'));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

let prefix: Prefix;
const serviceDir = () => join(prefix.dir, 'service');
let tarballs: Record<Published, Tarball>;
let prebuilt: Prebuilt;
const installs = {} as Record<Published, Run>;

beforeAll(async () => {
  prefix = new Prefix(node);
  tarballs = packCurrent(join(prefix.dir, 'packs'));
  const sqliteVersion = serverPackage.dependencies?.['better-sqlite3'] ?? '';
  prebuilt = seedPrebuilt(sqliteVersion, node, prefix.npmCache);
  installs.sekuire = await prefix.npmInstall([tarballs.sekuire.path]);
  // What the docs tell users: npm warns about, and will one day block, unapproved install scripts.
  installs['sekuire-server'] = await prefix.npmInstall([
    '--allow-scripts=better-sqlite3',
    tarballs['sekuire-server'].path,
  ]);
  // A service's own dependency, as its README says: npm install sekuire-verify, in the project.
  mkdirSync(serviceDir());
  writeFileSync(join(serviceDir(), 'package.json'), '{"name": "deploy-service", "private": true}\n');
  installs['sekuire-verify'] = await prefix.npmInstallInto(serviceDir(), [tarballs['sekuire-verify'].path]);
  const sqlite = join(prefix.installed('sekuire-server'), 'node_modules/better-sqlite3');
  if (prebuilt.sha256 === undefined && installs['sekuire-server'].code === 0) keepCompiled(prebuilt, sqlite);
  console.log(
    [
      `Node ${node.version} (ABI ${node.abi}), empty npm cache:`,
      `  sekuire        installed in ${(installs.sekuire.ms / 1000).toFixed(1)} s, ${mb(treeSize(prefix.installed('sekuire')))}`,
      `  sekuire-server installed in ${(installs['sekuire-server'].ms / 1000).toFixed(1)} s, ${mb(treeSize(prefix.installed('sekuire-server')))}`,
      `  sekuire-verify installed in ${(installs['sekuire-verify'].ms / 1000).toFixed(1)} s`,
      `  better-sqlite3 ${prebuilt.sha256 === undefined ? 'compiled from source, now kept in' : 'prebuilt from'} ${prebuilt.kept}`,
    ].join('\n'),
  );
}, INSTALL_TIMEOUT_MS);

afterAll(() => prefix?.remove());

describe('the tarballs', () => {
  it('hold the CLI bundle, its lazily loaded vendor files and their licences, and nothing of the sources', () => {
    const files = tarballs.sekuire.files;
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/cli.cjs',
        'dist/status.cjs',
        'dist/full.cjs',
        'dist/index.mjs',
        'dist/index.cjs',
        'dist/index.d.ts',
        'dist/key-store.cjs',
        'dist/vendor/conf.mjs',
        'dist/vendor/node-machine-id.cjs',
        'dist/vendor/systeminformation.cjs',
        'dist/THIRD-PARTY-LICENSES.txt',
      ]),
    );
    expect(files.filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file))).toEqual([]);
  });

  it('hold the server bundle and every dashboard template and asset of the sources', () => {
    const files = tarballs['sekuire-server'].files;
    const web = (folder: string) =>
      readdirSync(join(REPO, 'packages/server/src/web', folder)).map((name) => `dist/web/${folder}/${name}`);
    expect(web('views')).toContain('dist/web/views/login.eta');
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'dist/server.js', ...web('views'), ...web('assets')]),
    );
    expect(files.filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file))).toEqual([]);
  });
});

describe('sekuire-verify', () => {
  it('holds ESM, CommonJS and declarations, and installs into a project with nothing else', () => {
    expect([...tarballs['sekuire-verify'].files].sort()).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'dist/index.cjs',
        'dist/index.d.ts',
        'dist/index.mjs',
        'package.json',
      ]),
    );
    expect(
      tarballs['sekuire-verify'].files.filter(
        (file) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file),
      ),
    ).toEqual([]);
    const install = installs['sekuire-verify'];
    expect(install.code, install.stderr).toBe(0);
    expect(`${install.stdout}${install.stderr}`).not.toMatch(ENGINE_WARNING);
    expect(readdirSync(join(serviceDir(), 'node_modules')).filter((name) => !name.startsWith('.'))).toEqual([
      'sekuire-verify',
    ]);
  });

  it('loads as ESM and as CommonJS from the project', async () => {
    const names = "['createVerifier','requirePermission','sekuireVerify','verifyMiddleware']";
    const check = `const names = ${names}; if (names.some((name) => typeof m[name] !== 'function')) process.exit(3);`;
    const esm = await run(
      'node',
      ['--input-type=module', '-e', `const m = await import('sekuire-verify'); ${check}`],
      {
        cwd: serviceDir(),
        env: prefix.env(),
      },
    );
    expect({ code: esm.code, stderr: esm.stderr }).toEqual({ code: 0, stderr: '' });
    const cjs = await run('node', ['-e', `const m = require('sekuire-verify'); ${check}`], {
      cwd: serviceDir(),
      env: prefix.env(),
    });
    expect({ code: cjs.code, stderr: cjs.stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe('npm install --global into an empty prefix', () => {
  it('installs sekuire alone: no dependency, one optional one it does not install, no install script, not a warning, under 3 MB', () => {
    const install = installs.sekuire;
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    expect(install.stdout).toMatch(/^\nadded 1 package in \S+\n$/);
    const installed = prefix.installed('sekuire');
    const pkg = readJson<PackageJson>(join(installed, 'package.json'));
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    // The keyring store's binding: an optional peer, which npm never installs on its own (an
    // optionalDependency would be installed by every `npm install -g`, --omit=optional or not).
    expect(pkg.peerDependencies ?? {}).toEqual({ '@napi-rs/keyring': '2.1.2' });
    expect(pkg.peerDependenciesMeta ?? {}).toEqual({ '@napi-rs/keyring': { optional: true } });
    expect(pkg.bundleDependencies).toBeUndefined();
    expect(Object.keys(pkg.scripts ?? {}).filter((name) => INSTALL_SCRIPTS.includes(name))).toEqual([]);
    expect(readdirSync(installed)).not.toContain('node_modules');
    expect(treeSize(installed)).toBeLessThan(MAX_CLI_BYTES);
  });

  it('installs sekuire-server with no engine warning, better-sqlite3 taking the prebuilt binary when one is kept', () => {
    const install = installs['sekuire-server'];
    expect(install.code, install.stderr).toBe(0);
    expect(`${install.stdout}${install.stderr}`).not.toMatch(ENGINE_WARNING);
    expect(install.stderr).not.toContain('install-scripts');
    const binary = join(prefix.installed('sekuire-server'), 'node_modules/better-sqlite3', BINARY);
    expect(statSync(binary).isFile()).toBe(true);
    // The same bytes as the kept tarball's: prebuild-install found it, node-gyp never ran.
    if (prebuilt.sha256 !== undefined) {
      expect(
        sha256(binary),
        `prebuild-install did not take ${prebuilt.kept}; if it is damaged, delete it`,
      ).toBe(prebuilt.sha256);
    }
  });

  it('puts the Node under test first in the PATH the installed programs run with', async () => {
    const version = await run('node', ['--version'], { cwd: prefix.cwd, env: prefix.env() });
    expect(version.stdout).toBe(`${node.version}\n`);
  });

  it('loads every vendor file the CLI imports lazily, from the install alone', async () => {
    const vendor = join(prefix.installed('sekuire'), 'dist/vendor');
    const names = readdirSync(vendor).sort();
    expect(names).toEqual(['conf.mjs', 'node-machine-id.cjs', 'systeminformation.cjs']);
    for (const name of names) {
      const load = await run(
        'node',
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(join(vendor, name))}); if (!m.default) process.exit(3);`,
        ],
        { cwd: prefix.cwd, env: prefix.env() },
      );
      expect({ name, code: load.code, stderr: load.stderr }).toEqual({ name, code: 0, stderr: '' });
    }
  });
});

describe('the installed programs', () => {
  let server: InstalledServer;
  const db = () => join(prefix.dir, 'data', 'x.db');
  const sekuireHome = () => join(prefix.home, '.sekuire-test');
  const cli = (args: string[], input?: string) =>
    prefix.bin('sekuire', args, { ...MACHINE, SEKUIRE_HOME: sekuireHome() }, input);
  /** The ESM and CommonJS library examples of the installed package's README, as written there. */
  const readmeExamples = (): [string, string] => {
    const examples = [
      ...readFileSync(join(prefix.installed('sekuire'), 'README.md'), 'utf8').matchAll(
        /```js\n([\s\S]*?)```/g,
      ),
    ].map((match) => match[1] ?? '');
    expect(examples).toHaveLength(2);
    return [examples[0] ?? '', examples[1] ?? ''];
  };
  /** Runs `code` from the prefix's lib/, where `sekuire` resolves to the installed package, as in a project of one's own. */
  const runExample = (name: string, code: string, env: Record<string, string>) => {
    const file = join(prefix.prefix, 'lib', name);
    writeFileSync(file, code);
    return run('node', [file], { cwd: prefix.cwd, env: prefix.env({ ...MACHINE, ...env }) });
  };

  beforeAll(async () => {
    mkdirSync(join(prefix.dir, 'data'));
    server = await startInstalledServer(prefix, db());
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('logs in with a key the installed server created, checks it, and logs out', async () => {
    const created = await prefix.bin(
      'sekuire-server',
      ['create-key', '--db', db(), '--email', 'dev@example.com', '--org', 'Acme Corp', '--json'],
      {},
    );
    expect(created.code, created.stderr).toBe(0);
    const { key, id } = JSON.parse(created.stdout) as { key: string; id: string };
    expect(key).toMatch(/^sk_(live|test)_/);
    const authFile = join(sekuireHome(), 'auth.json');

    const login = await cli(['login', '--with-key', '--backend', server.url], `${key}\n`);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout.split('\n').at(-2)).toBe(`Credentials saved to: ${authFile}`);
    const stored = readJson<Record<string, string>>(authFile);
    expect(stored.key_id).toBe(id);
    expect(statSync(authFile).mode & 0o777).toBe(0o600);

    const status = await cli(['status']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout.split('\n')).toEqual([
      'Authentication Status:',
      'Authenticated with API Key',
      `Key: ${key.slice(0, 11)}...${key.slice(-3)}`,
      `Device Fingerprint: ${stored.device_fingerprint?.slice(0, 8)}...`,
      `Device: ${hostname()}`,
      'OS: linux',
      `Workspace: ${stored.workspace_id}`,
      `Source: ${authFile}`,
      'Profile: default',
      `Backend: ${server.url} (key accepted just now)`,
      '',
    ]);

    const whoami = await cli(['auth', 'whoami']);
    expect(whoami.stderr).toBe('');
    expect(whoami.code).toBe(0);
    expect(whoami.stdout.split('\n')).toEqual([
      'Current User Information:',
      'Authenticated as:',
      'Email: dev@example.com',
      `User ID: ${stored.user_id}`,
      'Organization: Acme Corp',
      '',
      'Device Info:',
      `Device: ${hostname()}`,
      'OS: linux',
      `Fingerprint: ${stored.device_fingerprint?.slice(0, 8)}...`,
      '',
    ]);

    const logout = await cli(['logout']);
    expect(logout.stderr).toBe('Logging out...\n');
    expect(logout.code).toBe(0);
    expect(logout.stdout.split('\n')).toEqual([
      'Logged out successfully!',
      `Credentials removed from: ${authFile}`,
      `This device was unbound on ${server.url}.`,
      '',
    ]);
    expect(existsSync(authFile)).toBe(false);
  });

  it('calls the API with sekuire api, and runs the library examples of its README as ESM and CommonJS', async () => {
    const created = await prefix.bin(
      'sekuire-server',
      ['create-key', '--db', db(), '--email', 'library@example.com', '--json'],
      {},
    );
    expect(created.code, created.stderr).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    const login = await cli(['login', '--with-key', '--backend', server.url], `${key}\n`);
    expect(login.code, login.stderr).toBe(0);

    const api = await cli(['api', '/api/v1/cli/whoami', '--json']);
    expect([api.code, api.stderr]).toEqual([0, '']);
    expect(JSON.parse(api.stdout)).toMatchObject({
      status: 200,
      body: { user: { email: 'library@example.com' } },
    });

    const [esm, cjs] = readmeExamples();
    expect(esm).toContain("import { createClient } from 'sekuire';");
    expect(cjs).toContain("const { createClient } = require('sekuire');");
    for (const [name, code] of [
      ['example.mjs', esm],
      ['example.cjs', cjs],
    ] as const) {
      const ran = await runExample(name, code, { SEKUIRE_HOME: sekuireHome() });
      expect({ name, code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
        name,
        code: 0,
        stdout: 'Signed in as library@example.com\n',
        stderr: '',
      });
    }
    expect((await cli(['logout'])).code).toBe(0);
  });

  it('the keyring store: exit 15 naming what to install, until @napi-rs/keyring is installed beside sekuire', async () => {
    const created = await prefix.bin(
      'sekuire-server',
      ['create-key', '--db', db(), '--email', 'keyring@example.com', '--json'],
      {},
    );
    expect(created.code, created.stderr).toBe(0);
    const { key } = JSON.parse(created.stdout) as { key: string };
    const home = join(prefix.home, '.sekuire-keyring');
    const keyringLogin = (env: Record<string, string>) =>
      prefix.bin(
        'sekuire',
        ['login', '--with-key', '--key-store', 'keyring', '--backend', server.url],
        { ...MACHINE, SEKUIRE_HOME: home, ...env },
        `${key}\n`,
      );
    const absent = await keyringLogin({});
    expect(absent.code).toBe(15);
    expect(absent.stderr).toContain(
      'The keyring store needs @napi-rs/keyring, which is not installed next to sekuire (or has no build for this platform).',
    );
    expect(absent.stderr).toContain('Install it: npm install -g @napi-rs/keyring');
    expect(existsSync(join(home, 'device-key.json'))).toBe(false);

    // What the message says to do, then the same login against a real keyring.
    const added = await prefix.npmInstall(['@napi-rs/keyring@2.1.2']);
    expect(added.code, added.stderr).toBe(0);
    const keyring = await TestKeyring.start();
    try {
      const login = await keyringLogin(keyring.env);
      expect(login.stderr).toBe('');
      expect(login.code).toBe(0);
      expect(readJson<Record<string, string>>(join(home, 'auth.json')).key_store).toBe('keyring');
      const status = await prefix.bin('sekuire', ['status'], {
        ...MACHINE,
        SEKUIRE_HOME: home,
        ...keyring.env,
      });
      expect(status.stderr).toBe('');
      expect(status.code).toBe(0);
      expect(status.stdout).toContain('Device Key: keyring\n');
      // The library signs with the key in the keyring too (the README's ESM example, as is).
      const [esm] = readmeExamples();
      const ran = await runExample('example-keyring.mjs', esm, { SEKUIRE_HOME: home, ...keyring.env });
      expect({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }).toEqual({
        code: 0,
        stdout: 'Signed in as keyring@example.com\n',
        stderr: '',
      });
    } finally {
      await keyring.stop();
    }
  });

  it('sets a configuration value (conf, loaded from dist/vendor)', async () => {
    const set = await cli(['config', 'set', 'timeout', '10']);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(readJson<Record<string, unknown>>(join(sekuireHome(), 'config.json'))).toEqual({ timeout: 10 });
    const get = await cli(['config', 'get', 'timeout']);
    expect(get).toMatchObject({ code: 0, stdout: '10\n' });
  });

  it('a node:http service with the installed sekuire-verify accepts a signed request, then refuses it revoked', async () => {
    const create = async (args: string[]) => {
      const created = await prefix.bin('sekuire-server', ['create-key', '--db', db(), '--json', ...args], {});
      expect(created.code, created.stderr).toBe(0);
      return JSON.parse(created.stdout) as { key: string; id: string };
    };
    const verifyKey = await create([
      '--email',
      'svc@example.com',
      '--org',
      'Acme',
      '--type',
      'server',
      '--permission',
      'verify',
    ]);
    const client = await create([
      '--email',
      'dev@example.com',
      '--org',
      'Acme',
      '--permission',
      'deploy:write',
    ]);
    const device = await bindDevice(server.url, client.key);
    writeFileSync(
      join(serviceDir(), 'service.cjs'),
      [
        "const http = require('node:http');",
        "const { requirePermission, verifyMiddleware } = require('sekuire-verify');",
        'const verified = verifyMiddleware({ server: process.env.SEKUIRE_URL, key: process.env.SEKUIRE_VERIFY_KEY });',
        "const deploy = requirePermission('deploy:write');",
        'const app = http.createServer((req, res) => verified(req, res, (error) => {',
        '  if (error) { res.statusCode = 500; res.end(); return; }',
        "  deploy(req, res, () => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ by: req.sekuire.user.email, body: req.body })); });",
        '}));',
        "app.listen(0, '127.0.0.1', () => console.log('Listening on http://127.0.0.1:' + app.address().port));",
        "process.once('SIGTERM', () => app.close(() => process.exit(0)));",
        '',
      ].join('\n'),
    );
    const service = spawn('node', ['service.cjs'], {
      cwd: serviceDir(),
      env: prefix.env({ SEKUIRE_URL: server.url, SEKUIRE_VERIFY_KEY: verifyKey.key }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    service.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    try {
      const base = await new Promise<string>((resolvePromise, reject) => {
        service.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
          const match = /^Listening on (\S+)$/m.exec(output);
          if (match?.[1] !== undefined) resolvePromise(match[1]);
        });
        service.once('exit', (code) => reject(new Error(`the service exited (${code}): ${output}`)));
      });
      const deploy = new URL('/deploy', base);
      expect(await signedRequest(deploy, 'POST', client.key, device, '{"ref":"main"}')).toEqual({
        status: 200,
        body: { by: 'dev@example.com', body: { ref: 'main' } },
      });
      const revoked = await prefix.bin('sekuire-server', ['revoke-key', '--db', db(), '--id', client.id], {});
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await signedRequest(deploy, 'POST', client.key, device, '{"ref":"main"}')).toEqual({
        status: 401,
        body: { error: 'key_revoked', message: 'This API key has been revoked.' },
      });
      expect(output).not.toContain(client.key);
      expect(output).not.toContain(verifyKey.key);
    } finally {
      service.kill('SIGTERM');
    }
  });

  it('serves the dashboard sign-in page and its assets from the installed files', async () => {
    const page = await fetch(`${server.url}/login`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<form');
    for (const name of readdirSync(join(REPO, 'packages/server/src/web/assets'))) {
      const asset = await fetch(`${server.url}/assets/${name}`);
      expect({ name, status: asset.status }).toEqual({ name, status: 200 });
      expect(Buffer.from(await asset.arrayBuffer())).toEqual(
        readFileSync(join(REPO, 'packages/server/src/web/assets', name)),
      );
    }
  });
});
