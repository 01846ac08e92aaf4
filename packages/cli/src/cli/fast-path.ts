// Runs what fast-argv.ts recognised, without commander: `--version`, `status` and `api`.
import { ExitCode } from '../core/errors.js';
import type { Context } from './context.js';
import { deliver } from './deliver.js';
import type { FastCommand } from './fast-argv.js';
import { VERSION } from './version.js';

/** Runs a command fastCommand recognised; only `status` loads more than this file's imports. */
export async function runFast(ctx: Context, command: FastCommand): Promise<number> {
  if (command.kind === 'version') return deliver(ctx, `${VERSION}\n`, ExitCode.ok);
  const { deliverResult, settle } = await import('./settle.js');
  if (command.kind === 'api') {
    const { options } = command;
    return settle(ctx, command.asJson, async () => (await import('./commands/api.js')).api(ctx, options));
  }
  return settle(ctx, command.asJson, async () => {
    const { status } = await import('./commands/status.js');
    return deliverResult(ctx, await status(ctx, command.options), command.asJson);
  });
}
