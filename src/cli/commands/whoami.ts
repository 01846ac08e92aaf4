// sekuire auth whoami (alias: whoami): the user, organization and device behind the key in use.
import type { Command } from 'commander';
import { deviceName, osName } from '../../core/device.js';
import { resolveSession } from '../../core/session.js';
import { type Context, deviceInputs } from '../context.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { WhoamiResult } from '../results.js';
import type { Schedule } from './types.js';

export interface WhoamiOptions {
  readonly backendUrl?: string;
}

const DESCRIPTION = 'Show the user, organization and device behind the key in use, as the backend sees them';

export function register(parent: Command, schedule: Schedule, name: string, examplePrefix: string): void {
  parent
    .command(name)
    .description(DESCRIPTION)
    .option(
      '--backend-url <url>',
      'ask this backend instead of the one the stored key was verified with (the key is sent to it)',
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      helpFooter(
        [
          `${examplePrefix}`,
          `${examplePrefix} --json`,
          `${examplePrefix} --backend-url https://api.staging.example`,
        ],
        [0, 2, 10, 11, 12, 13, 14, 15],
      ),
    )
    .action((options: WhoamiOptions) => schedule((ctx) => whoami(ctx, options)));
}

export async function whoami(ctx: Context, options: WhoamiOptions): Promise<WhoamiResult> {
  const session = await resolveSession({
    ...deviceInputs(ctx),
    backendFlag:
      options.backendUrl === undefined ? undefined : { value: options.backendUrl, name: '--backend-url' },
  });
  note(ctx, ...session.notes);
  const client = await ctx.connect({
    backend: session.backend,
    apiKey: session.key.value,
    fingerprint: session.device.fingerprint,
  });
  const response = (await client.whoami()).body;
  return {
    kind: 'whoami',
    data: {
      user: response.user,
      organization: response.organization,
      workspace: response.workspace,
      device: {
        name: session.stored?.credentials.device_name ?? deviceName(),
        os: osName(ctx.platform),
        fingerprint: session.device.fingerprint,
        id_source: session.device.idSource,
        bound_here: response.device !== null && response.device.fingerprint === session.device.fingerprint,
      },
      source: session.source,
      backend: client.backend,
    },
  };
}
