// The purge in a served process: one summary line on the request log after start, nothing left that expired.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { FIRST_PURGE_AFTER_MS } from '../../packages/server/src/commands/purge-timer.js';
import { SERVER_PATH, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

/** Resolves with the first line of the log that says `msg`, however long the schedule takes. */
async function logLine(of: TestServer, msg: string): Promise<Record<string, unknown>> {
  for (;;) {
    const line = of
      .stderr()
      .split('\n')
      .find((text) => text.includes(`"msg":"${msg}"`));
    if (line !== undefined) return JSON.parse(line);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it(
  'start purges after listening and logs one summary line; --audit-retention-days 0 keeps the trail',
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'sekuire-retention-'));
    const db = join(dir, 'sekuire.db');
    execFileSync(process.execPath, [SERVER_PATH, 'create-key', '--db', db, '--email', 'a@example.com'], {
      stdio: 'ignore',
    });
    const raw = new Database(db);
    const expired = '2020-01-01T00:00:00.000Z';
    for (const id of ['grant_1', 'grant_2']) {
      raw
        .prepare(
          `INSERT INTO cli_grants (id, flow, secret_digest, device_name, device_os, created_at, expires_at)
           VALUES (?, 'device', randomblob(32), 'host', 'linux', ?, ?)`,
        )
        .run(id, expired, expired);
    }
    raw.prepare("INSERT INTO audit_events (at, event) VALUES (?, 'create')").run(expired);
    const audited = (raw.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
    raw.close();

    server = await startServer({ database: db, args: ['--audit-retention-days', '0'] });
    const line = await logLine(server, 'purge');
    expect(line).toEqual({
      level: 'info',
      time: expect.any(String),
      deleted: {
        session_tokens: 0,
        ended_session_tokens: 0,
        sessions: 0,
        cli_grants: 2,
        device_moves: 0,
        proof_nonces: 0,
        sign_in_counts: 0,
      },
      batches: 7,
      ended: 'done',
      duration_ms: expect.any(Number),
      msg: 'purge',
    });
    const check = new Database(db, { readonly: true });
    expect(check.prepare('SELECT count(*) AS n FROM cli_grants').get()).toEqual({ n: 0 });
    expect(check.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual({ n: audited });
    check.close();
  },
  FIRST_PURGE_AFTER_MS + 20_000,
);
