// A person deciding moves through the API (PROTOCOL.md "Moving a key"): sign in, wait for the move, approve or deny.
import { TEST_PASSWORD } from './server.js';

export interface PendingMove {
  readonly id: string;
  readonly user_code: string;
  readonly status: string;
  readonly key: { readonly id: string; readonly name: string };
  readonly to_device: { readonly name: string };
}

/** Signed in with a bearer token, as an API client (no cookies, no CSRF). */
export class MoveApprover {
  private constructor(
    private readonly origin: string,
    private readonly token: string,
  ) {}

  static async signIn(origin: string, email: string, password = TEST_PASSWORD): Promise<MoveApprover> {
    const response = await fetch(`${origin}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (response.status !== 200) throw new Error(`sign-in as ${email} answered ${response.status}`);
    const body = (await response.json()) as { access_token: string };
    return new MoveApprover(origin, body.access_token);
  }

  async pending(): Promise<PendingMove[]> {
    const response = await fetch(`${this.origin}/api/v1/moves`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (response.status !== 200) throw new Error(`GET /api/v1/moves answered ${response.status}`);
    return ((await response.json()) as { moves: PendingMove[] }).moves;
  }

  /** The first pending move of `keyId`, once one appears (the CLI asks for it asynchronously). */
  async waitFor(keyId: string, timeoutMs = 20_000): Promise<PendingMove> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const move = (await this.pending()).find((candidate) => candidate.key.id === keyId);
      if (move !== undefined) return move;
      if (Date.now() > until) throw new Error(`no pending move for ${keyId} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** POST /api/v1/moves/{id}/approve or /deny: the HTTP status and the answer. */
  async decide(
    id: string,
    verb: 'approve' | 'deny',
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${this.origin}/api/v1/moves/${encodeURIComponent(id)}/${verb}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
}

/** A sleep for in-process CLI runs that waits on a move: at most 100 ms, whatever the interval. */
export const quickSleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, 100)));
