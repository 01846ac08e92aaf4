// `create-user`: a person who can sign in to the dashboard (or a new password for one).
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createUser } from '../domain/accounts.js';
import { passwordProblem } from '../domain/passwords.js';
import { ROLES, type Role } from '../store/queries/accounts.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';
import { UsageError } from './errors.js';
import { parseEmail, parseLabel, parseOrganization } from './flags.js';

export interface CreateUserOptions {
  readonly db?: string;
  readonly email: string;
  readonly name?: string;
  readonly org?: string;
  readonly role?: string;
  readonly passwordStdin?: boolean;
  readonly json?: boolean;
}

/** A pipe that never delivers must not hang a script. */
const STDIN_TIMEOUT_MS = 10_000;

export function defineCreateUser(program: Command, ctx: CommandContext): void {
  program
    .command('create-user')
    .description('Create a person who can sign in to the dashboard, or set the password of one')
    .option(
      '--db <db>',
      'SQLite file (created if missing) or postgres:// URL (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .requiredOption('--email <email>', 'their email: what they sign in with')
    .option('--name <name>', 'their display name')
    .option('--org <name>', 'an organization, created if new (default: one of their own)')
    .option(
      '--role <role>',
      'owner, admin or member of --org (default: owner of a new one, member of an existing one)',
    )
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `\nWithout --password-stdin a terminal asks for the password twice (hidden); without a terminal it exits 2.\n` +
        'Passwords have at least 10 characters. Members see and manage their own keys; owners and admins, every key of the organization.\n\n' +
        'Example:\n  printf \'%s\\n\' "$PASSWORD" | sekuire-server create-user --db ./sekuire.db --email you@example.com --password-stdin',
    )
    .action((options: CreateUserOptions) => runCreateUser(ctx, options));
}

function parseRole(text: string): Role {
  const role = ROLES.find((candidate) => candidate === text);
  if (role === undefined) throw new UsageError(`--role must be owner, admin or member, not "${text}".`);
  return role;
}

function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stream });
    const timer = setTimeout(() => {
      lines.close();
      reject(
        new UsageError(
          '--password-stdin: nothing arrived on standard input within 10 s. Pipe the password in.',
        ),
      );
    }, STDIN_TIMEOUT_MS);
    let done = false;
    lines.once('line', (line) => {
      done = true;
      clearTimeout(timer);
      lines.close();
      resolve(line);
    });
    lines.once('close', () => {
      clearTimeout(timer);
      if (!done) resolve('');
    });
  });
}

async function promptTwice(ctx: CommandContext): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  const options = { input: ctx.stdin, output: process.stderr };
  const first = await password({ message: 'Password (at least 10 characters):', mask: '*' }, options);
  const problem = passwordProblem(first);
  if (problem !== undefined) throw new UsageError(problem);
  const second = await password({ message: 'The same password again:', mask: '*' }, options);
  if (first !== second) throw new UsageError('The two passwords differ; nothing was changed.');
  return first;
}

async function readPassword(ctx: CommandContext, options: CreateUserOptions): Promise<string> {
  if (options.passwordStdin) {
    const line = await readFirstLine(ctx.stdin);
    if (line === '')
      throw new UsageError('--password-stdin: standard input was empty. Pipe the password in.');
    return line;
  }
  if (!ctx.stdinIsTTY) {
    throw new UsageError(
      'No terminal to ask for the password: pipe it in with --password-stdin, e.g. printf \'%s\\n\' "$PASSWORD" | sekuire-server create-user ... --password-stdin',
    );
  }
  try {
    return await promptTwice(ctx);
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError')
      throw new UsageError('Interrupted; nothing was changed.');
    throw error;
  }
}

/** The old password's sign-ins that the new one ended, if any. */
function ended(sessions: number): string {
  if (sessions === 0) return '';
  return ` Ended ${sessions === 1 ? 'the session' : `all ${sessions} sessions`} signed in with the old password.`;
}

export async function runCreateUser(ctx: CommandContext, options: CreateUserOptions): Promise<void> {
  const email = parseEmail(options.email);
  const name = options.name === undefined ? undefined : parseLabel(options.name, '--name');
  const organization = options.org === undefined ? undefined : parseOrganization(options.org);
  const role = options.role === undefined ? undefined : parseRole(options.role);
  if (role !== undefined && organization === undefined) {
    throw new UsageError('--role applies to --org: name the organization (a user always owns their own).');
  }
  const target = databaseTarget(options.db, ctx.env);
  const password = await readPassword(ctx, options);
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new UsageError(`${problem} Nothing was changed.`);
  const created = await withStore(target, {}, (store) =>
    createUser(
      store,
      {
        email,
        password,
        ...(name !== undefined && { name }),
        ...(organization !== undefined && { organization }),
        ...(role !== undefined && { role }),
      },
      ctx.now(),
    ),
  );
  if (options.json) {
    await ctx.stdout.write(
      `${JSON.stringify({
        id: created.user.id,
        email: created.user.email,
        name: created.user.name,
        created: created.created,
        organization: { id: created.organization.id, name: created.organization.name },
        role: created.role,
        sessions_ended: created.sessionsEnded,
      })}\n`,
    );
    return;
  }
  await ctx.stdout.write(
    `${created.created ? 'Created user' : 'Updated user'} ${created.user.email} (${created.user.id}), ${created.role} of ${created.organization.name}. They can sign in to the dashboard now.${ended(created.sessionsEnded)}\n`,
  );
}
