// sekuire-server's commands in this process through run(ctx, argv): given env, stdin and clock, output kept.
import { PassThrough } from 'node:stream';
import type { CommandContext, Output } from '../../packages/server/src/commands/context.js';
import { run } from '../../packages/server/src/commands/run.js';

export interface ServerRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ServerRunOptions {
  /** The whole environment the command sees (nothing of the test process's leaks in). */
  readonly env?: Record<string, string | undefined>;
  /** Written to stdin, which then ends; stdin is empty (and ended) when absent. */
  readonly input?: string;
  /** The command's clock (default: the real one). */
  readonly now?: () => Date;
}

/** Keeps what is written. */
class Kept implements Output {
  text = '';
  write(text: string): Promise<void> {
    this.text += text;
    return Promise.resolve();
  }
}

/** Runs `sekuire-server ARGS` in this process and resolves with its exit code and output. */
export async function runServer(args: readonly string[], options: ServerRunOptions = {}): Promise<ServerRun> {
  const stdout = new Kept();
  const stderr = new Kept();
  const stdin = new PassThrough();
  stdin.end(options.input ?? '');
  const ctx: CommandContext = {
    env: options.env ?? {},
    stdout,
    stderr,
    // No terminal, as in a pipeline: create-user refuses to prompt and says how to pipe the password.
    stdinIsTTY: false,
    stdin,
    now: options.now ?? (() => new Date()),
    // No signal is meant for a command run in a test's process; `start` is tested as a process.
    stopRequested: () => new Promise<string>(() => {}),
  };
  const code = await run(ctx, ['node', 'sekuire-server', ...args]);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The same, for a command that must succeed: its stdout, or an error with everything it said. */
export async function serverOutput(args: readonly string[], options: ServerRunOptions = {}): Promise<string> {
  const result = await runServer(args, options);
  if (result.code !== 0) {
    throw new Error(
      `sekuire-server ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result.stdout;
}
