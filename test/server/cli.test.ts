// The sekuire-server commands as a user runs them: output, exit codes, mistakes. In process through
// run(ctx, argv), and through the built bin (dist/server.js) where the process is the subject.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKey } from '@sekuire/shared/key';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../packages/server/src/domain/passwords.js';
import { rawSql } from '../helpers/raw-sql.js';
import { SERVER_PATH } from '../helpers/server.js';
import { runServer } from '../helpers/server-commands.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let dir: string;
let db: string;

/** A command in this process; `env` is all of its environment. */
function server(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return runServer(args, { env, ...(input !== undefined && { input }) });
}

/** The same command through the built bin, its stdin a pipe carrying `input`. */
function bin(args: string[], input = ''): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('SEKUIRE_SERVER_')) env[name] = value;
  }
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [SERVER_PATH, ...args],
      { env, cwd: dir },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

/** A shell line (a pipe, a redirection) around the bin. */
function shell(command: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr }),
    );
  });
}

function expectNoStack(run: Run): void {
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sekuire-cli-'));
  db = join(dir, 'sekuire.db');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('create-key', () => {
  it('prints the key alone on stdout and a description on stderr; creates db and secret 0600', async () => {
    const run = await bin([
      'create-key',
      '--db',
      db,
      '--email',
      'ada@example.com',
      '--org',
      'Acme',
      '--workspace',
      'Ops',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^sk_test_[0-9A-Za-z]{38}\n$/);
    const key = parseKey(run.stdout);
    expect(run.stderr).toBe(
      `Created the server secret ${db}.secret (mode 0600). Back it up: without it no existing key can be verified.\n` +
        `Created client key ${/key_[0-9A-Za-z]{16}/.exec(run.stderr)?.[0]} (${key.masked}) for ada@example.com in Acme / Ops. It is shown only this once.\n`,
    );
    expect(statSync(db).mode & 0o777).toBe(0o600);
    expect(statSync(`${db}.secret`).mode & 0o777).toBe(0o600);
    const second = await server(['create-key', '--db', db, '--email', 'ada@example.com', '--env', 'live']);
    expect(second.stdout).toMatch(/^sk_live_[0-9A-Za-z]{38}\n$/);
    expect(second.stderr).toMatch(
      /^Created client key key_\w{16} \(sk_live_\w{3}\.\.\.\w{3}\) for ada@example\.com in Personal \(ada@example\.com\) \/ Default\. /,
    );
  });

  it("--json prints one object with the key, ids, names and expiry (by the command's clock)", async () => {
    const run = await runServer(
      [
        'create-key',
        '--db',
        db,
        '--email',
        'ada@example.com',
        '--name',
        'Ada L',
        '--key-name',
        'ci',
        '--env',
        'live',
        '--expires-in',
        '30',
        '--json',
      ],
      { now: () => new Date('2030-01-01T00:00:00.000Z') },
    );
    expect(run.code).toBe(0);
    expect(run.stdout.endsWith('}\n')).toBe(true);
    const created = JSON.parse(run.stdout);
    const key = parseKey(created.key);
    expect(created).toEqual({
      key: key.value,
      id: expect.stringMatching(/^key_[0-9A-Za-z]{16}$/),
      name: 'ci',
      masked: key.masked,
      environment: 'live',
      type: 'client',
      created_at: '2030-01-01T00:00:00.000Z',
      expires_at: '2030-01-31T00:00:00.000Z',
      user: { id: expect.stringMatching(/^user_/), email: 'ada@example.com', name: 'Ada L' },
      organization: { id: expect.stringMatching(/^org_/), name: 'Personal (ada@example.com)' },
      workspace: { id: expect.stringMatching(/^ws_/), name: 'Default' },
    });
    expect(run.stderr).not.toContain(key.value);
  });

  it('uses SEKUIRE_SERVER_SECRET instead of a file', async () => {
    const run = await server(['create-key', '--db', db, '--email', 'a@example.com'], {
      SEKUIRE_SERVER_SECRET: 'ab'.repeat(32),
    });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('secret');
    const bad = await server(['create-key', '--db', db, '--email', 'a@example.com'], {
      SEKUIRE_SERVER_SECRET: 'short',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'error: SEKUIRE_SERVER_SECRET must be at least 32 hexadecimal characters (an even number), or several such, newest first, separated by commas; make one with: openssl rand -hex 32\n',
    );
  });

  it.each([
    [['--email', 'nobody'], 'error: --email must be an email address like dev@example.com, not "nobody".\n'],
    [
      ['--email', 'a b@example.com'],
      'error: --email must be an email address like dev@example.com, not "a b@example.com".\n',
    ],
    [
      ['--email', '@example.com'],
      'error: --email must be an email address like dev@example.com, not "@example.com".\n',
    ],
    [['--email', 'a@b.c', '--env', 'prod'], 'error: --env must be live or test, not "prod".\n'],
    [
      ['--email', 'a@b.c', '--expires-in', '-1'],
      'error: --expires-in must be a whole number of days from 0 to 3650 (0: already expired), not "-1".\n',
    ],
    [
      ['--email', 'a@b.c', '--expires-in', '3651'],
      'error: --expires-in must be a whole number of days from 0 to 3650 (0: already expired), not "3651".\n',
    ],
    [
      ['--email', 'a@b.c', '--expires-in', '1.5'],
      'error: --expires-in must be a whole number of days from 0 to 3650 (0: already expired), not "1.5".\n',
    ],
    [
      ['--email', 'a@b.c', '--org', ' '],
      'error: --org must be 1 to 200 characters on one line, without control or invisible characters (bidi controls, zero-width characters).\n',
    ],
    [
      ['--email', 'a@b.c', '--name', 'x'.repeat(201)],
      'error: --name must be 1 to 200 characters on one line, without control or invisible characters (bidi controls, zero-width characters).\n',
    ],
    // L9: bidi overrides, zero-width characters, line separators and names that draw nothing.
    [
      ['--email', 'a@b.c', '--name', 'Ada\u202e'],
      'error: --name must be 1 to 200 characters on one line, without control or invisible characters (bidi controls, zero-width characters).\n',
    ],
    [
      ['--email', 'a@b.c', '--key-name', 'ci\u200bkey'],
      'error: --key-name must be 1 to 200 characters on one line, without control or invisible characters (bidi controls, zero-width characters).\n',
    ],
    [
      ['--email', 'a@b.c', '--workspace', 'a\u2028b'],
      'error: --workspace must be 1 to 200 characters on one line, without control or invisible characters (bidi controls, zero-width characters).\n',
    ],
    [
      ['--email', 'a@b.c', '--org', '\u3164'],
      'error: --org must be 1 to 200 characters on one line, without control or invisible characters (bidi controls, zero-width characters).\n',
    ],
    [
      ['--email', 'a\u200b@b.c'],
      'error: --email must be an email address like dev@example.com, not "a\u200b@b.c".\n',
    ],
    [[], "error: required option '--email <email>' not specified\n(add --help for usage)\n"],
    [['--email', 'a@b.c', '--bogus'], "error: unknown option '--bogus'\n(add --help for usage)\n"],
  ])('%j -> exit 2 with a message, no stack, nothing created', async (args, message) => {
    const run = await server(['create-key', '--db', db, ...args]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(message);
    expectNoStack(run);
    expect(existsSync(db)).toBe(false);
  });
  it('a database path in a missing directory is exit 1 naming it', async () => {
    const missing = join(dir, 'no', 'such.db');
    const run = await server(['create-key', '--db', missing, '--email', 'a@b.c']);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: Cannot create the secret file ${missing}.secret: its directory does not exist. Check --db.\n`,
    });
    const withSecret = await server([
      'create-key',
      '--db',
      missing,
      '--email',
      'a@b.c',
      '--secret-file',
      join(dir, 's'),
    ]);
    expect(withSecret.code).toBe(1);
    expect(withSecret.stderr).toContain(
      `error: Cannot create the database ${missing}: its directory does not exist.`,
    );
  });
});

describe('revoke-key', () => {
  it('revokes once, says so when already revoked, exit 1 for an unknown id', async () => {
    const created = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'a@b.c', '--json'])).stdout,
    );
    const first = await server(['revoke-key', '--db', db, '--id', created.id]);
    expect(first).toEqual({ code: 0, stdout: `Revoked key ${created.id} (${created.masked})\n`, stderr: '' });
    const again = await server(['revoke-key', '--db', db, '--id', created.id, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      id: created.id,
      masked: created.masked,
      status: 'already_revoked',
      revoked_at: expect.any(String),
    });
    const human = await server(['revoke-key', '--db', db, '--id', created.id]);
    expect(human.stdout).toMatch(
      new RegExp(`^Key ${created.id} \\(.+\\) was already revoked at \\d{4}-.+Z\\n$`),
    );
    const unknown = await server(['revoke-key', '--db', db, '--id', 'key_nope']);
    expect(unknown).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: No key key_nope in ${db}. Run 'sekuire-server list-keys' to list key ids.\n`,
    });
  });

  it('needs an existing database and --id', async () => {
    const missing = await bin(['revoke-key', '--db', db, '--id', 'key_x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `error: No database at ${db}. Check --db; start and create-key create one.\n`,
    );
    expectNoStack(missing);
    const noId = await bin(['revoke-key', '--db', db]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain("required option '--id <key-id>' not specified");
  });
});

describe('unbind', () => {
  it('frees a bound key (audited), says when there was nothing to free, exit 1 for an unknown id', async () => {
    const created = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'a@b.c', '--json'])).stdout,
    ) as { id: string };
    const sql = rawSql(db);
    try {
      await sql.run(
        `INSERT INTO devices (id, key_id, fingerprint, name, os, os_version, arch, bound_at, last_seen_at)
         VALUES ('dev_0000000000000001', ?, ?, 'build-box', 'linux', '12', 'x64', ?, ?)`,
        [created.id, 'f'.repeat(64), '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z'],
      );
    } finally {
      await sql.close();
    }
    const first = await server(['unbind', '--db', db, '--key', created.id]);
    expect(first).toEqual({
      code: 0,
      stdout: `Unbound key ${created.id} from build-box (linux); its next login binds it\n`,
      stderr: '',
    });
    const again = await server(['unbind', '--db', db, '--key', created.id, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ key_id: created.id, unbound: false, device: null });
    expect((await server(['unbind', '--db', db, '--key', created.id])).stdout).toBe(
      `Key ${created.id} is not bound to any device\n`,
    );
    const audit = JSON.parse((await server(['audit', '--db', db, '--key', created.id, '--json'])).stdout) as {
      event: string;
      detail: Record<string, unknown>;
    }[];
    expect(audit.at(-1)).toMatchObject({
      event: 'unbind',
      detail: { device_id: 'dev_0000000000000001', via: 'sekuire-server unbind' },
    });
    const unknown = await bin(['unbind', '--db', db, '--key', 'key_nope']);
    expect(unknown).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: No key key_nope in ${db}. Run 'sekuire-server list-keys' to list key ids.\n`,
    });
    const noKey = await bin(['unbind', '--db', db]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("required option '--key <key-id>' not specified");
  });
});

describe('create-key: the key is never lost', () => {
  it('--out writes the key to a new 0600 file, and refuses an existing one', async () => {
    const out = join(dir, 'key.txt');
    const run = await server(['create-key', '--db', db, '--email', 'a@b.c', '--out', out]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    const key = parseKey(readFileSync(out, 'utf8'));
    expect(readFileSync(out, 'utf8')).toBe(`${key.value}\n`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(run.stderr).toContain(`It is shown only this once. It was written to ${out} (mode 0600).\n`);
    expect(run.stderr).not.toContain(key.value);
    const again = await server(['create-key', '--db', db, '--email', 'a@b.c', '--out', out]);
    expect(again).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: --out ${out} already exists; give a new file name (keys are never overwritten).\n`,
    });
    expect(readFileSync(out, 'utf8')).toBe(`${key.value}\n`);
    const json = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'a@b.c', '--out', join(dir, 'k2'), '--json']))
        .stdout,
    );
    expect(json.key).toBeUndefined();
    expect(json.key_file).toBe(join(dir, 'k2'));
  });

  it('a key that cannot be written to stdout is revoked, and the exit says so', async () => {
    const run = await shell(
      `"${process.execPath}" "${SERVER_PATH}" create-key --db "${db}" --email a@b.c > /dev/full`,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^error: The key (key_\w{16}) \(sk_test_\w{3}\.\.\.\w{3}\) was created but could not be written \(ENOSPC\), so it has been revoked\. Create another one, e\.g\. with --out FILE\.\n$/m,
    );
    expect(run.stderr).not.toContain('shown only this once');
    const keys = JSON.parse((await server(['list-keys', '--db', db, '--json'])).stdout);
    expect(keys.map((key: { status: string }) => key.status)).toEqual(['revoked']);
  });

  it('--out to a directory that does not exist fails before any key is made', async () => {
    const run = await server(['create-key', '--db', db, '--email', 'a@b.c', '--out', join(dir, 'no', 'k')]);
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: Cannot create --out ${join(dir, 'no', 'k')}: its directory does not exist.\n`,
    });
    expect(existsSync(db)).toBe(false);
  });
});

describe('organizations', () => {
  it('every user created without --org gets an organization of their own, and owns it', async () => {
    const a = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'a@example.com', '--json'])).stdout,
    );
    const b = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'b@example.com', '--json'])).stdout,
    );
    const a2 = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'A@example.com', '--json'])).stdout,
    );
    expect(a.organization.name).toBe('Personal (a@example.com)');
    expect(b.organization.name).toBe('Personal (b@example.com)');
    expect(a.organization.id).not.toBe(b.organization.id);
    expect(a2.organization.id).toBe(a.organization.id);
    expect(a2.user.id).toBe(a.user.id);
  });
});

describe('revoke-key with a whole key, and list-keys', () => {
  it('revokes by the key itself without ever printing it', async () => {
    const created = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'a@b.c', '--json'])).stdout,
    );
    const run = await server(['revoke-key', '--db', db, '--id', created.key]);
    expect(run).toEqual({ code: 0, stdout: `Revoked key ${created.id} (${created.masked})\n`, stderr: '' });
    const other = `${created.key.slice(0, 8)}${'A'.repeat(32)}${created.key.slice(-6)}`;
    const unknown = await server(['revoke-key', '--db', db, '--id', other]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      `error: No key ${other.slice(0, 11)}...${other.slice(-3)} in ${db}. Run 'sekuire-server list-keys' to list key ids.\n`,
    );
    expect(unknown.stderr).not.toContain(other);
  });

  it('lists ids, masked keys, status and owners; never a key', async () => {
    const a = JSON.parse(
      (await server(['create-key', '--db', db, '--email', 'a@b.c', '--json', '--key-name', 'laptop'])).stdout,
    );
    const b = JSON.parse(
      (
        await server([
          'create-key',
          '--db',
          db,
          '--email',
          'b@b.c',
          '--json',
          '--org',
          'Acme',
          '--type',
          'server',
          '--env',
          'live',
        ])
      ).stdout,
    );
    await server(['revoke-key', '--db', db, '--id', a.id]);
    const human = await server(['list-keys', '--db', db]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID\s+MASKED\s+ENV\s+TYPE\s+STATUS\s+OWNER\s+ORGANIZATION\s+NAME$/);
    expect(lines[1]?.split(/\s{2,}/)).toEqual([
      a.id,
      a.masked,
      'test',
      'client',
      'revoked',
      'a@b.c',
      'Personal (a@b.c)',
      'laptop',
    ]);
    expect(lines[2]?.split(/\s{2,}/)).toEqual([
      b.id,
      b.masked,
      'live',
      'server',
      'active',
      'b@b.c',
      'Acme',
      'CLI key',
    ]);
    expect(human.stdout).not.toContain(a.key);
    expect(human.stdout).not.toContain(b.key);
    const mine = JSON.parse((await server(['list-keys', '--db', db, '--email', 'B@b.c', '--json'])).stdout);
    expect(mine).toEqual([
      expect.objectContaining({
        id: b.id,
        masked: b.masked,
        type: 'server',
        status: 'active',
        user_email: 'b@b.c',
        organization: 'Acme',
      }),
    ]);
    expect(JSON.stringify(mine)).not.toContain(b.key);
    const none = await server(['list-keys', '--db', db, '--email', 'z@b.c']);
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No keys for z@b.c.\n' });
  });

  it('a closed pipe is not an error; a full disk is', async () => {
    for (let i = 0; i < 3; i++) await server(['create-key', '--db', db, '--email', `u${i}@b.c`]);
    const closed = await shell(`"${process.execPath}" "${SERVER_PATH}" list-keys --db "${db}" | head -c 1`);
    expect(closed).toEqual({ code: 0, stdout: 'I', stderr: '' });
    const full = await shell(`"${process.execPath}" "${SERVER_PATH}" list-keys --db "${db}" > /dev/full`);
    expect(full).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: cannot write to standard output (ENOSPC)\n',
    });
  });
});

describe('start --help', () => {
  it('says how long a secret must be and that remote CLIs need https', async () => {
    const run = await server(['start', '--help']);
    expect(run.stdout).toContain(
      'SEKUIRE_SERVER_SECRET (at least 32 hex characters; openssl rand -hex 32 makes one)',
    );
    expect(run.stdout).toContain('Remote CLIs send keys only over https');
  });
});

describe('create-user', () => {
  const COMMON =
    'error: That password is one of the first that guessers try (a common one, or one character repeated): choose another. Nothing was changed.\n';
  it('creates a person who owns an organization of their own; the password is never printed or stored', async () => {
    const run = await bin(
      [
        'create-user',
        '--db',
        db,
        '--email',
        'ada@example.com',
        '--name',
        'Ada',
        '--password-stdin',
        '--json',
      ],
      'correct horse battery\n',
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      id: expect.stringMatching(/^user_/),
      email: 'ada@example.com',
      name: 'Ada',
      created: true,
      organization: { id: expect.stringMatching(/^org_/), name: 'Personal (ada@example.com)' },
      role: 'owner',
      sessions_ended: 0,
    });
    expect(run.stdout + run.stderr).not.toContain('correct horse battery');
    expect(readFileSync(db).includes('correct horse battery')).toBe(false);
    // At the real cost (test servers' people get cheap hashes), and it verifies.
    const sql = rawSql(db);
    let stored: { password_hash: string } | undefined;
    try {
      stored = await sql.get<{ password_hash: string }>('SELECT password_hash FROM users WHERE email = ?', [
        'ada@example.com',
      ]);
    } finally {
      await sql.close();
    }
    expect(stored?.password_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(await verifyPassword('correct horse battery', stored?.password_hash ?? '')).toBe(true);
    const again = await server(
      [
        'create-user',
        '--db',
        db,
        '--email',
        'ada@example.com',
        '--org',
        'Acme',
        '--role',
        'admin',
        '--password-stdin',
      ],
      {},
      'another long password\n',
    );
    expect(again.stdout).toMatch(
      /^Updated user ada@example\.com \(user_\w+\), admin of Acme\. They can sign in to the dashboard now\.\n$/,
    );
  });

  it.each([
    [
      ['--password-stdin'],
      'short\n',
      'error: A password needs at least 10 characters. Nothing was changed.\n',
    ],
    [['--password-stdin'], '', 'error: --password-stdin: standard input was empty. Pipe the password in.\n'],
    [['--password-stdin'], 'Password123\n', COMMON],
    [['--password-stdin'], 'QWERTYUIOP\n', COMMON],
    [['--password-stdin'], `${'z'.repeat(12)}\n`, COMMON],
    [['--password-stdin'], `${'\u{1F511}'.repeat(6)}\n`, COMMON],
    [
      [],
      'correct horse battery\n',
      `error: No terminal to ask for the password: pipe it in with --password-stdin, e.g. printf '%s\\n' "$PASSWORD" | sekuire-server create-user ... --password-stdin\n`,
    ],
    [
      ['--role', 'king', '--org', 'A', '--password-stdin'],
      'x\n',
      'error: --role must be owner, admin or member, not "king".\n',
    ],
    [
      ['--org', 'Personal (bob@example.com)', '--password-stdin'],
      'correct horse battery\n',
      'error: --org: names beginning "Personal (" are kept for people\'s own organizations; choose another.\n',
    ],
    [
      ['--role', 'admin', '--password-stdin'],
      'x\n',
      'error: --role applies to --org: name the organization (a user always owns their own).\n',
    ],
  ])('%j with %j -> exit 2 with one line, nothing created', async (extra, input, message) => {
    const run = await server(['create-user', '--db', db, '--email', 'ada@example.com', ...extra], {}, input);
    expect(run).toEqual({ code: 2, stdout: '', stderr: message });
    expect(existsSync(db)).toBe(false);
  });
});

describe('audit', () => {
  it('prints the trail as lines or JSON, optionally for one key', async () => {
    const a = JSON.parse((await server(['create-key', '--db', db, '--email', 'a@b.c', '--json'])).stdout);
    const b = JSON.parse((await server(['create-key', '--db', db, '--email', 'b@b.c', '--json'])).stdout);
    await server(['revoke-key', '--db', db, '--id', a.id]);

    const all = await server(['audit', '--db', db, '--json']);
    expect(all.code).toBe(0);
    const events = JSON.parse(all.stdout);
    expect(events.map((event: { event: string; key_id: string }) => [event.event, event.key_id])).toEqual([
      ['create', a.id],
      ['create', b.id],
      ['revoke', a.id],
    ]);
    expect(events[2]).toEqual({
      id: 3,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      event: 'revoke',
      key_id: a.id,
      fingerprint: null,
      device_name: null,
      client_ip: null,
      detail: { masked: a.masked },
      actor_user_id: null,
    });

    const one = JSON.parse((await server(['audit', '--db', db, '--key', b.id, '--json'])).stdout);
    expect(one).toHaveLength(1);
    expect(one[0].key_id).toBe(b.id);

    const human = await server(['audit', '--db', db]);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe(`${events[2].at}  revoke        ${a.id}  -  -  -  -  {"masked":"${a.masked}"}`);
    expect(human.stdout).not.toContain(a.key);
  });

  it('says so when there is nothing, and needs an existing database', async () => {
    await server(['create-key', '--db', db, '--email', 'a@b.c']);
    const none = await server(['audit', '--db', db, '--key', 'key_nope']);
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No audit events.\n' });
    const json = await server(['audit', '--db', db, '--key', 'key_nope', '--json']);
    expect(json.stdout).toBe('[]\n');
    const missing = await bin(['audit', '--db', join(dir, 'nope.db')]);
    expect(missing.code).toBe(1);
    expectNoStack(missing);
  });
});

describe('the program', () => {
  it('--version, --help, help per command', async () => {
    expect(await bin(['--version'])).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
    const help = await server(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['start', 'create-key', 'revoke-key', 'list-keys', 'audit'])
      expect(help.stdout).toContain(command);
    for (const command of ['start', 'create-key', 'revoke-key', 'list-keys', 'audit']) {
      const run = await server([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Usage: sekuire-server ${command} \\[options\\]`));
    }
  });

  it('no command or an unknown one is a usage error (exit 2)', async () => {
    const none = await bin([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('Usage: sekuire-server');
    const unknown = await bin(['serve']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown command 'serve'");
  });
});
