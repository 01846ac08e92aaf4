// How every command ends: its result rendered on stdout, or its error on stderr (and stdout with --json); the exit code.
import { ExitCode, SekuireError } from '../core/errors.js';
import { redactKeys } from '../core/redact.js';
import type { Context } from './context.js';
import { deliver, emit } from './deliver.js';
import { renderError, renderResult } from './output.js';
import type { Result } from './results.js';

export function deliverResult(ctx: Context, result: Result, asJson: boolean): Promise<number> {
  return deliver(ctx, renderResult(result, asJson), ExitCode.ok);
}

/** Runs `work` (which delivers its own output); whatever it throws is rendered here, once. */
export async function settle(ctx: Context, asJson: boolean, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    const known =
      error instanceof SekuireError
        ? error
        : new SekuireError(
            'internal_error',
            `Unexpected error: ${error instanceof Error ? error.message : String(error)}`,
            'bug',
            { hint: 'This is a bug in sekuire; please report it (set SEKUIRE_DEBUG=1 for details)' },
          );
    if (!(error instanceof SekuireError) && ctx.env.SEKUIRE_DEBUG) {
      await emit(
        ctx.stderr,
        `${redactKeys(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`,
      );
    }
    const rendered = renderError(known, asJson);
    await emit(ctx.stderr, rendered.stderr).catch(() => {});
    return deliver(ctx, rendered.stdout, known.exitCode);
  }
}
