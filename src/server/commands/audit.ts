// `audit`: print the audit trail, oldest first, as aligned lines or a JSON array.
import type { Command } from 'commander';
import type { AuditEvent } from '../audit.js';
import { openDatabase } from '../db.js';
import { createStore } from '../store.js';
import type { CommandContext } from './context.js';
import { databasePath } from './flags.js';

export interface AuditOptions {
  readonly db?: string;
  readonly key?: string;
  readonly json?: boolean;
}

export function defineAudit(program: Command, ctx: CommandContext): void {
  program
    .command('audit')
    .description('Print the audit trail: creations, bindings, moves, unbindings, revocations, rate limits')
    .option('--db <file>', 'an existing SQLite database (env SEKUIRE_SERVER_DB; default ./sekuire.db)')
    .option('--key <key-id>', 'only the events of this key')
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      '\nColumns: time, event, key id, device fingerprint (short), device name, client IP, detail.',
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
    event.detail === null ? '-' : JSON.stringify(event.detail),
  ].join('  ');
}

export function runAudit(ctx: CommandContext, options: AuditOptions): void {
  const db = openDatabase(databasePath(options.db, ctx.env), { mustExist: true });
  let events: AuditEvent[];
  try {
    events = createStore(db).audit.list(options.key);
  } finally {
    db.close();
  }
  if (options.json) {
    ctx.stdout.write(`${JSON.stringify(events)}\n`);
    return;
  }
  if (events.length === 0) ctx.stderr.write('No audit events.\n');
  for (const event of events) ctx.stdout.write(`${auditLine(event)}\n`);
}
