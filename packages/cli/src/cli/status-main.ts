// `sekuire status` and `sekuire api`, started by main.ts: those two commands and the transport, without commander.
import { processContext } from './context.js';
import { fastCommand } from './fast-argv.js';
import { runFast } from './fast-path.js';
import { runProcess } from './process.js';
import { processStreams } from './streams.js';

// main.ts read the same argv as status's: it is read again here, as this file shares nothing with main.ts.
const command = fastCommand(process.argv.slice(2));
// Nothing but the one command writes here: its output goes straight to the descriptors (streams.ts).
runProcess(processContext(processStreams(true)), (ctx) =>
  command === undefined
    ? Promise.reject(new Error('status-main.ts was started for an argv that is not status or api'))
    : runFast(ctx, command),
);
