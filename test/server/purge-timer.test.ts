// The purge's schedule under `start`: first shortly after start, then hourly; stop waits for a purge under way.
import { afterEach, expect, it, vi } from 'vitest';
import {
  FIRST_PURGE_AFTER_MS,
  PURGE_EVERY_MS,
  startPurgeTimer,
} from '../../packages/server/src/commands/purge-timer.js';
import type { PurgeOutcome } from '../../packages/server/src/domain/retention.js';
import { runServer } from '../helpers/server-commands.js';
import { type Harness, harness, T0 } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.close();
  h = undefined;
});

const DAY = 24 * 60 * 60_000;

it('purges after FIRST_PURGE_AFTER_MS, then every PURGE_EVERY_MS, and not after stop', async () => {
  h = await harness();
  const old = new Date(T0.getTime() - 2 * DAY).toISOString();
  await h.sql.run("INSERT INTO sign_in_counts (key, count, window_ends_at) VALUES ('ip:a', 1, ?)", [old]);
  // Only the schedule's timers are faked: the purge's yields between batches run as they would.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const reports: PurgeOutcome[] = [];
  let reported: () => void = () => {};
  const timer = startPurgeTimer({
    store: h.store,
    now: h.now,
    auditRetentionDays: 0,
    report: (outcome) => {
      reports.push(outcome);
      reported();
    },
    reportError: (error) => {
      throw error;
    },
  });
  const next = () => new Promise<void>((resolve) => (reported = resolve));

  vi.advanceTimersByTime(FIRST_PURGE_AFTER_MS - 1);
  expect(reports).toHaveLength(0);
  let done = next();
  vi.advanceTimersByTime(1);
  await done;
  expect(reports).toEqual([
    {
      deleted: {
        session_tokens: 0,
        ended_session_tokens: 0,
        sessions: 0,
        cli_grants: 0,
        device_moves: 0,
        proof_nonces: 0,
        sign_in_counts: 1,
      },
      batches: 7,
      ended: 'done',
    },
  ]);

  await h.sql.run("INSERT INTO sign_in_counts (key, count, window_ends_at) VALUES ('ip:b', 1, ?)", [old]);
  vi.advanceTimersByTime(PURGE_EVERY_MS - 1);
  expect(reports).toHaveLength(1);
  done = next();
  vi.advanceTimersByTime(1);
  await done;
  expect(reports[1]?.deleted.sign_in_counts).toBe(1);

  await timer.stop();
  vi.advanceTimersByTime(2 * PURGE_EVERY_MS);
  expect(reports).toHaveLength(2);
});

it('start refuses a wrong --audit-retention-days before serving (exit 2, one line)', async () => {
  for (const value of ['-1', 'a year', '36501']) {
    expect(
      await runServer(['start', '--db', '/nonexistent/x.db', '--port', '0', '--audit-retention-days', value]),
    ).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: --audit-retention-days must be a whole number of days from 0 to 36500 (0 keeps everything), not "${value}".\n`,
    });
  }
});
