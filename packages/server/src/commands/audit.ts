// `audit`: print the audit trail, oldest first, as aligned lines, a JSON array, JSON lines or CSV.

import type { Command } from 'commander';
import { escapeInvisible, jsonEscapeInvisible } from '../domain/text.js';
import type { AuditEvent, AuditFilter } from '../store/queries/audit.js';
import { AUDIT_FORMATS, type AuditFormat, CSV_HEADER, csvRecord, jsonLine } from './audit-formats.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';
import { UsageError } from './errors.js';
import { parseTime } from './flags.js';

/** Events read and written per round: an export of years of events never holds them all. */
const PAGE = 1_000;

export interface AuditOptions {
  readonly db?: string;
  readonly key?: string;
  readonly json?: boolean;
  readonly since?: string;
  readonly until?: string;
  readonly format?: string;
}

export function defineAudit(program: Command, ctx: CommandContext): void {
  program
    .command('audit')
    .description('Print the audit trail: creations, bindings, moves, unbindings, revocations, rate limits')
    .option(
      '--db <db>',
      'an existing SQLite file or a postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .option('--key <key-id>', 'only the events of this key')
    .option(
      '--since <time>',
      'only events at or after this ISO 8601 date or time (2030-01-31, 2030-01-31T12:00Z)',
    )
    .option('--until <time>', 'only events before this ISO 8601 date or time')
    .option('--json', 'print a JSON array')
    .option(
      '--format <format>',
      'export: jsonl (one JSON object per line) or csv (RFC 4180, with a header row)',
    )
    .addHelpText(
      'after',
      '\nColumns: time, event, key id, device fingerprint (short), device name, client IP, acting user, detail.\n' +
        'A date means midnight UTC; a time needs its offset (Z or +HH:MM).',
    )
    .action((options: AuditOptions) => runAudit(ctx, options));
}

/** One event per line; fields that do not apply are "-". */
export function auditLine(event: AuditEvent): string {
  const fingerprint = event.fingerprint === null ? '-' : `${event.fingerprint.slice(0, 8)}...`;
  return [
    event.at,
    event.event.padEnd(12),
    event.key_id ?? '-',
    fingerprint,
    event.device_name ?? '-',
    event.client_ip ?? '-',
    event.actor_user_id ?? '-',
    event.detail === null ? '-' : JSON.stringify(event.detail),
  ]
    .map(escapeInvisible)
    .join('  ');
}

type Rendering = 'lines' | 'json' | AuditFormat;

function rendering(options: AuditOptions): Rendering {
  if (options.format === undefined) return options.json === true ? 'json' : 'lines';
  const format = AUDIT_FORMATS.find((candidate) => candidate === options.format);
  if (format === undefined) throw new UsageError(`--format must be jsonl or csv, not "${options.format}".`);
  if (options.json === true) throw new UsageError('--json and --format cannot be used together.');
  return format;
}

function filterOf(options: AuditOptions): AuditFilter {
  const since = options.since === undefined ? undefined : parseTime(options.since, '--since');
  const until = options.until === undefined ? undefined : parseTime(options.until, '--until');
  if (since !== undefined && until !== undefined && since >= until)
    throw new UsageError(`--since (${options.since}) must be before --until (${options.until}).`);
  return {
    ...(options.key !== undefined && { keyId: options.key }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
  };
}

const RENDER: Readonly<Record<Rendering, (event: AuditEvent, first: boolean) => string>> = {
  lines: (event) => `${auditLine(event)}\n`,
  json: (event, first) => `${first ? '' : ','}${jsonEscapeInvisible(JSON.stringify(event))}`,
  jsonl: jsonLine,
  csv: csvRecord,
};

export async function runAudit(ctx: CommandContext, options: AuditOptions): Promise<void> {
  const as = rendering(options);
  const filter = filterOf(options);
  const target = databaseTarget(options.db, ctx.env);
  const written = await withStore(target, { mustExist: true }, async (store) => {
    if (as === 'json') await ctx.stdout.write('[');
    if (as === 'csv') await ctx.stdout.write(CSV_HEADER);
    let after = 0;
    let count = 0;
    for (;;) {
      const events = await store.read.audit.page(filter, after, PAGE);
      if (events.length === 0) break;
      await ctx.stdout.write(events.map((event, i) => RENDER[as](event, count + i === 0)).join(''));
      count += events.length;
      after = events[events.length - 1]?.id ?? after;
    }
    if (as === 'json') await ctx.stdout.write(']\n');
    return count;
  });
  if (written === 0 && as === 'lines') await ctx.stderr.write('No audit events.\n');
}
