// The masked key prompt and the rebind question; both refuse to run without a terminal.
import type { BoundDeviceSummary } from '../core/client.js';
import { InterruptedError, UsageError } from '../core/errors.js';
import { type ApiKey, KeyFormatError, parseKey } from '../core/key.js';
import { type Context, canPrompt } from './context.js';

function isExitPrompt(error: unknown): boolean {
  // Ctrl+C (or the terminal closing) rejects with ExitPromptError; inquirer has already
  // restored the terminal by then.
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

/** Inquirer draws on stderr: stdout stays for results, so `sekuire login --json > out` works. */
function promptContext(ctx: Context) {
  return { input: ctx.stdin, output: ctx.stderr as NodeJS.WritableStream, clearPromptOnDone: false };
}

/** Asks for the key at a masked prompt; a malformed paste is explained and asked again. */
export async function promptForKey(ctx: Context): Promise<ApiKey> {
  if (!canPrompt(ctx)) {
    throw new UsageError(
      "No terminal to prompt for the API key. Pipe the key to 'sekuire login --with-key' instead, e.g. printf '%s' \"$SEKUIRE_KEY\" | sekuire login --with-key",
      'no_terminal',
    );
  }
  const { default: password } = await import('@inquirer/password');
  let value: string;
  try {
    value = await password(
      {
        message: 'your API Key:',
        mask: '*',
        // Ctrl+T would show the key on screen (and in any recording of it).
        toggleMask: false,
        validate: (text) => {
          try {
            parseKey(text);
            return true;
          } catch (error) {
            if (error instanceof KeyFormatError) return error.message;
            throw error;
          }
        },
        // Inquirer joins prefix, message and mask with spaces; a prefix of "Enter" draws the
        // line exactly as documented: "Enter your API Key: ********".
        theme: {
          prefix: { idle: 'Enter', done: 'Enter' },
          style: { message: (text: string) => text, answer: (text: string) => text },
        },
      },
      promptContext(ctx),
    );
  } catch (error) {
    if (isExitPrompt(error)) throw new InterruptedError();
    throw error;
  }
  return parseKey(value);
}

/** Asks whether to move the key's binding from another device to this one. */
export async function confirmRebind(ctx: Context, bound: BoundDeviceSummary | null): Promise<boolean> {
  const { default: confirm } = await import('@inquirer/confirm');
  const where = bound
    ? `${bound.name} (${bound.os})${bound.bound_at ? `, bound ${bound.bound_at}` : ''}`
    : 'another device';
  ctx.stderr.write(`This key is bound to another device: ${where}.\n`);
  try {
    return await confirm(
      { message: 'Move the binding to this device? The other device will lose access.', default: false },
      promptContext(ctx),
    );
  } catch (error) {
    if (isExitPrompt(error)) throw new InterruptedError();
    throw error;
  }
}
