// sekuire auth test: is the key accepted and the backend reachable, and how long did it take.
import type { Command } from 'commander';
import type { HttpEvent } from '../../core/http/send.js';
import { resolveProfile } from '../../core/profiles.js';
import { proxyFor } from '../../core/proxy.js';
import { redactKeys } from '../../core/redact.js';
import { parseGivenKey, resolveSession } from '../../core/session.js';
import { Settings } from '../../core/settings.js';
import { staleLogin } from '../../core/stale-login.js';
import { type Context, deviceInputs } from '../context.js';
import {
  type BackendOptions,
  backendFlag,
  backendOption,
  type ProfileOptions,
  profileOption,
} from '../flags.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { AuthTestResult } from '../results.js';
import { readKeyFromStdin } from '../stdin.js';
import type { Schedule } from './types.js';

export interface AuthTestOptions extends BackendOptions, ProfileOptions {
  readonly withKey?: boolean;
  readonly verbose?: boolean;
}

export function register(auth: Command, schedule: Schedule): void {
  const command = auth
    .command('test')
    .description('Check that the key in use is accepted and the backend reachable (GET /api/v1/cli/status)')
    .option('--with-key', 'test a key read from stdin instead of the stored or SEKUIRE_API_KEY one');
  profileOption(command);
  backendOption(command, 'the backend to test against (the key is sent to it)', '--url')
    .option('--verbose', 'print each request, its redacted headers and the response time to stderr')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire auth test',
          'sekuire auth test --verbose',
          'printf \'%s\' "$KEY" | sekuire auth test --with-key --backend https://api.sekuire.ai',
        ],
        ['notLoggedIn', 'keyRejected', 'deviceMismatch', 'backendUnreachable', 'forbidden', 'localFiles'],
        'Nothing is written: auth test never creates or changes a file, nor the key binding.',
      ),
    )
    .action((options: AuthTestOptions) => schedule((ctx) => authTest(ctx, options)));
}

/** One line per event, for people: the key is already masked by the transport. */
export function describeEvent(event: HttpEvent): string[] {
  switch (event.type) {
    case 'request':
      return [
        `> ${event.method} ${event.url}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}${event.proxy ? ` via proxy ${event.proxy}` : ''}`,
        ...Object.entries(event.headers).map(([name, value]) => `> ${name}: ${value}`),
      ];
    case 'response':
      return [`< HTTP ${event.status} in ${Math.round(event.elapsedMs)} ms`];
    case 'retry':
      return [`* retrying in ${Math.round(event.delayMs)} ms: ${event.reason}`];
    case 'redirect':
      return [
        `* redirect to ${event.to}${event.followed ? '' : ' not followed: another origin never gets the key'}`,
      ];
  }
}

export async function authTest(ctx: Context, options: AuthTestOptions): Promise<AuthTestResult> {
  // Settings first, then the key: a bad setting is reported before anything is typed.
  const settings = Settings.load(ctx.env, ctx.home);
  const flag = backendFlag(options);
  const policy = settings.policy();
  // A key from stdin goes to the flag's or the default backend: its proxy is checked before it is read.
  if (options.withKey) proxyFor(settings.backend(flag).url, ctx.env);
  const explicitKey = options.withKey ? parseGivenKey(await readKeyFromStdin(ctx)) : undefined;
  const session = await resolveSession({
    ...deviceInputs(ctx),
    settings,
    explicitKey,
    backendFlag: flag,
    profile: resolveProfile(ctx.home, ctx.env, options.profile),
  });
  note(ctx, ...settings.config.warnings, ...session.notes);
  const onEvent = options.verbose
    ? (event: HttpEvent) => {
        // Headers are masked by the transport; a Location from the backend could still carry a key.
        for (const line of describeEvent(event)) ctx.stderr.write(`${redactKeys(line)}\n`);
      }
    : undefined;
  const client = await ctx.connect({
    backend: session.backend,
    backendSource: session.backendSource,
    key: session.key,
    ...(session.proof !== undefined && { proof: session.proof }),
    fingerprint: session.device.fingerprint,
    policy,
    onEvent,
  });
  const answer = await client.status();
  const response = answer.body;
  if (session.stored && response.device === null)
    throw staleLogin(session.stored, response.past_binding ?? null, session.profile.name);
  return {
    kind: 'auth-test',
    data: {
      ok: true,
      backend: client.backend,
      url: answer.url,
      key: { masked: session.key.masked, environment: response.key.environment, id: response.key.id },
      source: session.source,
      device: {
        fingerprint: session.device.fingerprint,
        bound_here:
          response.device === null ? null : response.device.fingerprint === session.device.fingerprint,
      },
      response_time_ms: Math.round(answer.elapsedMs),
      attempts: answer.attempts,
    },
  };
}
