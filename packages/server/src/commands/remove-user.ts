// `remove-user`: someone leaves. Every session of theirs ends, and the keys they created are
// revoked (the default) or taken over by someone who stays.
import type { Command } from 'commander';
import { removeUser } from '../domain/members.js';
import type { CommandContext } from './context.js';
import { databaseTarget, reportUnconfirmed, withStore } from './database.js';
import { CommandError, UsageError } from './errors.js';
import { parseEmail } from './flags.js';

export interface RemoveUserOptions {
  readonly db?: string;
  readonly email: string;
  readonly keys?: string;
  readonly json?: boolean;
}

/** --keys revoke | transfer-to=EMAIL */
function keysChoice(text: string | undefined): { transferTo?: string } {
  if (text === undefined || text === 'revoke') return {};
  const match = /^transfer-to=(.+)$/.exec(text);
  if (match === null) {
    throw new UsageError(`--keys must be revoke or transfer-to=EMAIL, not "${text}".`);
  }
  return { transferTo: parseEmail(match[1] as string) };
}

export function defineRemoveUser(program: Command, ctx: CommandContext): void {
  program
    .command('remove-user')
    .description('Remove a person: end their sessions and revoke (or transfer) the keys they created')
    .option(
      '--db <db>',
      'an existing SQLite file or a postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .requiredOption('--email <email>', 'who leaves')
    .option('--keys <what>', 'revoke (default) or transfer-to=EMAIL: what happens to their keys', 'revoke')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nThe person leaves every organization and can no longer sign in; their sessions end at once,\n' +
        'on every running server. An organization is never left without an owner: make someone else\n' +
        'owner first. To let them back in, run create-user again.',
    )
    .action((options: RemoveUserOptions) => runRemoveUser(ctx, options));
}

export async function runRemoveUser(ctx: CommandContext, options: RemoveUserOptions): Promise<void> {
  const email = parseEmail(options.email);
  const choice = keysChoice(options.keys);
  const target = databaseTarget(options.db, ctx.env);
  const outcome = await withStore(target, { mustExist: true }, (store) =>
    removeUser(store, { email, ...choice, now: ctx.now() }, reportUnconfirmed(ctx)),
  );
  if (!outcome.ok) {
    switch (outcome.reason) {
      case 'not_found':
        throw new CommandError(`No user ${email} in ${target}.`);
      case 'no_such_receiver':
        throw new CommandError(
          `No user ${choice.transferTo} to transfer the keys to: create them first (create-user).`,
        );
      case 'same_person':
        throw new CommandError('The keys cannot be transferred to the person who leaves.');
      case 'not_a_member':
        throw new CommandError(
          `${choice.transferTo} is not in the organization "${outcome.organization.name}", where some of the keys are: add them with create-user --org, or revoke the keys.`,
        );
      case 'last_owner':
        throw new CommandError(
          `${email} is the only owner of "${outcome.organization.name}": make someone else its owner first (create-user --org "${outcome.organization.name}" --role owner).`,
        );
    }
  }
  if (options.json) {
    const json = {
      user: outcome.user,
      keys_revoked: outcome.keysRevoked,
      keys_transferred: outcome.keysTransferred,
      ...(choice.transferTo !== undefined && { transferred_to: choice.transferTo }),
      sessions_ended: outcome.sessionsEnded,
    };
    await ctx.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  const keys =
    choice.transferTo === undefined
      ? `${outcome.keysRevoked} key${outcome.keysRevoked === 1 ? '' : 's'} revoked`
      : `${outcome.keysTransferred} key${outcome.keysTransferred === 1 ? '' : 's'} transferred to ${choice.transferTo}`;
  await ctx.stdout.write(
    `Removed ${outcome.user.email}: ${outcome.sessionsEnded} session${outcome.sessionsEnded === 1 ? '' : 's'} ended, ${keys}\n`,
  );
}
