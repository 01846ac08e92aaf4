// What the HTTP layer reports as it decides outcomes; metrics.ts counts them, and nothing is told when metrics are off.
import type { ProofRefusal } from '../domain/proofs.js';

/** A presented API key: unknown covers missing, malformed and never issued (they answer alike). */
export const KEY_CHECK_OUTCOMES = ['valid', 'unknown', 'revoked', 'expired'] as const;
export type KeyCheckOutcome = (typeof KEY_CHECK_OUTCOMES)[number];

export const PROOF_REFUSALS: readonly ProofRefusal[] = [
  'proof_required',
  'invalid_proof',
  'proof_stale',
  'proof_replayed',
];

/** A person's sign-in, through the API or the /login page. */
export const SIGN_IN_OUTCOMES = ['ok', 'invalid_credentials', 'rate_limited', 'busy'] as const;
export type SignInOutcome = (typeof SIGN_IN_OUTCOMES)[number];

export interface Observer {
  keyChecked(outcome: KeyCheckOutcome): void;
  proofRefused(reason: ProofRefusal): void;
  signedIn(outcome: SignInOutcome): void;
  /** From a revocation's commit to every running instance having forgotten the key. */
  revocationConfirmed(seconds: number): void;
}

export const NO_OBSERVER: Observer = {
  keyChecked: () => {},
  proofRefused: () => {},
  signedIn: () => {},
  revocationConfirmed: () => {},
};
