// `audit`: print the audit trail, oldest first, as aligned lines or a JSON array.
import type { Command } from 'commander';
import type { AuditEvent } from '../store/queries/audit.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';

export interface AuditOptions {
  readonly db?: string;
  readonly key?: string;
  readonly json?: boolean;
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
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      '\nColumns: time, event, key id, device fingerprint (short), device name, client IP, acting user, detail.',
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
  ].join('  ');
}

export async function runAudit(ctx: CommandContext, options: AuditOptions): Promise<void> {
  const target = databaseTarget(options.db, ctx.env);
  const events = await withStore(target, { mustExist: true }, (store) => store.read.audit.list(options.key));
  if (options.json) {
    await ctx.stdout.write(`${JSON.stringify(events)}\n`);
    return;
  }
  if (events.length === 0) await ctx.stderr.write('No audit events.\n');
  await ctx.stdout.write(events.map((event) => `${auditLine(event)}\n`).join(''));
}
