// What a sekuire-server command touches: environment, output streams, clock, stop signals.

export interface Output {
  write(text: string): unknown;
}

export interface CommandContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Output;
  readonly stderr: Output;
  readonly now: () => Date;
  /** Resolves with the signal's name when the process is asked to stop (SIGTERM, SIGINT). */
  readonly stopRequested: () => Promise<string>;
}

export function processContext(): CommandContext {
  return {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
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
