// Warnings and notes for people: stderr, one line each, never on stdout.
import type { Context } from './context.js';

export function note(ctx: Context, ...lines: readonly (string | undefined)[]): void {
  for (const line of lines) if (line) ctx.stderr.write(`${line}\n`);
}
