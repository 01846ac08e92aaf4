// What stderr says about the server secret: a new file was made, or its mode is too open.
import type { CommandContext } from './context.js';
import type { LoadedSecret } from './secret.js';

export async function reportSecret(ctx: CommandContext, loaded: LoadedSecret): Promise<void> {
  if (loaded.created && loaded.file !== undefined) {
    await ctx.stderr.write(
      `Created the server secret ${loaded.file} (mode 0600). Back it up: without it no existing key can be verified.\n`,
    );
  }
  if (loaded.warning !== undefined) await ctx.stderr.write(`${loaded.warning}\n`);
}
