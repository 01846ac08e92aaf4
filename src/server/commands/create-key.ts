// `create-key`: mint a key for a user (creating user, organization and workspace as needed).
import type { Command } from 'commander';
import { openDatabase } from '../db.js';
import { type CreatedKey, createApiKey } from '../provision.js';
import { defaultSecretFile, loadSecret } from '../secret.js';
import { createStore } from '../store.js';
import type { CommandContext } from './context.js';
import { databasePath, parseEmail, parseEnvironment, parseExpiryDays, parseLabel } from './flags.js';
import { reportSecret } from './secret-notes.js';

export interface CreateKeyOptions {
  readonly db?: string;
  readonly email: string;
  readonly name?: string;
  readonly keyName?: string;
  readonly org?: string;
  readonly workspace?: string;
  readonly env: string;
  readonly expiresIn?: string;
  readonly json?: boolean;
  readonly secretFile?: string;
}

export function defineCreateKey(program: Command, ctx: CommandContext): void {
  program
    .command('create-key')
    .description('Create an API key and print it once')
    .option(
      '--db <file>',
      'SQLite database, created if missing (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .requiredOption('--email <email>', "the key owner's email; the user is created if new")
    .option('--name <name>', "the user's display name")
    .option('--key-name <name>', 'a name for the key (default "CLI key")')
    .option('--org <name>', 'organization, created if new (default "Personal")')
    .option('--workspace <name>', 'workspace in the organization, created if new (default "Default")')
    .option('--env <env>', 'live or test', 'test')
    .option(
      '--expires-in <days>',
      'days until the key expires, 0-3650 (0: already expired, for tests; default never)',
    )
    .option('--json', 'print one JSON object (with the key) instead of the bare key')
    .option('--secret-file <file>', 'server secret, created 0600 if missing (default <db>.secret)')
    .addHelpText('after', '\nThe key goes to stdout alone; a description goes to stderr.')
    .action((options: CreateKeyOptions) => runCreateKey(ctx, options));
}

export function createdKeyJson(created: CreatedKey) {
  return {
    key: created.apiKey.value,
    id: created.key.id,
    name: created.key.name,
    masked: created.key.masked,
    environment: created.key.environment,
    created_at: created.key.created_at,
    expires_at: created.key.expires_at,
    user: { id: created.user.id, email: created.user.email, name: created.user.name },
    organization: { id: created.organization.id, name: created.organization.name },
    workspace: { id: created.workspace.id, name: created.workspace.name },
  };
}

export function runCreateKey(ctx: CommandContext, options: CreateKeyOptions): void {
  const input = {
    email: parseEmail(options.email),
    environment: parseEnvironment(options.env),
    ...(options.name !== undefined && { userName: parseLabel(options.name, '--name') }),
    ...(options.keyName !== undefined && { keyName: parseLabel(options.keyName, '--key-name') }),
    ...(options.org !== undefined && { organization: parseLabel(options.org, '--org') }),
    ...(options.workspace !== undefined && { workspace: parseLabel(options.workspace, '--workspace') }),
    ...(options.expiresIn !== undefined && { expiresInDays: parseExpiryDays(options.expiresIn) }),
  };
  const dbPath = databasePath(options.db, ctx.env);
  const secret = loadSecret(ctx.env.SEKUIRE_SERVER_SECRET, options.secretFile ?? defaultSecretFile(dbPath));
  reportSecret(ctx, secret);
  const db = openDatabase(dbPath);
  let created: CreatedKey;
  try {
    created = createApiKey(createStore(db), secret.secret, input, ctx.now());
  } finally {
    db.close();
  }
  if (options.json) {
    ctx.stdout.write(`${JSON.stringify(createdKeyJson(created))}\n`);
    return;
  }
  const expiry = created.key.expires_at === null ? '' : `, expires ${created.key.expires_at}`;
  ctx.stderr.write(
    `Created key ${created.key.id} (${created.key.masked}) for ${created.user.email} in ` +
      `${created.organization.name} / ${created.workspace.name}${expiry}. It is shown only this once.\n`,
  );
  ctx.stdout.write(`${created.apiKey.value}\n`);
}
