// The masked key prompt and the rebind question (inquirer, drawn on stderr); both refuse without a terminal.
import { confirm, password, select } from '@inquirer/prompts';
import { type ApiKey, KeyFormatError, parseKey } from '@sekuire/shared/key';
import { describeBound } from '../core/api-errors.js';
import type { BoundDeviceSummary } from '../core/client.js';
import { InterruptedError, UsageError } from '../core/errors.js';
import type { AgentIdentity } from '../core/key-store/ssh-agent.js';
import { type Context, canPrompt, useColour } from './context.js';

function isExitPrompt(error: unknown): boolean {
  // Ctrl+C (or the terminal closing) rejects with ExitPromptError; inquirer has already
  // restored the terminal by then.
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

/** Inquirer draws on stderr: stdout stays for results, so `sekuire login --json > out` works. */
function promptContext(ctx: Context) {
  return { input: ctx.stdin, output: ctx.stderr as NodeJS.WritableStream, clearPromptOnDone: false };
}

type Paint = (text: string) => string;

/** ANSI styles when colour is on (a terminal, no NO_COLOR); the text unchanged otherwise. */
function palette(ctx: Context) {
  const on = useColour(ctx);
  const sgr =
    (open: number, close: number): Paint =>
    (text) =>
      on ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return { bold: sgr(1, 22), cyan: sgr(36, 39), green: sgr(32, 39), red: sgr(31, 39), dim: sgr(2, 22) };
}

function theme(ctx: Context, prefix: { idle: string; done: string }) {
  const paint = palette(ctx);
  return {
    prefix,
    style: {
      message: (text: string) => paint.bold(text),
      answer: (text: string) => paint.cyan(text),
      error: (text: string) => paint.red(`> ${text}`),
      defaultAnswer: (text: string) => paint.dim(`(${text})`),
      help: (text: string) => paint.dim(text),
      highlight: (text: string) => paint.cyan(text),
      key: (text: string) => paint.cyan(paint.bold(`<${text}>`)),
    },
    paint,
  };
}

function noTerminal(): UsageError {
  return new UsageError('No terminal to prompt for the API key.', 'no_terminal', {
    hint: "Pipe the key to 'sekuire login --with-key' instead, e.g. printf '%s' \"$SEKUIRE_KEY\" | sekuire login --with-key",
  });
}

/**
 * Asks for the key at a masked prompt; a malformed paste is explained and asked again, in a
 * fresh, empty field. (Inquirer's own validation keeps the refused text in the field, so the
 * next paste was appended to it and refused again.)
 */
export async function promptForKey(ctx: Context): Promise<ApiKey> {
  if (!canPrompt(ctx)) throw noTerminal();
  const { paint, ...look } = theme(ctx, { idle: 'Enter', done: 'Enter' });
  for (;;) {
    let value: string;
    try {
      value = await password(
        {
          message: 'your API Key:',
          mask: '*',
          // Ctrl+T would show the key on screen (and in any recording of it).
          toggleMask: false,
          // Inquirer joins prefix, message and mask with spaces; a prefix of "Enter" draws the
          // line exactly as documented: "Enter your API Key: ********".
          theme: { ...look, prefix: { idle: paint.bold('Enter'), done: paint.bold('Enter') } },
        },
        promptContext(ctx),
      );
    } catch (error) {
      if (isExitPrompt(error)) throw new InterruptedError();
      throw error;
    }
    try {
      return parseKey(value);
    } catch (error) {
      if (!(error instanceof KeyFormatError)) throw error;
      ctx.stderr.write(`${look.style.error(error.message)} Paste the whole key again.\n`);
    }
  }
}

/** Asks whether to move the key's binding from another device to this one. */
export async function confirmRebind(ctx: Context, bound: BoundDeviceSummary | null): Promise<boolean> {
  if (!canPrompt(ctx)) throw noTerminal();
  const { paint, ...look } = theme(ctx, { idle: '?', done: '?' });
  const where = bound ? describeBound(bound) : 'another device';
  ctx.stderr.write(`This key is bound to another device: ${where}.\n`);
  try {
    return await confirm(
      {
        message:
          'Move the binding to this device? The other device will lose access (the backend may ask for an approval in the browser first).',
        default: false,
        theme: { ...look, prefix: { idle: paint.cyan('?'), done: paint.green('?') } },
      },
      promptContext(ctx),
    );
  } catch (error) {
    if (isExitPrompt(error)) throw new InterruptedError();
    throw error;
  }
}

/** Which of the agent's P-256 keys this device signs with (login --key-store agent, several keys, no --agent-key). */
export async function pickAgentKey(ctx: Context, keys: readonly AgentIdentity[]): Promise<AgentIdentity> {
  if (!canPrompt(ctx)) throw noTerminal();
  const { paint, ...look } = theme(ctx, { idle: '?', done: '?' });
  try {
    return await select(
      {
        message: "The SSH agent holds several P-256 keys: which one is this device's key?",
        choices: keys.map((key) => ({
          name: `${key.fingerprint}${key.comment ? ` ${key.comment}` : ''}`,
          value: key,
        })),
        theme: { ...look, prefix: { idle: paint.cyan('?'), done: paint.green('?') } },
      },
      promptContext(ctx),
    );
  } catch (error) {
    if (isExitPrompt(error)) throw new InterruptedError();
    throw error;
  }
}
