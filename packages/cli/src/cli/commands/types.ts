// How a command file hands its work to main.ts: a task that takes the context, returns a result.
import type { Context } from '../context.js';
import type { Result } from '../results.js';

/** A result to render, or an exit code when the command wrote its own output (`api`). */
export type Task = (ctx: Context) => Promise<Result | number>;
export type Schedule = (task: Task) => void;
