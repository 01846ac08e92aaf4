// Public identifiers (`user_…`, `key_…`, …): a type prefix and 16 random base62 characters.
import { randomInt } from 'node:crypto';
import { BASE62 } from '@sekuire/shared/key';

export type IdPrefix = 'user' | 'org' | 'ws' | 'key' | 'dev' | 'sess' | 'grant' | 'move';

// 16 base62 characters are about 95 bits: no collisions in practice, short enough to type.
const ID_RANDOM_LENGTH = 16;

export function newId(prefix: IdPrefix): string {
  let random = '';
  for (let i = 0; i < ID_RANDOM_LENGTH; i++) random += BASE62.charAt(randomInt(62));
  return `${prefix}_${random}`;
}
