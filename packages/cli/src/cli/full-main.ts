// Every command: commander, the prompts and all command files, started by main.ts for any argv its fast path does not run.
import { processContext } from './context.js';
import { runProcess } from './process.js';
import { run } from './run.js';

runProcess(processContext(), (ctx) => run(ctx, process.argv));
