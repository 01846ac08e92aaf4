// `revoke-key`: mark a key revoked; it fails with key_revoked from the next request on.
import type { Command } from 'commander';
import { openDatabase } from '../db.js';
import { CommandError } from '../errors.js';
import { type RevokeOutcome, revokeApiKey } from '../provision.js';
import { createStore } from '../store.js';
import type { CommandContext } from './context.js';
import { databasePath } from './flags.js';

export interface RevokeKeyOptions {
  readonly db?: string;
  readonly id: string;
  readonly json?: boolean;
}

export function defineRevokeKey(program: Command, ctx: CommandContext): void {
  program
    .command('revoke-key')
    .description('Revoke an API key by its id (key_...)')
    .option('--db <file>', 'an existing SQLite database (env SEKUIRE_SERVER_DB; default ./sekuire.db)')
    .requiredOption('--id <key-id>', 'the key id printed by create-key (not the key itself)')
    .option('--json', 'print one JSON object')
    .action((options: RevokeKeyOptions) => runRevokeKey(ctx, options));
}

export function runRevokeKey(ctx: CommandContext, options: RevokeKeyOptions): void {
  const dbPath = databasePath(options.db, ctx.env);
  const db = openDatabase(dbPath, { mustExist: true });
  let outcome: RevokeOutcome;
  try {
    outcome = revokeApiKey(createStore(db), options.id, ctx.now());
  } finally {
    db.close();
  }
  if (outcome.status === 'not_found') {
    throw new CommandError(
      `No key with id ${options.id} in ${dbPath}. Run 'sekuire-server audit' to list key ids.`,
    );
  }
  const { key } = outcome;
  if (options.json) {
    const json = { id: key.id, masked: key.masked, status: outcome.status, revoked_at: key.revoked_at };
    ctx.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  ctx.stdout.write(
    outcome.status === 'revoked'
      ? `Revoked key ${key.id} (${key.masked})\n`
      : `Key ${key.id} (${key.masked}) was already revoked at ${key.revoked_at}\n`,
  );
}
