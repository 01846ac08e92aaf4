// `login --rebind` against a backend with device proof: the move waits for a person's approval.
import type { BackendClient, LoginResponse, MoveAnswer } from '../../../core/client.js';
import { BackendUnreachableError, ForbiddenError } from '../../../core/errors.js';
import type { Context } from '../../context.js';
import { note } from '../../notes.js';
import { minutes, waitForApproval } from './approval-wait.js';

export interface MoveWait {
  readonly client: BackendClient;
  readonly move: MoveAnswer;
  /** The dashboard's origin: the approval page is printed under it, never taken from the answer. */
  readonly web: string;
  readonly timeoutMs: number | undefined;
}

const NOTHING_SAVED = 'The key stays bound to the other device; nothing was saved.';

/** Prints where to approve, polls until a person decides, and answers with the login once moved. */
export async function awaitMove(ctx: Context, wait: MoveWait): Promise<LoginResponse> {
  const { move } = wait;
  const from = move.from === null ? 'another device' : `${move.from.name} (${move.from.os})`;
  note(
    ctx,
    `This key is bound to ${from}. Moving it here needs the approval of someone who manages the key.`,
    `1. Go to: ${wait.web}/move?code=${encodeURIComponent(move.userCode)}`,
    `2. Check that the page shows the code: ${move.userCode}`,
    `Waiting for approval (expires in ${minutes(move.expiresIn * 1000)})...`,
  );
  let toldOthers = false;
  const end = await waitForApproval(ctx, {
    expiresIn: move.expiresIn,
    interval: move.interval,
    timeoutMs: wait.timeoutMs,
    poll: async () => {
      const answer = (await wait.client.pollMove(move.id)).body;
      if (answer.kind === 'pending' && answer.otherRequests > 0 && !toldOthers) {
        // Someone else holding the key may be asking too: whoever approves sees both requests.
        toldOthers = true;
        note(
          ctx,
          'Another device asked to take this key too. Whoever approves sees both requests; if the other one is not yours, tell them: someone else may hold this key.',
        );
      }
      return answer.kind === 'pending' || answer.kind === 'slow_down' ? answer.kind : answer;
    },
  });
  if (end.kind === 'timeout') {
    throw new BackendUnreachableError(
      `Nobody approved the move within ${minutes(end.ms)} (--timeout). ${NOTHING_SAVED}`,
      'login_timeout',
      { hint: "Run 'sekuire login --rebind' again, and approve the move in the browser" },
    );
  }
  const answer = end.kind === 'expired' ? ({ kind: 'expired' } as const) : end.answer;
  switch (answer.kind) {
    case 'moved':
      note(ctx, 'Move approved.');
      return answer.login;
    case 'denied':
      throw new ForbiddenError('access_denied', `The move was denied. ${NOTHING_SAVED}`);
    case 'expired':
      throw new BackendUnreachableError(
        `The move expired before it was approved. ${NOTHING_SAVED}`,
        'code_expired',
        { hint: "Run 'sekuire login --rebind' again and approve it sooner" },
      );
    case 'slow_down':
    case 'invalid':
      throw new BackendUnreachableError(
        `The backend did not complete the move (${answer.kind === 'invalid' ? answer.message : answer.kind}). ${NOTHING_SAVED}`,
        'grant_refused',
        { hint: "Run 'sekuire login --rebind' again" },
      );
  }
}
