// sekuire auth token: the key in use, alone on stdout, for scripts that pass it on.
import type { Command } from 'commander';
import { resolveProfile } from '../../core/profiles.js';
import { resolveSession } from '../../core/session.js';
import { Settings } from '../../core/settings.js';
import { type Context, deviceInputs } from '../context.js';
import { type ProfileOptions, profileOption } from '../flags.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { TokenResult } from '../results.js';
import type { Schedule } from './types.js';

export function register(auth: Command, schedule: Schedule): void {
  const command = auth.command('token');
  profileOption(command)
    .description('Print the key in use (SEKUIRE_API_KEY, else auth.json), alone on stdout, for scripts')
    .option('--json', 'print {"key", "source"} as JSON (the only JSON that carries the whole key)')
    .addHelpText(
      'after',
      helpFooter(
        [
          'curl -H "X-API-Key: $(sekuire auth token)" https://api.example.com/v1/health   # a server key',
          'sekuire api https://api.example.com/v1/jobs   # a key bound to this device: signed',
        ],
        ['notLoggedIn', 'deviceMismatch', 'localFiles'],
        [
          'A raw X-API-Key header suits server keys only. A key bound to this device is refused without',
          "the device's proof, made anew for each request: call APIs with `sekuire api` (PATH or URL),",
          "or from Node.js with the sekuire package's createClient(), which sign every request.",
          'The key is checked against this device, not against the backend: use `sekuire auth test` for that.',
        ].join('\n'),
      ),
    )
    .action((options: ProfileOptions) => schedule((ctx) => token(ctx, options)));
}

export async function token(ctx: Context, options: ProfileOptions = {}): Promise<TokenResult> {
  const settings = Settings.load(ctx.env, ctx.home);
  const session = await resolveSession({
    ...deviceInputs(ctx),
    settings,
    profile: resolveProfile(ctx.home, ctx.env, options.profile),
  });
  note(ctx, ...settings.config.warnings, ...session.notes);
  return { kind: 'token', data: { key: session.key.value, source: session.source } };
}
