// `revoke-key`: mark a key revoked; every running server refuses it from the next request on.

import { maskKey } from '@sekuire/shared/key';
import type { Command } from 'commander';
import { keyIdOf, type RevokeOutcome, revokeApiKey } from '../domain/keys.js';
import type { CommandContext } from './context.js';
import { databaseTarget, reportUnconfirmed, withStore } from './database.js';
import { CommandError } from './errors.js';
import { allSecrets, loadSecret } from './secret.js';
import { reportSecret } from './secret-notes.js';

export interface RevokeKeyOptions {
  readonly db?: string;
  readonly id: string;
  readonly json?: boolean;
  readonly secretFile?: string;
}

export function defineRevokeKey(program: Command, ctx: CommandContext): void {
  program
    .command('revoke-key')
    .description('Revoke an API key; every running server refuses it from its next request on')
    .option(
      '--db <db>',
      'an existing SQLite file or a postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .requiredOption(
      '--id <key-id>',
      "the key's id (key_..., see list-keys); a whole key also works and is never printed",
    )
    .option('--secret-file <file>', 'server secret, to find a key given whole (default <db>.secret)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nIt returns once every running server has confirmed it forgot the key (or stopped answering).',
    )
    .action((options: RevokeKeyOptions) => runRevokeKey(ctx, options));
}

/** A whole key given to --id: found by its digest, shown only masked. */
function looksLikeKey(text: string): boolean {
  return /^\s*sk_/.test(text);
}

export async function runRevokeKey(ctx: CommandContext, options: RevokeKeyOptions): Promise<void> {
  const target = databaseTarget(options.db, ctx.env);
  const givenKey = looksLikeKey(options.id);
  const shown = givenKey ? maskKey(options.id.trim()) : options.id;
  const outcome = await withStore(target, { mustExist: true }, async (store): Promise<RevokeOutcome> => {
    let id = options.id;
    if (givenKey) {
      const secret = loadSecret(ctx.env.SEKUIRE_SERVER_SECRET, options.secretFile, target);
      await reportSecret(ctx, secret);
      const found = await keyIdOf(store, allSecrets(secret), options.id);
      if (found === undefined) return { status: 'not_found' };
      id = found;
    }
    return revokeApiKey(store, id, ctx.now(), reportUnconfirmed(ctx));
  });
  if (outcome.status === 'not_found') {
    throw new CommandError(`No key ${shown} in ${target}. Run 'sekuire-server list-keys' to list key ids.`);
  }
  const { key } = outcome;
  if (options.json) {
    const json = { id: key.id, masked: key.masked, status: outcome.status, revoked_at: key.revoked_at };
    await ctx.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  await ctx.stdout.write(
    outcome.status === 'revoked'
      ? `Revoked key ${key.id} (${key.masked})\n`
      : `Key ${key.id} (${key.masked}) was already revoked at ${key.revoked_at}\n`,
  );
}
