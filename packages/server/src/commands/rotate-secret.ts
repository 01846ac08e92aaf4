// `rotate-secret`: what still depends on each server secret, and whether an older one can go.
import type { Command } from 'commander';
import { type SecretDependents, secretDependents } from '../domain/secret-rotation.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';
import { allSecrets, loadSecret } from './secret.js';
import { reportSecret } from './secret-notes.js';

export interface RotateSecretOptions {
  readonly db?: string;
  readonly secretFile?: string;
  readonly json?: boolean;
}

export function defineRotateSecret(program: Command, ctx: CommandContext): void {
  program
    .command('rotate-secret')
    .description(
      'Report how many keys, sessions and tokens still depend on each server secret, and when an older one can be dropped',
    )
    .option(
      '--db <db>',
      'an existing SQLite file or a postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .option('--secret-file <file>', 'the server secrets, newest first, comma-separated (default <db>.secret)')
    .option('--json', 'print a JSON array, one object per secret')
    .addHelpText(
      'after',
      '\nThe secrets are those the server is given (SEKUIRE_SERVER_SECRET or the secret file), newest first.\n' +
        'Rotating: add the new secret last on every instance, then move it first on every instance, then\n' +
        'drop the old one once this command says nothing depends on it (docs/SERVER.md, "Rotating the secret").\n',
    )
    .action((options: RotateSecretOptions) => runRotateSecret(ctx, options));
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function what(dependents: SecretDependents): string {
  return `${count(dependents.keys.length, 'key')}, ${count(dependents.sessions, 'session')} (${count(dependents.tokens, 'token')})`;
}

function lines(dependents: SecretDependents): string[] {
  const nothing = dependents.keys.length === 0 && dependents.tokens === 0;
  const keyLines = dependents.keys.map((key) => `  ${key.id}  ${key.masked}  ${key.name}`);
  switch (dependents.role) {
    case 'newest':
      return [`${dependents.id} newest: ${what(dependents)}`];
    case 'older':
      if (nothing) return [`${dependents.id} older: nothing depends on it any more; it can be dropped.`];
      return [
        `${dependents.id} older: ${what(dependents)} still depend on it; dropping it now would revoke ${count(dependents.keys.length, 'key')} and sign out ${count(dependents.sessions, 'session')}.`,
        ...keyLines,
      ];
    case 'unlisted':
      return [`${dependents.id} not listed: ${what(dependents)} made under it no longer work.`, ...keyLines];
  }
}

export async function runRotateSecret(ctx: CommandContext, options: RotateSecretOptions): Promise<void> {
  const target = databaseTarget(options.db, ctx.env);
  const report = await withStore(target, { mustExist: true }, async (store) => {
    const loaded = loadSecret(ctx.env.SEKUIRE_SERVER_SECRET, options.secretFile, target);
    await reportSecret(ctx, loaded);
    return secretDependents(store, allSecrets(loaded), ctx.now());
  });
  if (options.json) {
    await ctx.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  await ctx.stdout.write(
    report
      .flatMap(lines)
      .map((line) => `${line}\n`)
      .join(''),
  );
}
