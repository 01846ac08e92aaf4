// Wires the process (exit code, signals, broken pipes) to one command's run; the one place that exits.
import { ExitCode } from '../core/errors.js';
import type { Streams } from './streams.js';

/** Runs `command` with `ctx` (a whole context, or only the streams for --version) and exits with its code. */
export function runProcess<C extends Streams>(ctx: C, command: (ctx: C) => Promise<number>): void {
  // Until the command settles, any way out is a failure: Node exits 0 when nothing is left to
  // wait for (a prompt whose stdin was released, say), and that must never look like success.
  process.exitCode = ExitCode.bug;
  let settled = false;
  // ctx's stdout and stderr are created when first written (see streams.ts).
  process.on('beforeExit', () => {
    if (settled) return;
    settled = true;
    ctx.stderr.write(
      'sekuire stopped before the command finished (nothing left to wait for). This is a bug in sekuire; please report it.\n',
    );
    process.exit(ExitCode.bug);
  });
  process.on('SIGINT', () => {
    ctx.stderr.write('\nInterrupted\n');
    process.exit(ExitCode.interrupted);
  });
  command(ctx).then(
    (code) => {
      settled = true;
      process.exit(code);
    },
    async (error: unknown) => {
      settled = true;
      // Loaded on this path only (it brings the key format): a bug, never the common case.
      const { redactKeys } = await import('../core/redact.js');
      ctx.stderr.write(`${redactKeys(String(error))}\n`);
      process.exit(ExitCode.bug);
    },
  );
}
