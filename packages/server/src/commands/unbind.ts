// `unbind`: free a key from its device, so that its next login from any device binds it.
import type { Command } from 'commander';
import { type UnbindKeyOutcome, unbindKey } from '../domain/devices.js';
import type { CommandContext } from './context.js';
import { databaseTarget, reportUnconfirmed, withStore } from './database.js';
import { CommandError } from './errors.js';

export interface UnbindOptions {
  readonly db?: string;
  readonly key: string;
  readonly json?: boolean;
}

export function defineUnbind(program: Command, ctx: CommandContext): void {
  program
    .command('unbind')
    .description("Free a key from its device: the key's next login, from any device, binds it")
    .option(
      '--db <db>',
      'an existing SQLite file or a postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .requiredOption('--key <key-id>', "the key's id (key_..., see list-keys)")
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nThe device bound now is refused from its next request on (once every running server has confirmed).\n' +
        'The key itself stays valid: to stop it everywhere, use revoke-key instead.',
    )
    .action((options: UnbindOptions) => runUnbind(ctx, options));
}

export async function runUnbind(ctx: CommandContext, options: UnbindOptions): Promise<void> {
  const target = databaseTarget(options.db, ctx.env);
  const outcome = await withStore(
    target,
    { mustExist: true },
    (store): Promise<UnbindKeyOutcome> => unbindKey(store, options.key, ctx.now(), reportUnconfirmed(ctx)),
  );
  if (outcome.status === 'not_found') {
    throw new CommandError(
      `No key ${options.key} in ${target}. Run 'sekuire-server list-keys' to list key ids.`,
    );
  }
  if (options.json) {
    const json = {
      key_id: options.key,
      unbound: outcome.status === 'unbound',
      device: outcome.status === 'unbound' ? { id: outcome.device.id, name: outcome.device.name } : null,
    };
    await ctx.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  await ctx.stdout.write(
    outcome.status === 'unbound'
      ? `Unbound key ${options.key} from ${outcome.device.name} (${outcome.device.os}); its next login binds it\n`
      : `Key ${options.key} is not bound to any device\n`,
  );
}
