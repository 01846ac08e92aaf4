#!/usr/bin/env node
// The sekuire bin: prints --version itself, hands status and api to status-main.ts and any other argv to full-main.ts.
import { ExitCode } from '../core/errors.js';
import { enableCompileCache } from './compile-cache.js';
import { deliver } from './deliver.js';
import { fastCommand } from './fast-argv.js';
import { runProcess } from './process.js';
import { processStreams } from './streams.js';
import { VERSION } from './version.js';

/**
 * In the package each is a file of its own (dist/status.cjs, dist/full.cjs), so that each path
 * parses only the code it runs: --version none of the commands, status not commander, the
 * prompts or the other commands.
 */
function handOver(load: () => Promise<unknown>): void {
  enableCompileCache(process.env, process.platform);
  load().catch((error: unknown) => {
    process.stderr.write(`sekuire cannot load its commands: ${String(error)}\n`);
    process.exit(ExitCode.bug);
  });
}

const fast = fastCommand(process.argv.slice(2));
if (fast?.kind === 'version') {
  runProcess(processStreams(true), (streams) => deliver(streams, `${VERSION}\n`, ExitCode.ok));
} else if (fast?.kind === 'status' || fast?.kind === 'api') {
  handOver(() => import('./status-main.js'));
} else {
  handOver(() => import('./full-main.js'));
}
