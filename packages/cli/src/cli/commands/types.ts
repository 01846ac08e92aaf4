// How a command file hands its work to main.ts: a task that takes the context, returns a result.
import type { Context } from '../context.js';
import type { Result } from '../results.js';

export type Task = (ctx: Context) => Promise<Result>;
export type Schedule = (task: Task) => void;
