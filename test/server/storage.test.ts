// What reaches the disk: no key in plain text (db or WAL), private file modes, secret-keyed digests.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintKey } from '@sekuire/shared/key';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandError, UsageError } from '../../packages/server/src/commands/errors.js';
import { loadSecret } from '../../packages/server/src/commands/secret.js';
import { keyDigest } from '../../packages/server/src/domain/digest.js';
import { openStore } from '../../packages/server/src/store/open.js';
import { FP_A, FP_B, type Harness, harness } from './harness.js';

describe('the database never holds a key', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  const bytesOf = (path: string) => (existsSync(path) ? readFileSync(path) : Buffer.alloc(0));

  it('neither the db file nor its -wal contains any key or its random part, before and after close', async () => {
    const created = [
      await h.createKey(),
      await h.createKey({ environment: 'live' }),
      await h.createKey({ email: 'x@example.com' }),
    ];
    for (const { apiKey } of created) {
      await h.login(apiKey.value, FP_A);
      await h.get('/api/v1/cli/status', apiKey.value, FP_A);
      await h.login(apiKey.value, FP_B, { rebind: true });
      await h.inject({
        method: 'POST',
        url: '/api/v1/cli/logout',
        headers: { authorization: `Bearer ${apiKey.value}`, 'x-sekuire-device': FP_B },
      });
      await h.get('/api/v1/cli/status', `${apiKey.value}x`, FP_A);
    }
    const secrets = created.flatMap(({ apiKey }) => [
      apiKey.value,
      apiKey.value.slice(8),
      apiKey.value.slice(8, 40),
    ]);
    const scan = () => {
      const bytes = Buffer.concat([bytesOf(h.target), bytesOf(`${h.target}-wal`)]);
      for (const secret of secrets) {
        expect(bytes.includes(secret, 0, 'latin1')).toBe(false);
        expect(bytes.includes(Buffer.from(secret, 'utf16le'))).toBe(false);
      }
      return bytes;
    };
    expect(existsSync(`${h.target}-wal`)).toBe(true);
    const live = scan();
    // The scan does see the data: every digest and masked form is there.
    for (const { apiKey } of created) {
      expect(live.includes(keyDigest(h.secret, apiKey.value))).toBe(true);
      expect(live.includes(apiKey.masked, 0, 'latin1')).toBe(true);
    }
    await h.sql.run('PRAGMA wal_checkpoint(TRUNCATE)');
    scan();
  });

  it('creates the database, -wal and -shm files 0600', async () => {
    await h.createKey();
    for (const suffix of ['', '-wal', '-shm']) {
      expect(statSync(`${h.target}${suffix}`).mode & 0o777).toBe(0o600);
    }
  });
});

describe('server secret', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sekuire-secret-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is created once, 0600, 32 random bytes in hex, and read back the same', () => {
    const file = join(dir, 'db.secret');
    const first = loadSecret(undefined, file, 'unused.db');
    expect(first.created).toBe(true);
    expect(first.file).toBe(file);
    expect(first.warning).toBeUndefined();
    expect(first.secret).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${first.secret.toString('hex')}\n`);
    const second = loadSecret('', file, 'unused.db');
    expect(second.created).toBe(false);
    expect(second.secret.equals(first.secret)).toBe(true);
    expect(loadSecret(undefined, join(dir, 'other.secret'), 'unused.db').secret.equals(first.secret)).toBe(
      false,
    );
  });

  it('warns when the file is readable by others', () => {
    const file = join(dir, 'db.secret');
    loadSecret(undefined, file, 'unused.db');
    chmodSync(file, 0o644);
    expect(loadSecret(undefined, file, 'unused.db').warning).toBe(
      `Warning: the secret file ${file} is accessible by other users (mode 644); run: chmod 600 ${file}`,
    );
  });

  it('SEKUIRE_SERVER_SECRET wins over the file and must be 32+ hex characters', () => {
    const hex = randomBytes(32).toString('hex');
    const fromEnv = loadSecret(` ${hex}\n`, join(dir, 'never.secret'), 'unused.db');
    expect(fromEnv).toEqual({ secret: Buffer.from(hex, 'hex'), older: [], created: false });
    expect(existsSync(join(dir, 'never.secret'))).toBe(false);
    for (const bad of ['abc', 'z'.repeat(64), 'a'.repeat(33), 'a'.repeat(30)]) {
      expect(() => loadSecret(bad, join(dir, 'never.secret'), 'unused.db')).toThrow(UsageError);
    }
  });

  it('several secrets, newest first, from the variable or the file; a repeated or empty one is refused', () => {
    const [a, b, c] = [randomBytes(32), randomBytes(16), randomBytes(32)].map((secret) =>
      secret.toString('hex'),
    );
    expect(loadSecret(` ${a} ,\n${b},${c}`, undefined, 'unused.db')).toEqual({
      secret: Buffer.from(a as string, 'hex'),
      older: [Buffer.from(b as string, 'hex'), Buffer.from(c as string, 'hex')],
      created: false,
    });
    const file = join(dir, 'db.secret');
    writeFileSync(file, `${a},${b}\n`, { mode: 0o600 });
    expect(loadSecret(undefined, file, 'unused.db')).toEqual({
      secret: Buffer.from(a as string, 'hex'),
      older: [Buffer.from(b as string, 'hex')],
      file,
      created: false,
    });
    for (const bad of [`${a},${a}`, `${a},`, `,${a}`, `${a},,${b}`]) {
      expect(() => loadSecret(bad, undefined, 'unused.db')).toThrow(UsageError);
    }
  });

  it('a file that does not hold a hex secret is refused', () => {
    const file = join(dir, 'db.secret');
    writeFileSync(file, 'not a secret\n', { mode: 0o600 });
    expect(() => loadSecret(undefined, file, 'unused.db')).toThrow(CommandError);
  });

  it('digests depend on the secret', () => {
    const key = mintKey('test').value;
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(keyDigest(a, key)).toHaveLength(32);
    expect(keyDigest(a, key).equals(keyDigest(a, key))).toBe(true);
    expect(keyDigest(a, key).equals(keyDigest(b, key))).toBe(false);
  });

  it('defaults to <db>.secret beside a SQLite database', () => {
    const db = join(dir, 'x.db');
    expect(loadSecret(undefined, undefined, db).file).toBe(`${db}.secret`);
  });

  it('a PostgreSQL database needs the secret given explicitly (every instance the same)', () => {
    expect(() => loadSecret(undefined, undefined, 'postgres://u@127.0.0.1/db')).toThrow(
      'With a PostgreSQL database, give every instance the same server secret: set SEKUIRE_SERVER_SECRET (make one with: openssl rand -hex 32) or --secret-file FILE.',
    );
    const hex = randomBytes(32).toString('hex');
    expect(loadSecret(hex, undefined, 'postgres://u@127.0.0.1/db').secret.toString('hex')).toBe(hex);
  });

  it('a database that must exist is not conjured from a mistyped path', async () => {
    const path = join(dir, 'missing.db');
    await expect(openStore(path, { mustExist: true })).rejects.toThrow(
      `No database at ${path}. Check --db; start and create-key create one.`,
    );
    expect(existsSync(path)).toBe(false);
  });
});
