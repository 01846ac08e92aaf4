#!/usr/bin/env node
// The sekuire bin: runs --version and status itself; any other argv is handed to full-main.ts (commander, every command).
import { ExitCode } from '../core/errors.js';
import { fastCommand, runFast } from './fast-path.js';
import { runProcess } from './process.js';

const fast = fastCommand(process.argv.slice(2));
if (fast !== undefined) {
  runProcess((ctx) => runFast(ctx, fast));
} else {
  // A file of its own in the package (dist/full.cjs): the commands run before every job never
  // compile commander, the prompts and the other commands.
  import('./full-main.js').catch((error: unknown) => {
    process.stderr.write(`sekuire cannot load its commands: ${String(error)}\n`);
    process.exit(ExitCode.bug);
  });
}
