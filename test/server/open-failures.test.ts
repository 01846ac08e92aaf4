// A --db that cannot be used: one clear line and a non-zero exit, no stack, no half-applied migration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../packages/server/src/store/sqlite/migrations.js';
import { describeOnPostgres } from '../helpers/engines.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';
import { rawSql } from '../helpers/raw-sql.js';
import { runServer, type ServerRun } from '../helpers/server-commands.js';

const SECRET = { SEKUIRE_SERVER_SECRET: '4b'.repeat(32) };

/** Each command in process: what it says about a database it cannot use is the subject, not the process. */
function server(args: string[]): Promise<ServerRun> {
  return runServer(args, { env: SECRET });
}

/** One line on stderr, starting "error: ", no stack. */
function expectOneLine(run: ServerRun, code: number, pattern: RegExp): void {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sekuire-open-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('bad --db values', () => {
  it.each([
    [
      'mysql://u@h/db',
      /^error: --db takes a SQLite file path or a postgres:\/\/ URL, not a mysql:\/\/ URL\.\n$/,
    ],
    ['   ', /^error: The database \(--db\) must not be empty: give a file path or a postgres:\/\/ URL\.\n$/],
  ])('%j -> exit 2', async (db, pattern) => {
    expectOneLine(await server(['list-keys', '--db', db]), 2, pattern);
  });

  it('an unreachable PostgreSQL: exit 1 saying so, for every command', async () => {
    for (const command of [
      ['start', '--port', '0'],
      ['list-keys'],
      ['audit'],
      ['revoke-key', '--id', 'key_x'],
    ]) {
      const run = await server([...command, '--db', 'postgres://sekuire@127.0.0.1:1/nope']);
      expectOneLine(
        run,
        1,
        /^error: Cannot use the PostgreSQL database postgres:\/\/sekuire@127\.0\.0\.1:1\/nope: connection refused; is PostgreSQL running there\?\n$/,
      );
    }
  });

  it('a password in the URL is never printed', async () => {
    const run = await server(['list-keys', '--db', 'postgres://sekuire:hunter2@127.0.0.1:1/nope']);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('hunter2');
    expect(run.stderr).toContain('postgres://sekuire:***@127.0.0.1:1/nope');
  });
});

describe('SQLite schemas', () => {
  it('a database on a newer schema is refused with one line', async () => {
    const db = join(dir, 'newer.db');
    const raw = new Database(db);
    raw.pragma('user_version = 99');
    raw.close();
    expectOneLine(
      await server(['list-keys', '--db', db]),
      1,
      new RegExp(
        `^error: The database ${db} has schema version 99, newer than this sekuire-server knows \\(${SQLITE_MIGRATIONS.length}\\)\\. Upgrade sekuire-server\\.\\n$`,
      ),
    );
  });

  it('an older database is upgraded in one step; a migration that fails leaves it exactly as it was', async () => {
    const db = join(dir, 'old.db');
    const raw = new Database(db);
    raw.exec(SQLITE_MIGRATIONS[0] ?? '');
    raw.pragma('user_version = 1');
    // Something in the way of migration 2, after its first statements would have run.
    raw.exec(
      'CREATE TABLE memberships_blocker (x); CREATE INDEX memberships_org ON memberships_blocker (x);',
    );
    raw.close();
    const failed = await server(['list-keys', '--db', db]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: Cannot open the database .*index memberships_org already exists/);
    const check = new Database(db);
    expect(check.pragma('user_version', { simple: true })).toBe(1);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'memberships'").all()).toEqual([]);
    check.exec('DROP TABLE memberships_blocker');
    check.close();
    const upgraded = await server(['list-keys', '--db', db]);
    expect(upgraded).toEqual({ code: 0, stdout: '', stderr: 'No keys.\n' });
    const after = new Database(db);
    expect(after.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    after.close();
  });
});

describeOnPostgres('PostgreSQL schemas and credentials', () => {
  let url: string;
  beforeEach(async () => {
    url = await createDatabase((inject('postgres') as { adminUrl: string }).adminUrl);
  });
  afterEach(async () => {
    await dropDatabase((inject('postgres') as { adminUrl: string }).adminUrl, url);
  });

  it('an unknown database, and an unknown user, are named as such', async () => {
    const missing = url.replace(/\/[^/]+$/, '/no_such_database');
    expectOneLine(
      await server(['list-keys', '--db', missing]),
      1,
      /: that database does not exist \(create it with createdb\)\n$/,
    );
    const stranger = url.replace('//sekuire@', '//nobody@');
    expectOneLine(
      await server(['list-keys', '--db', stranger]),
      1,
      /: authentication failed: check the user name and password in the URL\n$/,
    );
  });

  it('a newer schema is refused; a migration that fails applies nothing', async () => {
    const raw = rawSql(url);
    try {
      await raw.exec('CREATE TABLE audit_events (x int)');
      const failed = await server(['list-keys', '--db', url]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/relation "audit_events" already exists\n$/);
      expect(
        await raw.all("SELECT tablename FROM pg_tables WHERE tablename IN ('users', 'api_keys')"),
      ).toEqual([]);
      await raw.exec('DROP TABLE audit_events');
      expect(await server(['list-keys', '--db', url])).toEqual({ code: 0, stdout: '', stderr: 'No keys.\n' });
      await raw.exec('INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)');
      expectOneLine(
        await server(['list-keys', '--db', url]),
        1,
        /has schema version 99, newer than this sekuire-server knows \(\d+\)\. Upgrade sekuire-server\.\n$/,
      );
    } finally {
      await raw.close();
    }
  });
});
