// The paste flow: a key read at the masked prompt or from stdin, verified, bound here (or moved here), saved.
import type { ApiKey } from '@sekuire/shared/key';
import type { BoundDeviceSummary, LoginAnswer, LoginResponse } from '../../../core/client.js';
import { checkCredentialsWritable } from '../../../core/credentials.js';
import { DeviceMismatchError, UsageError } from '../../../core/errors.js';
import { parseSeconds } from '../../../core/http/policy.js';
import { parseGivenKey } from '../../../core/session.js';
import { type Context, canPrompt } from '../../context.js';
import { note } from '../../notes.js';
import type { LoginResult } from '../../results.js';
import { readKeyFromStdin } from '../../stdin.js';
import { saveLogin, thisDevice } from './save.js';
import { describeLogin, type LoginOptions, type LoginStart, storedLogin } from './start.js';

function instructions(web: string): string {
  return [
    'Sekuire Login',
    '',
    'To authenticate:',
    `1. Go to: ${web}/dashboard/settings?tab=api-keys`,
    '2. Create a new API Key for CLI access',
    "3. Copy the key (you'll only see it once!)",
    '4. Paste it below',
    '',
    '',
  ].join('\n');
}

async function readKey(ctx: Context, options: LoginOptions, web: string): Promise<ApiKey> {
  if (options.withKey) {
    return parseGivenKey(await readKeyFromStdin(ctx), (problem) => `${problem} Nothing was saved.`);
  }
  ctx.stderr.write(instructions(web));
  const { promptForKey } = await import('../../prompt.js');
  return promptForKey(ctx);
}

/** A login with a key the person already has. */
export async function pasteLogin(
  ctx: Context,
  start: LoginStart,
  options: LoginOptions,
): Promise<LoginResult> {
  const { backend, web, policy } = start;
  // Checked before the prompt: a typo in --timeout is not found after a move was requested.
  const timeoutMs = options.timeout === undefined ? undefined : parseSeconds(options.timeout, '--timeout');
  if (!options.withKey && !canPrompt(ctx)) {
    throw new UsageError('No terminal to prompt for the API key.', 'no_terminal', {
      hint: 'Use --with-key and pipe the key in, e.g. printf \'%s\' "$SEKUIRE_KEY" | sekuire login --with-key',
    });
  }
  checkCredentialsWritable(start.profile.dir, false);
  const previous = storedLogin(start.profile);
  if (previous) note(ctx, `Logged in as ${describeLogin(previous)}; this login replaces it.`);

  const key = await readKey(ctx, options, web);
  const { identity, deviceKey, device } = await thisDevice(ctx, start.profile, options, previous);
  if (!options.rebind) {
    // The same login on this device, with the key now in another store: the old key signs the move.
    const { rotateIfStoreChanged } = await import('../../key-rotation.js');
    await rotateIfStoreChanged(ctx, {
      home: start.profile.dir,
      profile: start.profile.name,
      previous,
      key,
      identity,
      signer: deviceKey,
      backend: backend.url,
      policy,
    });
  }
  const client = await ctx.connect({
    backend: backend.url,
    backendSource: backend.source,
    key,
    proof: deviceKey,
    fingerprint: identity.fingerprint,
    policy,
  });

  let answer: LoginAnswer;
  let movedFrom: BoundDeviceSummary | null = null;
  try {
    answer = (await client.login(device, options.rebind === true)).body;
  } catch (error) {
    if (!(error instanceof DeviceMismatchError) || options.rebind) throw error;
    const bound = (error.details.bound_device as BoundDeviceSummary | null | undefined) ?? null;
    if (!canPrompt(ctx)) {
      throw new DeviceMismatchError(`${error.message} Nothing was saved.`, 'device_mismatch', {
        hint: "To move the binding to this device (the other one loses access), run 'sekuire login --rebind'",
        details: error.details,
      });
    }
    const { confirmRebind } = await import('../../prompt.js');
    if (!(await confirmRebind(ctx, bound))) {
      throw new DeviceMismatchError(
        'The binding was not moved; the key stays bound to the other device. Nothing was saved.',
        'rebind_declined',
        { details: error.details },
      );
    }
    movedFrom = bound;
    answer = (await client.login(device, true)).body;
  }
  let response: LoginResponse;
  if (answer.kind === 'move') {
    // The backend wants a person to approve the move: print where, and wait.
    const { awaitMove } = await import('./move.js');
    response = await awaitMove(ctx, { client, move: answer.move, web, timeoutMs });
    movedFrom ??= answer.move.from;
  } else {
    response = answer.login;
  }

  return saveLogin(
    ctx,
    { ...start, previous },
    { key, response, identity, device, signer: deviceKey, backend: client.backend, movedFrom },
  );
}
