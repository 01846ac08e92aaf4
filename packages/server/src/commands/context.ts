// What a sekuire-server command touches: environment, output streams, clock, stop signals.

export interface Output {
  /** Resolves once the text is written; rejects when it cannot be (a full disk, a closed pipe). */
  write(text: string): Promise<void>;
}

export interface CommandContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Output;
  readonly stderr: Output;
  /** Whether stdin is a terminal (create-user prompts only then). */
  readonly stdinIsTTY: boolean;
  readonly stdin: NodeJS.ReadableStream;
  readonly now: () => Date;
  /** Resolves with the signal's name when the process is asked to stop (SIGTERM, SIGINT). */
  readonly stopRequested: () => Promise<string>;
}

/** Standard output could not be written: a full disk, a closed pipe (`code` is the errno name). */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  constructor(readonly code: string) {
    super(`cannot write to standard output (${code})`);
  }
}

/**
 * stdout reports failures (a key written nowhere must not look written); stderr does not, as
 * there would be nowhere left to say so.
 */
function output(stream: NodeJS.WriteStream, report: boolean): Output {
  // A failed write also emits 'error'; the callback below reports it, so the event must not crash us.
  stream.on('error', () => {});
  return {
    write: (text) =>
      new Promise((resolve, reject) => {
        stream.write(text, (error) => {
          if (error && report) reject(new OutputError((error as NodeJS.ErrnoException).code ?? 'EIO'));
          else resolve();
        });
      }),
  };
}

export function processContext(): CommandContext {
  return {
    env: process.env,
    stdout: output(process.stdout, true),
    stderr: output(process.stderr, false),
    stdinIsTTY: process.stdin.isTTY === true,
    get stdin() {
      return process.stdin;
    },
    now: () => new Date(),
    stopRequested: () =>
      new Promise((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve(signal);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      }),
  };
}
