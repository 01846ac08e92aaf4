// Retention: the purge deletes exactly what has expired or been used, keeps what is still needed, in batches.
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { purgeExpired } from '../../packages/server/src/domain/retention.js';
import { forEachEngine } from '../helpers/engines.js';
import { type Harness, harness, T0 } from './harness.js';

const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
/** A time relative to the harness clock (T0). */
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function grant(sql: Harness['sql'], id: string, expiresAt: string, state: Record<string, string> = {}) {
  await sql.run(
    `INSERT INTO cli_grants (id, flow, secret_digest, device_name, device_os, created_at, expires_at, approved_at, exchanged_at)
     VALUES (?, 'device', ?, 'host', 'linux', ?, ?, ?, ?)`,
    [id, randomBytes(32), expiresAt, expiresAt, state.approved_at ?? null, state.exchanged_at ?? null],
  );
}

async function move(sql: Harness['sql'], id: string, keyId: string, expiresAt: string, approvedAt?: string) {
  await sql.run(
    `INSERT INTO device_moves (id, key_id, user_code, fingerprint, device_name, device_os, os_version, arch,
       public_key, key_thumbprint, created_at, expires_at, interval_seconds, approved_at)
     VALUES (?, ?, ?, ?, 'host', 'linux', '12', 'x64', '{}', 'thumb', ?, ?, 5, ?)`,
    [id, keyId, `CODE-${id}`, 'a'.repeat(64), expiresAt, expiresAt, approvedAt ?? null],
  );
}

async function session(
  sql: Harness['sql'],
  id: string,
  userId: string,
  expiresAt: string,
  endedAt: string | null,
  tokens: { expires_at: string; used_at?: string }[],
) {
  await sql.run(
    `INSERT INTO sessions (id, user_id, kind, created_at, expires_at, ended_at) VALUES (?, ?, 'api', ?, ?, ?)`,
    [id, userId, at(-40 * DAY), expiresAt, endedAt],
  );
  for (const token of tokens) {
    await sql.run(
      `INSERT INTO session_tokens (digest, session_id, kind, created_at, expires_at, used_at)
       VALUES (?, ?, 'refresh', ?, ?, ?)`,
      [randomBytes(32), id, at(-40 * DAY), token.expires_at, token.used_at ?? null],
    );
  }
}

async function ids(sql: Harness['sql'], table: string, column = 'id'): Promise<string[]> {
  const rows = await sql.all<{ id: string }>(`SELECT ${column} AS id FROM ${table} ORDER BY ${column}`);
  return rows.map((row) => String(row.id));
}

async function count(sql: Harness['sql'], table: string): Promise<number> {
  const row = await sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(row?.n);
}

forEachEngine((engine) => {
  it('deletes what expired or ended over a day ago, in batches, and keeps everything still needed', async () => {
    h = await harness({ engine });
    const { sql } = h;
    const created = await h.createKey();
    const userId = created.user.id;

    await grant(sql, 'grant_old_pending', at(-DAY - 1));
    await grant(sql, 'grant_old_used', at(-2 * DAY), {
      approved_at: at(-3 * DAY),
      exchanged_at: at(-3 * DAY),
    });
    await grant(sql, 'grant_old_approved', at(-5 * DAY), { approved_at: at(-6 * DAY) });
    await grant(sql, 'grant_expired_today', at(-HOUR));
    await grant(sql, 'grant_pending', at(10 * 60_000));

    await move(sql, 'move_old', created.key.id, at(-DAY - 1));
    await move(sql, 'move_old_approved', created.key.id, at(-3 * DAY), at(-3 * DAY - 60_000));
    await move(sql, 'move_expired_today', created.key.id, at(-HOUR));
    await move(sql, 'move_awaiting_approval', created.key.id, at(14 * 60_000));

    // Expired a week ago, with its (expired) tokens.
    await session(sql, 'sess_expired', userId, at(-7 * DAY), null, [
      { expires_at: at(-7 * DAY) },
      { expires_at: at(-8 * DAY), used_at: at(-8 * DAY) },
    ]);
    // Ended (signed out) two days ago, not expired: its live tokens go with it.
    await session(sql, 'sess_ended', userId, at(20 * DAY), at(-2 * DAY), [{ expires_at: at(20 * DAY) }]);
    // Ended an hour ago: kept a day.
    await session(sql, 'sess_ended_today', userId, at(20 * DAY), at(-HOUR), [{ expires_at: at(20 * DAY) }]);
    // Live: an expired access token goes; a used refresh token stays (a replay must end the session).
    await session(sql, 'sess_live', userId, at(20 * DAY), null, [
      { expires_at: at(-2 * DAY) },
      { expires_at: at(20 * DAY), used_at: at(-3 * DAY) },
      { expires_at: at(20 * DAY) },
    ]);

    await sql.run("INSERT INTO sign_in_counts (key, count, window_ends_at) VALUES ('ip:old', 3, ?)", [
      at(-1),
    ]);
    await sql.run("INSERT INTO sign_in_counts (key, count, window_ends_at) VALUES ('ip:now', 3, ?)", [
      at(60_000),
    ]);

    await sql.run("INSERT INTO audit_events (at, event) VALUES (?, 'create')", [at(-366 * DAY)]);
    await sql.run("INSERT INTO audit_events (at, event) VALUES (?, 'bind')", [at(-364 * DAY)]);

    await sql.run("INSERT INTO proof_nonces (id, expires_at) VALUES ('n.stale', ?)", [at(-301_000)]);
    // Expired four minutes ago: an instance whose clock is behind may still accept its proof.
    await sql.run("INSERT INTO proof_nonces (id, expires_at) VALUES ('n.skew', ?)", [at(-240_000)]);
    await sql.run("INSERT INTO proof_nonces (id, expires_at) VALUES ('n.fresh', ?)", [at(200_000)]);
    if (engine === 'postgres') {
      // A late acknowledgement nobody waits for any more, and an instance killed two days ago
      // (by the database's clock, which these rows are dated by).
      await sql.run(
        "INSERT INTO sekuire_cache_acks (epoch, instance_id, acked_at) VALUES (1, 'i.old', now() - interval '2 days'), (2, 'i.new', now() - interval '1 hour')",
      );
      await sql.run(
        "INSERT INTO sekuire_instances (id, pid, host, lease_until) VALUES ('i.dead', 1, 'h', now() - interval '2 days'), ('i.quiet', 2, 'h', now() - interval '1 hour')",
      );
    }
    const auditBefore = await count(sql, 'audit_events');

    const outcome = await purgeExpired(h.store, { now: h.now(), auditRetentionDays: 365, batchSize: 2 });

    expect(outcome.ended).toBe('done');
    expect(outcome.deleted).toEqual({
      session_tokens: 3,
      ended_session_tokens: 1,
      sessions: 2,
      cli_grants: 3,
      device_moves: 2,
      proof_nonces: 1,
      ...(engine === 'postgres' && { cache_acks: 1, instances: 1 }),
      sign_in_counts: 1,
      audit_events: 1,
    });
    // Batches of 2: a full batch is followed by another, which finds less than 2 (or none).
    // tokens 2+1, ended 1, sessions 2+0, grants 2+1, moves 2+0, nonces 1, counts 1, audit 1.
    // PostgreSQL: acks 1, instances 1 more.
    expect(outcome.batches).toBe(engine === 'postgres' ? 14 : 12);
    expect(await ids(sql, 'cli_grants')).toEqual(['grant_expired_today', 'grant_pending']);
    expect(await ids(sql, 'device_moves')).toEqual(['move_awaiting_approval', 'move_expired_today']);
    expect(await ids(sql, 'sessions')).toEqual(['sess_ended_today', 'sess_live']);
    const tokens = await sql.all<{ session_id: string; used_at: string | null }>(
      "SELECT session_id, used_at FROM session_tokens ORDER BY session_id, coalesce(used_at, '')",
    );
    expect(tokens).toEqual([
      { session_id: 'sess_ended_today', used_at: null },
      { session_id: 'sess_live', used_at: null },
      { session_id: 'sess_live', used_at: at(-3 * DAY) },
    ]);
    expect(await ids(sql, 'sign_in_counts', 'key')).toEqual(['ip:now']);
    expect(await sql.all('SELECT event, at FROM audit_events WHERE at < ? ORDER BY id', [at(0)])).toEqual([
      { event: 'bind', at: at(-364 * DAY) },
    ]);
    expect(await count(sql, 'audit_events')).toBe(auditBefore - 1);
    expect(await ids(sql, 'proof_nonces')).toEqual(['n.fresh', 'n.skew']);
    if (engine === 'postgres') {
      expect(await ids(sql, 'sekuire_cache_acks', 'instance_id')).toEqual(['i.new']);
      // The harness's own store watches: its live lease stays too.
      expect(await count(sql, 'sekuire_instances')).toBe(2);
      expect((await ids(sql, 'sekuire_instances')).filter((id) => id.startsWith('i.'))).toEqual(['i.quiet']);
    }

    // Nothing left to do: a second purge deletes nothing.
    const again = await purgeExpired(h.store, { now: h.now(), auditRetentionDays: 365 });
    expect(Object.values(again.deleted).reduce((sum, n) => sum + (n ?? 0), 0)).toBe(0);
  });

  it('keeps the whole audit trail with --audit-retention-days 0', async () => {
    h = await harness({ engine });
    await h.sql.run("INSERT INTO audit_events (at, event) VALUES (?, 'create')", [at(-3650 * DAY)]);
    const before = await count(h.sql, 'audit_events');
    const outcome = await purgeExpired(h.store, { now: h.now(), auditRetentionDays: 0 });
    expect(outcome.deleted.audit_events).toBeUndefined();
    expect(await count(h.sql, 'audit_events')).toBe(before);
    const oneDay = await purgeExpired(h.store, { now: h.now(), auditRetentionDays: 1 });
    expect(oneDay.deleted.audit_events).toBe(1);
  });

  it('ends between batches when the server is stopping', async () => {
    h = await harness({ engine });
    for (let i = 0; i < 5; i++) await grant(h.sql, `grant_${i}`, at(-2 * DAY));
    let asked = 0;
    const outcome = await purgeExpired(h.store, {
      now: h.now(),
      auditRetentionDays: 0,
      batchSize: 2,
      // Asked before each batch: one for each of the three session steps, then the grants' first two.
      stopping: () => ++asked > 5,
    });
    expect(outcome).toEqual({
      deleted: { session_tokens: 0, ended_session_tokens: 0, sessions: 0, cli_grants: 4 },
      batches: 5,
      ended: 'stopping',
    });
    expect(await count(h.sql, 'cli_grants')).toBe(1);
  });

  if (engine === 'postgres') {
    it('leaves the purge to the instance holding the lock', async () => {
      h = await harness({ engine });
      await grant(h.sql, 'grant_old', at(-2 * DAY));
      // The raw connection stands for another instance in the middle of its purge.
      await h.sql.run('SELECT pg_advisory_lock(7355609)');
      const outcome = await purgeExpired(h.store, { now: h.now(), auditRetentionDays: 0 });
      expect(outcome).toEqual({ deleted: { session_tokens: 0 }, batches: 0, ended: 'elsewhere' });
      expect(await count(h.sql, 'cli_grants')).toBe(1);
      await h.sql.run('SELECT pg_advisory_unlock(7355609)');
      const after = await purgeExpired(h.store, { now: h.now(), auditRetentionDays: 0 });
      expect(after.ended).toBe('done');
      expect(after.deleted.cli_grants).toBe(1);
      expect(await count(h.sql, 'cli_grants')).toBe(0);
    });
  }
});
