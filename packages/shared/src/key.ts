// API keys: sk_<env>_<32 base62 random><6 base62 CRC-32 checksum>; parse, mint, mask.
import { randomInt } from 'node:crypto';
import { crc32 } from './crc32.js';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const KEY_ENVIRONMENTS = ['live', 'test'] as const;
export type KeyEnvironment = (typeof KEY_ENVIRONMENTS)[number];

const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH;
const PREFIX_LENGTH = 'sk_live_'.length;
export const KEY_LENGTH = PREFIX_LENGTH + BODY_LENGTH;

export interface ApiKey {
  /** The whole key: the only secret here. */
  readonly value: string;
  readonly environment: KeyEnvironment;
  /** `sk_live_abc...xyz`: the only form shown by default. */
  readonly masked: string;
}

export type KeyProblem =
  | 'empty'
  | 'prefix'
  | 'whitespace'
  | 'alphabet'
  | 'truncated'
  | 'too_long'
  | 'checksum'
  | 'assignment'
  | 'quoted';

export class KeyFormatError extends Error {
  override readonly name = 'KeyFormatError';
  constructor(
    readonly problem: KeyProblem,
    message: string,
  ) {
    super(message);
  }
}

/** The checksum of a 32-character random part: CRC-32 (as zlib computes it) in base62, padded to 6. */
export function checksum(random: string): string {
  let n = crc32(random);
  let out = '';
  do {
    out = BASE62.charAt(n % 62) + out;
    n = Math.floor(n / 62);
  } while (n > 0);
  return out.padStart(CHECKSUM_LENGTH, '0');
}

/**
 * Parses pasted text into a key, or throws a KeyFormatError that names the problem.
 * Surrounding whitespace (and a trailing newline) is trimmed; nothing else is changed.
 * Messages never repeat the input: it may be a real key with a typo.
 */
export function parseKey(input: string): ApiKey {
  const text = input.trim();
  if (text === '') throw new KeyFormatError('empty', 'No API key was given.');
  const env = /^sk_(live|test)_/.exec(text)?.[1] as KeyEnvironment | undefined;
  if (env === undefined) {
    const pasted = pastedAround(text);
    if (pasted) throw pasted;
    const message = /^sk_[A-Za-z0-9]+_/.test(text)
      ? 'Unknown key type: a Sekuire API key starts with sk_live_ or sk_test_.'
      : /^sk[-_]/i.test(text)
        ? 'A Sekuire API key starts with sk_live_ or sk_test_ (lowercase, with underscores).'
        : 'This is not a Sekuire API key: it starts with sk_live_ or sk_test_.';
    throw new KeyFormatError('prefix', message);
  }
  const body = text.slice(PREFIX_LENGTH);
  const space = body.search(/\s/);
  if (space !== -1) {
    throw new KeyFormatError(
      'whitespace',
      `The key contains whitespace at character ${PREFIX_LENGTH + space + 1}: it was split when copied. Copy it again as one line.`,
    );
  }
  // One search, not a test per character: the server parses every presented key.
  const outside = body.search(/[^0-9A-Za-z]/);
  if (outside !== -1) {
    if (QUOTES.includes(body.charAt(outside))) throw quoted();
    throw new KeyFormatError(
      'alphabet',
      `The key has a character outside 0-9, A-Z, a-z at character ${PREFIX_LENGTH + outside + 1}.`,
    );
  }
  if (body.length < BODY_LENGTH) {
    throw new KeyFormatError(
      'truncated',
      `The key looks truncated: ${KEY_LENGTH} characters expected, got ${text.length}. Copy the whole key.`,
    );
  }
  if (body.length > BODY_LENGTH) {
    throw new KeyFormatError(
      'too_long',
      `The key is too long: ${KEY_LENGTH} characters expected, got ${text.length}. Was something pasted with it?`,
    );
  }
  const random = body.slice(0, RANDOM_LENGTH);
  if (checksum(random) !== body.slice(RANDOM_LENGTH)) {
    throw new KeyFormatError(
      'checksum',
      "The key's checksum does not match: a character was changed or mistyped. Copy it again from the dashboard.",
    );
  }
  return { value: text, environment: env, masked: maskKey(text) };
}

const QUOTES = `"'\`\u2018\u2019\u201c\u201d`;

/**
 * A key pasted with what surrounded it in a .env file or a shell script: say what to remove.
 * Only a variable's name is repeated, never what follows it.
 */
function pastedAround(text: string): KeyFormatError | undefined {
  const assignment = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]{0,63})\s*[=:]\s*(.*)$/s.exec(text);
  if (assignment && /^.?sk_/.test(assignment[2] ?? '')) {
    return new KeyFormatError(
      'assignment',
      `Paste only the key: remove "${assignment[1]}=" (and any quotes) in front of it, so that it starts with sk_live_ or sk_test_.`,
    );
  }
  if (QUOTES.includes(text.charAt(0)) && text.slice(1).startsWith('sk_')) return quoted();
  return undefined;
}

function quoted(): KeyFormatError {
  return new KeyFormatError(
    'quoted',
    'Remove the quotes around the key: paste only the key itself, from sk_ to its last character.',
  );
}

/** The 32 random characters: the part of a key that must never be shown. */
export function secretPart(key: ApiKey): string {
  return key.value.slice(PREFIX_LENGTH, PREFIX_LENGTH + RANDOM_LENGTH);
}

/** `sk_live_` + first 3 random characters + `...` + last 3 characters. */
export function maskKey(key: string): string {
  const env = /^sk_(live|test)_/.exec(key)?.[1];
  if (env === undefined || key.length < PREFIX_LENGTH + 6) return 'sk_...';
  return `${key.slice(0, PREFIX_LENGTH + 3)}...${key.slice(-3)}`;
}

/** A new random key with a valid checksum. */
export function mintKey(environment: KeyEnvironment): ApiKey {
  let random = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) random += BASE62.charAt(randomInt(62));
  const value = `sk_${environment}_${random}${checksum(random)}`;
  return { value, environment, masked: maskKey(value) };
}
