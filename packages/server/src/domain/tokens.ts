// Session tokens: random, recognisable by their prefix, stored only as keyed digests.
import { randomInt } from 'node:crypto';
import { BASE62 } from '@sekuire/shared/key';
import type { TokenKind } from '../store/queries/sessions.js';
import { keyDigest } from './digest.js';

const PREFIX: Readonly<Record<TokenKind, string>> = {
  access: 'sek_at_',
  refresh: 'sek_rt_',
  cookie: 'sek_ck_',
};
/** About 190 bits, like an API key's random part. */
const RANDOM_LENGTH = 32;
/** Every token this server issues, wherever it appears (a redactor uses this). */
export const TOKEN_PATTERN = /sek_(?:at|rt|ck)_[0-9A-Za-z]{32}/g;

export function newToken(kind: TokenKind): string {
  let random = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) random += BASE62.charAt(randomInt(62));
  return `${PREFIX[kind]}${random}`;
}

/** The digest of a token of this kind; undefined for text that is not one (never looked up). */
export function tokenDigest(secret: Buffer, kind: TokenKind, token: string): Buffer | undefined {
  const prefix = PREFIX[kind];
  if (token.length !== prefix.length + RANDOM_LENGTH || !token.startsWith(prefix)) return undefined;
  return keyDigest(secret, token);
}
