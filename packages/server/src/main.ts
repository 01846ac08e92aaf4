#!/usr/bin/env node
// Entry of the sekuire-server bin: runs one command in this process's context, then exits once with its code.
import { processContext } from './commands/context.js';
import { run } from './commands/run.js';

const code = await run(processContext(), process.argv);
// Every write was awaited, so stdout has drained: a piped key or JSON is never cut short.
process.exit(code);
