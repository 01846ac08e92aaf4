// `create-key`: mint a key for a user (creating user, organization and workspace as needed).
import { closeSync, constants, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { type CreatedKey, createApiKey, revokeApiKey } from '../domain/keys.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';
import { CommandError, UsageError } from './errors.js';
import {
  collect,
  parseEmail,
  parseEnvironment,
  parseExpiryDays,
  parseKeyType,
  parseLabel,
  parseOrganization,
  parsePermissions,
} from './flags.js';
import { loadSecret } from './secret.js';
import { reportSecret } from './secret-notes.js';

export interface CreateKeyOptions {
  readonly db?: string;
  readonly email: string;
  readonly name?: string;
  readonly keyName?: string;
  readonly org?: string;
  readonly workspace?: string;
  readonly env: string;
  readonly type: string;
  readonly expiresIn?: string;
  readonly permission?: string[];
  readonly out?: string;
  readonly json?: boolean;
  readonly secretFile?: string;
}

export function defineCreateKey(program: Command, ctx: CommandContext): void {
  program
    .command('create-key')
    .description('Create an API key and print it once')
    .option(
      '--db <db>',
      'SQLite file (created if missing) or postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .requiredOption('--email <email>', "the key owner's email; the user is created if new")
    .option('--name <name>', "the user's display name")
    .option('--key-name <name>', 'a name for the key (default "CLI key")')
    .option('--org <name>', "organization, created if new (default: the user's own)")
    .option('--workspace <name>', 'workspace in the organization, created if new (default "Default")')
    .option('--env <env>', 'live or test', 'test')
    .option('--type <type>', 'client (binds to a device at login) or server (never binds)', 'client')
    .option(
      '--expires-in <days>',
      'days until the key expires, 0-3650 (0: already expired, for tests; default never)',
    )
    .option(
      '--permission <permission>',
      'a permission on the key, repeatable: verify (a server key may call /api/v1/verify) or your own, e.g. deploy:write (default none)',
      collect,
    )
    .option('--out <file>', 'write the key to this new file (mode 0600) instead of standard output')
    .option('--json', 'print one JSON object (with the key, unless --out) instead of the bare key')
    .option('--secret-file <file>', 'server secret, created 0600 if missing (default <db>.secret)')
    .addHelpText(
      'after',
      '\nThe key goes to stdout alone (or to --out FILE); a description goes to stderr.\n' +
        'If the key cannot be written, it is revoked at once: a key nobody has must not stay valid.',
    )
    .action((options: CreateKeyOptions) => runCreateKey(ctx, options));
}

export function createdKeyJson(created: CreatedKey, keyFile?: string) {
  return {
    ...(keyFile === undefined ? { key: created.apiKey.value } : { key_file: keyFile }),
    id: created.key.id,
    name: created.key.name,
    masked: created.key.masked,
    environment: created.key.environment,
    type: created.key.type,
    permissions: created.key.permissions,
    created_at: created.key.created_at,
    expires_at: created.key.expires_at,
    user: { id: created.user.id, email: created.user.email, name: created.user.name },
    organization: { id: created.organization.id, name: created.organization.name },
    workspace: { id: created.workspace.id, name: created.workspace.name },
  };
}

/** A new file only its owner can read, made before the key exists so that a bad path costs nothing. */
function createKeyFile(path: string): number {
  try {
    return openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
      0o600,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new UsageError(
        `--out ${path} already exists; give a new file name (keys are never overwritten).`,
      );
    if (code === 'ENOENT') throw new UsageError(`Cannot create --out ${path}: its directory does not exist.`);
    throw new UsageError(`Cannot create --out ${path}: ${code ?? (error as Error).message}.`);
  }
}

function writeKeyFile(fd: number, text: string): void {
  try {
    const buffer = Buffer.from(text);
    let written = 0;
    while (written < buffer.length) written += writeSync(fd, buffer, written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function runCreateKey(ctx: CommandContext, options: CreateKeyOptions): Promise<void> {
  const input = {
    email: parseEmail(options.email),
    environment: parseEnvironment(options.env),
    type: parseKeyType(options.type),
    ...(options.name !== undefined && { userName: parseLabel(options.name, '--name') }),
    ...(options.keyName !== undefined && { keyName: parseLabel(options.keyName, '--key-name') }),
    ...(options.org !== undefined && { organization: parseOrganization(options.org) }),
    ...(options.workspace !== undefined && { workspace: parseLabel(options.workspace, '--workspace') }),
    ...(options.expiresIn !== undefined && { expiresInDays: parseExpiryDays(options.expiresIn) }),
    ...(options.permission !== undefined && { permissions: parsePermissions(options.permission) }),
  };
  const target = databaseTarget(options.db, ctx.env);
  // Before anything else is made: a bad --out must leave no secret, database or key behind.
  const keyFile = options.out === undefined ? undefined : createKeyFile(options.out);
  const secret = loadSecret(ctx.env.SEKUIRE_SERVER_SECRET, options.secretFile, target);
  await reportSecret(ctx, secret);
  await withStore(target, {}, async (store) => {
    let created: CreatedKey;
    try {
      created = await createApiKey(store, secret.secret, input, ctx.now());
    } catch (error) {
      if (keyFile !== undefined && options.out !== undefined) {
        closeSync(keyFile);
        unlinkSync(options.out);
      }
      throw error;
    }
    try {
      if (keyFile !== undefined) writeKeyFile(keyFile, `${created.apiKey.value}\n`);
      if (options.json) await ctx.stdout.write(`${JSON.stringify(createdKeyJson(created, options.out))}\n`);
      else if (keyFile === undefined) await ctx.stdout.write(`${created.apiKey.value}\n`);
    } catch (error) {
      // Nobody holds the key for sure: it must not stay valid.
      await revokeApiKey(store, created.key.id, ctx.now());
      if (options.out !== undefined) unlinkSync(options.out);
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new CommandError(
        `The key ${created.key.id} (${created.key.masked}) was created but could not be written (${code}), so it has been revoked. Create another one, e.g. with --out FILE.`,
      );
    }
    const expiry = created.key.expires_at === null ? '' : `, expires ${created.key.expires_at}`;
    const permissions =
      created.key.permissions.length === 0 ? '' : ` with permissions ${created.key.permissions.join(', ')}`;
    const where = options.out === undefined ? '' : ` It was written to ${options.out} (mode 0600).`;
    await ctx.stderr.write(
      `Created ${created.key.type} key ${created.key.id} (${created.key.masked}) for ${created.user.email} in ` +
        `${created.organization.name} / ${created.workspace.name}${expiry}${permissions}. It is shown only this once.${where}\n`,
    );
  });
}
