// `list-keys`: every key (or one user's) with its id, owner, masked form and status; never a key.

import type { Command } from 'commander';
import { type ListedKey, listKeys } from '../domain/keys.js';
import { escapeInvisible, jsonEscapeInvisible } from '../domain/text.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';
import { parseEmail } from './flags.js';

export interface ListKeysOptions {
  readonly db?: string;
  readonly email?: string;
  readonly json?: boolean;
}

export function defineListKeys(program: Command, ctx: CommandContext): void {
  program
    .command('list-keys')
    .description('List API keys: id, name, masked key, environment, type, status, owner, organization')
    .option(
      '--db <db>',
      'an existing SQLite file or a postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .option('--email <email>', "only this user's keys")
    .option('--json', 'print a JSON array')
    .action((options: ListKeysOptions) => runListKeys(ctx, options));
}

function keyJson(key: ListedKey) {
  return {
    id: key.id,
    name: key.name,
    masked: key.masked,
    environment: key.environment,
    type: key.type,
    status: key.status,
    created_at: key.created_at,
    expires_at: key.expires_at,
    revoked_at: key.revoked_at,
    last_used_at: key.last_used_at,
    user_email: key.user_email,
    organization: key.org_name,
    workspace: key.workspace_name,
  };
}

/** Columns padded to their widest cell, the name last (it may hold spaces). */
function table(keys: readonly ListedKey[]): string {
  const rows = [
    ['ID', 'MASKED', 'ENV', 'TYPE', 'STATUS', 'OWNER', 'ORGANIZATION', 'NAME'],
    ...keys.map((key) =>
      [key.id, key.masked, key.environment, key.type, key.status, key.user_email, key.org_name, key.name].map(
        escapeInvisible,
      ),
    ),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  '),
    )
    .map((line) => `${line}\n`)
    .join('');
}

export async function runListKeys(ctx: CommandContext, options: ListKeysOptions): Promise<void> {
  const target = databaseTarget(options.db, ctx.env);
  const email = options.email === undefined ? undefined : parseEmail(options.email);
  const keys = await withStore(target, { mustExist: true }, (store) => listKeys(store, ctx.now(), email));
  if (options.json) {
    await ctx.stdout.write(`${jsonEscapeInvisible(JSON.stringify(keys.map(keyJson)))}\n`);
    return;
  }
  if (keys.length === 0) {
    await ctx.stderr.write(email === undefined ? 'No keys.\n' : `No keys for ${email}.\n`);
    return;
  }
  await ctx.stdout.write(table(keys));
}
