#!/usr/bin/env node
// The sekuire bin: wires the process (exit code, signals, broken pipes) to run(); the one place that exits.
import { ExitCode } from '../core/errors.js';
import { redactKeys } from '../core/redact.js';
import { processContext } from './context.js';
import { run } from './run.js';

function main(): void {
  // Until run() settles, any way out is a failure: Node exits 0 when nothing is left to wait
  // for (a prompt whose stdin was released, say), and that must never look like success.
  process.exitCode = ExitCode.bug;
  let settled = false;
  process.on('beforeExit', () => {
    if (settled) return;
    settled = true;
    process.stderr.write(
      'sekuire stopped before the command finished (nothing left to wait for). This is a bug in sekuire; please report it.\n',
    );
    process.exit(ExitCode.bug);
  });
  // Write errors arrive through each write's callback (see run.ts); this keeps them from
  // becoming uncaught exceptions, and a closed pipe from ending the process early.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  process.on('SIGINT', () => {
    process.stderr.write('\nInterrupted\n');
    process.exit(ExitCode.interrupted);
  });
  run(processContext(), process.argv).then(
    (code) => {
      settled = true;
      process.exit(code);
    },
    (error: unknown) => {
      settled = true;
      process.stderr.write(`${redactKeys(String(error))}\n`);
      process.exit(ExitCode.bug);
    },
  );
}

main();
