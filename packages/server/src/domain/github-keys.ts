// GitHub's secret-scanning signing keys: the list at a URL or in a file, and the check of a report's signature.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** Where the key list comes from: `--secret-scanning-keys URL|FILE`. */
export type KeyListSource = { readonly url: string } | { readonly file: string };

/** A list fetched from a URL is trusted this long, then fetched again on the next report. */
export const KEY_LIST_TTL_MS = 60 * 60_000;
/** An unknown key identifier fetches (or reads) the list again, at most this often. */
export const KEY_LIST_REFRESH_MS = 60_000;
/** A fetch of the list gives up after this long. */
export const KEY_LIST_TIMEOUT_MS = 5_000;
/** The list is small (GitHub's is a few keys); a larger answer is not one. */
const MAX_LIST_BYTES = 1024 * 1024;

/** `SEKUIRE_SECRET_SCANNING_KEYS` or the flag: an http(s) URL, else a file. */
export function keyListSource(text: string): KeyListSource | { readonly problem: string } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { problem: `--secret-scanning-keys: "${text}" is not a URL.` };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return { problem: `--secret-scanning-keys: only http(s) URLs are fetched, not ${url.protocol}` };
    return { url: url.href };
  }
  if (text.trim() === '') return { problem: '--secret-scanning-keys needs a URL or a file.' };
  return { file: text };
}

/**
 * GitHub's format: `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`. Only
 * P-256 keys are kept; a list with none is not a list.
 */
export function parseKeyList(text: string): Map<string, KeyObject> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const entries = (parsed as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(entries)) return undefined;
  const keys = new Map<string, KeyObject>();
  for (const entry of entries) {
    const { key_identifier: id, key } = (entry ?? {}) as { key_identifier?: unknown; key?: unknown };
    if (typeof id !== 'string' || id === '' || typeof key !== 'string') continue;
    try {
      const object = createPublicKey(key);
      if (object.asymmetricKeyType === 'ec' && object.asymmetricKeyDetails?.namedCurve === 'prime256v1')
        keys.set(id, object);
    } catch {
      // Not a key: left out, as GitHub's own samples skip what they cannot use.
    }
  }
  return keys.size === 0 ? undefined : keys;
}

export type SignatureVerdict = 'valid' | 'invalid' | 'unknown_key' | 'no_key_list';

/**
 * The signing keys, loaded when first needed (and, for a file, when the server starts): a URL's
 * list is kept an hour; an unknown key identifier loads the list again, at most once a minute
 * (GitHub rotates keys; a flood of made-up identifiers must not become a flood of fetches). A
 * load that fails keeps the list already held.
 */
export class GitHubKeyList {
  private keys: Map<string, KeyObject> | undefined;
  private loadedAt = Number.NEGATIVE_INFINITY;
  /** The last load that an unknown identifier asked for, and the last one that failed. */
  private askedAt = Number.NEGATIVE_INFINITY;
  private failedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;

  constructor(
    readonly source: KeyListSource,
    private readonly now: () => Date,
  ) {}

  /** Reads the list now; the problem when it cannot be used (for `start` with a file). */
  async load(): Promise<string | undefined> {
    let problem: string | undefined;
    try {
      const keys = parseKeyList(await this.fetchText());
      if (keys === undefined) {
        problem =
          'it holds no P-256 public key in GitHub\'s format {"public_keys": [{"key_identifier", "key"}]}';
      } else {
        this.keys = keys;
        this.loadedAt = this.now().getTime();
      }
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem !== undefined) this.failedAt = this.now().getTime();
    return problem;
  }

  /** Checks an ECDSA P-256 SHA-256 signature (DER, base64) over the body as received. */
  async verify(body: string, keyIdentifier: string, signature: string): Promise<SignatureVerdict> {
    const now = this.now().getTime();
    const recentlyFailed = now - this.failedAt < KEY_LIST_REFRESH_MS;
    const expired = 'url' in this.source && now - this.loadedAt >= KEY_LIST_TTL_MS;
    if (this.keys === undefined || expired) {
      if (!recentlyFailed) await this.reload();
    } else if (
      !this.keys.has(keyIdentifier) &&
      !recentlyFailed &&
      now - this.askedAt >= KEY_LIST_REFRESH_MS
    ) {
      this.askedAt = now;
      await this.reload();
    }
    if (this.keys === undefined) return 'no_key_list';
    const key = this.keys.get(keyIdentifier);
    if (key === undefined) return 'unknown_key';
    try {
      return verify('sha256', Buffer.from(body, 'utf8'), key, Buffer.from(signature, 'base64'))
        ? 'valid'
        : 'invalid';
    } catch {
      return 'invalid';
    }
  }

  /** One load at a time: reports arriving together wait for the same one. */
  private reload(): Promise<void> {
    if (this.loading === undefined) {
      this.loading = this.load()
        .then(() => undefined)
        .finally(() => {
          this.loading = undefined;
        });
    }
    return this.loading;
  }

  private async fetchText(): Promise<string> {
    const source = this.source;
    if ('file' in source) return readFile(source.file, 'utf8');
    const response = await fetch(source.url, {
      signal: AbortSignal.timeout(KEY_LIST_TIMEOUT_MS),
      redirect: 'error',
      // GitHub's API refuses requests without a User-Agent.
      headers: { accept: 'application/json', 'user-agent': 'sekuire-server' },
    });
    if (!response.ok) throw new Error(`${source.url} answered ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_LIST_BYTES) throw new Error(`${source.url} answered more than 1 MiB`);
    const text = await response.text();
    if (text.length > MAX_LIST_BYTES) throw new Error(`${source.url} answered more than 1 MiB`);
    return text;
  }
}
