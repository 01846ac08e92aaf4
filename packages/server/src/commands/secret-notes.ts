// What stderr says about the server secret: a new file was made, its mode is too open, which are in use.
import { secretId } from '../domain/digest.js';
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

/** For `start` with several secrets: their ids, so each instance's place in a rotation shows. */
export async function reportSecretIds(ctx: CommandContext, loaded: LoadedSecret): Promise<void> {
  if (loaded.older.length === 0) return;
  const ids = [loaded.secret, ...loaded.older].map(secretId);
  await ctx.stderr.write(
    `Server secrets, newest first: ${ids.join(', ')} (new digests under ${ids[0]}; what the older ones made moves to it on use).\n`,
  );
}
