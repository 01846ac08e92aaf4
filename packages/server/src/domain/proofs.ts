// Device proof on the server: is this request signed by the device key the binding holds, once, now.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  contentDigest,
  jwkThumbprint,
  PROOF_WINDOW_S,
  type PublicJwk,
  parsePublicJwk,
  parseSignature,
  parseSignatureInput,
  signatureBase,
} from '@sekuire/shared/proof-format';
import { MAX_CLAIMS_PER_STATEMENT, type NonceClaim, type NonceQueries } from '../store/queries/nonces.js';

/** The parts of a request a proof covers, as received. */
export interface SignedRequest {
  readonly method: string;
  /** The request target as sent: origin-form (/path?query) or, through a proxy, absolute-form. */
  readonly target: string;
  /** The body as received (the empty string when there is none). */
  readonly body: string;
  readonly signatureInput: string | undefined;
  readonly signature: string | undefined;
  readonly contentDigest: string | undefined;
}

/** The device key a proof must come from: a binding's, or a pending move's. */
export interface ExpectedKey {
  /** The public JWK, as stored (JSON text). */
  readonly publicKey: string;
  readonly thumbprint: string;
}

export type ProofRefusal = 'proof_required' | 'invalid_proof' | 'proof_stale' | 'proof_replayed';

export type ProofVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: ProofRefusal; readonly message: string };

/** A device key as a binding stores it. */
export function storedDeviceKey(jwk: PublicJwk): ExpectedKey {
  return { publicKey: JSON.stringify(jwk), thumbprint: jwkThumbprint(jwk) };
}

/** Parsed public keys by thumbprint: a busy device's key is imported once, not per request. */
const MAX_KEYS = 10_000;

/**
 * Proofs seen, so each is accepted once. Bounded: when full, the proofs created earliest are
 * forgotten first and the floor rises past them, so a forgotten proof is refused as stale
 * rather than accepted again. Under a flood the accepted window narrows from its old end; it
 * never lets a replay through. Evicting by creation time (not arrival) matters: a device whose
 * clock runs minutes ahead must not raise the floor for everyone else.
 */
export class ReplayCache {
  private readonly seen = new Set<string>();
  /** The same proofs, by the second they were created (at most 601 distinct seconds are fresh). */
  private readonly byCreated = new Map<number, string[]>();
  /** Proofs created before this (Unix seconds) are refused: they may have been forgotten. */
  private floor = 0;
  private prunedAt = Number.NaN;

  constructor(private readonly capacity = 100_000) {}

  /** 'fresh' (recorded now), 'replayed', or 'stale' (older than what the cache still covers). */
  check(id: string, created: number, nowSeconds: number): 'fresh' | 'replayed' | 'stale' {
    if (created < this.floor) return 'stale';
    if (this.seen.has(id)) return 'replayed';
    // Proofs created before the window are refused as stale anyway: forget them, once a second.
    if (nowSeconds !== this.prunedAt) {
      this.prunedAt = nowSeconds;
      for (const [second, ids] of this.byCreated) {
        if (second < nowSeconds - PROOF_WINDOW_S) this.forget(second, ids);
      }
    }
    if (this.seen.size >= this.capacity) this.evict();
    this.seen.add(id);
    const bucket = this.byCreated.get(created);
    if (bucket === undefined) this.byCreated.set(created, [id]);
    else bucket.push(id);
    return 'fresh';
  }

  get size(): number {
    return this.seen.size;
  }

  /** The earliest creation time still accepted (Unix seconds; 0 until the cache first filled). */
  get acceptedFrom(): number {
    return this.floor;
  }

  private forget(second: number, ids: readonly string[]): void {
    for (const id of ids) this.seen.delete(id);
    this.byCreated.delete(second);
  }

  /** Down to 90% of capacity, the earliest-created seconds first. */
  private evict(): void {
    const target = this.capacity - Math.ceil(this.capacity / 10);
    const seconds = [...this.byCreated.keys()].sort((a, b) => a - b);
    for (const second of seconds) {
      if (this.seen.size <= target) break;
      this.forget(second, this.byCreated.get(second) ?? []);
      this.floor = Math.max(this.floor, second + 1);
    }
  }
}

export interface ProofVerifierOptions {
  readonly now: () => Date;
  /**
   * The replay cache in the database (the store's proof_nonces, on both engines): a proof
   * accepted by one instance, process or run is refused by every other, and after a restart.
   * Without it (tests of the memory cache alone), the local cache alone decides.
   */
  readonly shared?: NonceQueries;
  /**
   * SQLite: the claims of one turn of the event loop go into one INSERT (a transaction each
   * costs a WAL commit: measured ~75 µs for one row, ~20 µs a row in groups of 10). PostgreSQL
   * groups by round trips in flight instead.
   */
  readonly groupPerTurn?: boolean;
  readonly capacity?: number;
}

/** How often (in claims) the shared cache is purged of nonces that are stale anyway. */
const PURGE_EVERY = 1_000;

export class ProofVerifier {
  private readonly keys = new Map<string, KeyObject>();
  private readonly replay: ReplayCache;
  private readonly shared: SharedClaims | undefined;
  private claims = 0;

  constructor(private readonly options: ProofVerifierOptions) {
    this.replay = new ReplayCache(options.capacity);
    this.shared =
      options.shared === undefined
        ? undefined
        : new SharedClaims(options.shared, options.groupPerTurn === true);
  }

  /**
   * The checks, cheapest first: present, well-formed, from the expected key, within the
   * window, over this body, a valid signature, and only then recorded as seen (so that forged
   * proofs never fill the replay cache).
   */
  async verify(request: SignedRequest, expected: ExpectedKey): Promise<ProofVerdict> {
    if (request.signatureInput === undefined && request.signature === undefined) {
      return refuse(
        'proof_required',
        "This key is bound to a device key: each request must carry that device's proof (Signature-Input, Signature and Content-Digest headers). Use a sekuire CLI that signs its requests.",
      );
    }
    const params = parseSignatureInput(request.signatureInput);
    const signature = parseSignature(request.signature);
    if (params === undefined || signature === undefined) {
      return refuse('invalid_proof', 'The device proof is malformed.');
    }
    if (params.keyid !== expected.thumbprint) {
      return refuse('invalid_proof', 'The device proof is signed by a key this binding does not hold.');
    }
    const nowSeconds = Math.floor(this.options.now().getTime() / 1000);
    if (Math.abs(nowSeconds - params.created) > PROOF_WINDOW_S) {
      return refuse(
        'proof_stale',
        `The device proof was created ${describeOffset(params.created - nowSeconds)} the server's time: the window is ${PROOF_WINDOW_S} seconds either way.`,
      );
    }
    const digest = request.body === '' ? EMPTY_DIGEST : contentDigest(request.body);
    if (request.contentDigest !== digest) {
      return refuse('invalid_proof', 'The Content-Digest header does not match the body received.');
    }
    const { path, query } = splitTarget(request.target);
    const base = signatureBase(request.method, path, query, digest, params.raw);
    const key = this.publicKey(expected);
    if (key === undefined || !verifySignature(Buffer.from(base), key, signature)) {
      return refuse('invalid_proof', 'The device proof does not verify with the key this binding holds.');
    }
    const id = `${params.keyid}.${params.nonce}`;
    const local = this.replay.check(id, params.created, nowSeconds);
    if (local === 'stale') {
      return refuse(
        'proof_stale',
        'The device proof is older than the replay cache still covers: sign again.',
      );
    }
    if (local === 'replayed' || !(await this.claimShared(id, params.created))) {
      return refuse('proof_replayed', 'This device proof was already used: each request needs a new one.');
    }
    return { ok: true };
  }

  private async claimShared(id: string, created: number): Promise<boolean> {
    const shared = this.shared;
    if (shared === undefined) return true;
    const expiresAt = new Date((created + PROOF_WINDOW_S) * 1000).toISOString();
    const fresh = await shared.claim({ id, expiresAt });
    if (++this.claims % PURGE_EVERY === 0) {
      // Bookkeeping, off the request's path: a purge that fails is retried a thousand claims later.
      void shared.purge(this.options.now().toISOString());
    }
    return fresh;
  }

  private publicKey(expected: ExpectedKey): KeyObject | undefined {
    const cached = this.keys.get(expected.thumbprint);
    if (cached !== undefined) return cached;
    let jwk: PublicJwk | undefined;
    try {
      jwk = parsePublicJwk(JSON.parse(expected.publicKey));
    } catch {
      jwk = undefined;
    }
    if (jwk === undefined || jwkThumbprint(jwk) !== expected.thumbprint) return undefined;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    } catch {
      return undefined;
    }
    if (this.keys.size >= MAX_KEYS) this.keys.clear();
    this.keys.set(expected.thumbprint, key);
    return key;
  }
}

/**
 * INSERTs of nonces on their way at once. One at a time left the server waiting on round trips
 * (measured: ~10 claims per INSERT, ~1.1 ms each under load, 8.5k signed requests/s); a few in
 * flight keep the pool's connections busy while the groups stay large under load.
 */
const CLAIMS_IN_FLIGHT = 4;

/**
 * Claims on the shared replay cache, grouped: while INSERTs are on their way to PostgreSQL, the
 * claims that arrive wait and go together in the next one (one round trip for many requests,
 * as a database's group commit does).
 */
class SharedClaims {
  private queue: { claim: NonceClaim; settle: (fresh: boolean | Error) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly nonces: NonceQueries,
    private readonly groupPerTurn: boolean,
  ) {}

  claim(claim: NonceClaim): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        claim,
        settle: (fresh) => (fresh instanceof Error ? reject(fresh) : resolve(fresh)),
      });
      if (this.groupPerTurn) {
        if (this.scheduled) return;
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.flush();
        });
      } else if (this.inFlight < CLAIMS_IN_FLIGHT) void this.flush();
    });
  }

  purge(before: string): Promise<number> {
    return this.nonces.purge(before).catch(() => 0);
  }

  private async flush(): Promise<void> {
    this.inFlight += 1;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_CLAIMS_PER_STATEMENT);
      try {
        const fresh = await this.nonces.claim(batch.map((entry) => entry.claim));
        for (const entry of batch) entry.settle(fresh.has(entry.claim.id));
      } catch (error) {
        // The database's failure is each request's (503 for every one of them).
        for (const entry of batch) entry.settle(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.inFlight -= 1;
  }
}

/** The digest of an absent body: every GET's. */
const EMPTY_DIGEST = contentDigest('');

/** Characters the URL parser leaves as they are in a path and a query: no escapes, no dots. */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-_~!$&()*+,;=:@/?]*$/;

/**
 * Path and query as the client signed them (WHATWG URL: what the CLI's URL object gave). A
 * plain origin-form target is split as is, which is what the parser would give; anything else
 * (absolute-form through a proxy, dot segments, escapes) goes through the parser, as the
 * client's did.
 */
export function splitTarget(target: string): { path: string; query: string } {
  if (PLAIN_TARGET.test(target) && !target.includes('/.')) {
    const mark = target.indexOf('?');
    if (mark === -1) return { path: target, query: '' };
    const query = target.slice(mark);
    return { path: target.slice(0, mark), query: query === '?' ? '' : query };
  }
  try {
    // Origin-form is appended to a base, never resolved against it: `//x` stays a path.
    const url = new URL(target.startsWith('/') ? `http://target.invalid${target}` : target);
    return { path: url.pathname, query: url.search };
  } catch {
    // Not a URL at all: no client signed it, and the proof will not verify.
    return { path: target, query: '' };
  }
}

/**
 * The P-256 check is the costliest step of a signed request (~50 µs here), and it runs on the
 * event loop, on purpose: libuv's pool has 4 threads, and the password hashes of sign-ins
 * (scrypt, ~275 ms each) run there too. Queued behind 30 of them, a CLI's status waited 12 s.
 */
function verifySignature(data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

function refuse(code: ProofRefusal, message: string): ProofVerdict {
  return { ok: false, code, message };
}

function describeOffset(seconds: number): string {
  return seconds < 0 ? `${-seconds} seconds before` : `${seconds} seconds after`;
}
