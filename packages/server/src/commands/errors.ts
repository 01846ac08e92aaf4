// Failures of the sekuire-server commands, each with its exit code; main.ts is the one place that exits.

/** A mistake in how the command was called (flag, value, missing file): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

/** An expected failure the user can act on (unknown key id, port in use): exit 1, no stack. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly exitCode = 1;
}
