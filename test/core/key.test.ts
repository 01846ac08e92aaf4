// API keys: minting, parsing (every problem kind, offline), the CRC-32 checksum and the masked form.
import { crc32 } from 'node:zlib';
import { crc32 as ownCrc32 } from '@sekuire/shared/crc32';
import {
  BASE62,
  checksum,
  KEY_ENVIRONMENTS,
  KEY_LENGTH,
  KeyFormatError,
  type KeyProblem,
  maskKey,
  mintKey,
  parseKey,
} from '@sekuire/shared/key';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** The checksum computed here from the protocol text: CRC-32 (zlib) in base62, left-padded to 6. */
function expectedChecksum(random: string): string {
  let n = crc32(random);
  const digits: string[] = [];
  while (n > 0) {
    digits.unshift(BASE62.charAt(n % 62));
    n = Math.floor(n / 62);
  }
  return digits.join('').padStart(6, '0');
}

function keyFrom(random: string, environment = 'live'): string {
  return `sk_${environment}_${random}${expectedChecksum(random)}`;
}

/** The KeyFormatError parseKey throws for input; fails the test when it parses. */
function problemOf(input: string): KeyFormatError {
  try {
    parseKey(input);
  } catch (error) {
    if (error instanceof KeyFormatError) return error;
    throw error;
  }
  throw new Error(`parseKey accepted ${JSON.stringify(input)}`);
}

const RANDOM = 'abcdefghijklmnopqrstuvwxyzABCDEF';
const VALID = keyFrom(RANDOM);
const random32 = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 32, maxLength: 32 });

describe('checksum', () => {
  it('is CRC-32 of the random part in base62', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(checksum('abcdefghijklmnopqrstuvwxyzABCDEF')).toBe('1mVgZW');
    expect(checksum('00000000000000000000000000000000')).toBe('2wjyrI');
    expect(checksum('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe('3Ae0o2');
  });

  it('is left-padded with 0 to 6 characters', () => {
    expect(crc32('sekuirePaddingTest653ZZZZZZZZZZZ')).toBe(202730);
    expect(checksum('sekuirePaddingTest653ZZZZZZZZZZZ')).toBe('000qjq');
  });

  it('matches an independent computation for any random part', () => {
    fc.assert(
      fc.property(random32, (random) => {
        expect(checksum(random)).toBe(expectedChecksum(random));
      }),
      { numRuns: 500 },
    );
  });
});

describe('mintKey', () => {
  it.each(KEY_ENVIRONMENTS)('mints %s keys that parse back to themselves', (environment) => {
    for (let i = 0; i < 200; i++) {
      const key = mintKey(environment);
      expect(key.value).toMatch(new RegExp(`^sk_${environment}_[0-9A-Za-z]{38}$`));
      expect(key.value).toHaveLength(KEY_LENGTH);
      expect(key.value.slice(-6)).toBe(expectedChecksum(key.value.slice(8, 40)));
      expect(key.environment).toBe(environment);
      expect(key.masked).toBe(`sk_${environment}_${key.value.slice(8, 11)}...${key.value.slice(-3)}`);
      expect(parseKey(key.value)).toEqual(key);
    }
  });

  it('mints a different key each time', () => {
    const keys = new Set(Array.from({ length: 100 }, () => mintKey('live').value));
    expect(keys.size).toBe(100);
  });
});

describe('parseKey', () => {
  it('accepts a well-formed key of either environment', () => {
    expect(parseKey(VALID)).toEqual({ value: VALID, environment: 'live', masked: 'sk_live_abc...gZW' });
    const test = keyFrom(RANDOM, 'test');
    expect(parseKey(test)).toEqual({ value: test, environment: 'test', masked: 'sk_test_abc...gZW' });
  });

  it.each([
    ['a trailing newline', `${VALID}\n`],
    ['a trailing CRLF', `${VALID}\r\n`],
    ['surrounding spaces', `  ${VALID}  `],
    ['surrounding tabs and newlines', `\t\n${VALID}\n\t`],
  ])('trims %s', (_what, input) => {
    expect(parseKey(input).value).toBe(VALID);
  });

  const cases: [string, string, KeyProblem, string][] = [
    ['an empty string', '', 'empty', 'No API key was given.'],
    ['only whitespace', ' \n\t ', 'empty', 'No API key was given.'],
    [
      'an unknown environment',
      `sk_prod_${RANDOM}${checksum(RANDOM)}`,
      'prefix',
      'Unknown key type: a Sekuire API key starts with sk_live_ or sk_test_.',
    ],
    [
      'an uppercase prefix',
      VALID.toUpperCase(),
      'prefix',
      'A Sekuire API key starts with sk_live_ or sk_test_ (lowercase, with underscores).',
    ],
    [
      'dashes instead of underscores',
      VALID.replace('sk_live_', 'sk-live-'),
      'prefix',
      'A Sekuire API key starts with sk_live_ or sk_test_ (lowercase, with underscores).',
    ],
    [
      'another service’s token',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'prefix',
      'This is not a Sekuire API key: it starts with sk_live_ or sk_test_.',
    ],
    [
      'a quoted key',
      `"${VALID}"`,
      'quoted',
      'Remove the quotes around the key: paste only the key itself, from sk_ to its last character.',
    ],
    [
      'a key in single quotes',
      `'${VALID}'`,
      'quoted',
      'Remove the quotes around the key: paste only the key itself, from sk_ to its last character.',
    ],
    [
      'a key with a closing quote',
      `${VALID}"`,
      'quoted',
      'Remove the quotes around the key: paste only the key itself, from sk_ to its last character.',
    ],
    [
      'a line from a .env file',
      `SEKUIRE_API_KEY=${VALID}`,
      'assignment',
      'Paste only the key: remove "SEKUIRE_API_KEY=" (and any quotes) in front of it, so that it starts with sk_live_ or sk_test_.',
    ],
    [
      'an export line with quotes',
      `export SEKUIRE_API_KEY="${VALID}"`,
      'assignment',
      'Paste only the key: remove "SEKUIRE_API_KEY=" (and any quotes) in front of it, so that it starts with sk_live_ or sk_test_.',
    ],
    [
      'a space inside',
      `${VALID.slice(0, 20)} ${VALID.slice(20)}`,
      'whitespace',
      'The key contains whitespace at character 21: it was split when copied. Copy it again as one line.',
    ],
    [
      'a line break inside',
      `${VALID.slice(0, 30)}\n${VALID.slice(30)}`,
      'whitespace',
      'The key contains whitespace at character 31: it was split when copied. Copy it again as one line.',
    ],
    [
      'a punctuation character',
      `${VALID.slice(0, 12)}-${VALID.slice(13)}`,
      'alphabet',
      'The key has a character outside 0-9, A-Z, a-z at character 13.',
    ],
    [
      'a non-ASCII letter',
      `${VALID.slice(0, 9)}é${VALID.slice(10)}`,
      'alphabet',
      'The key has a character outside 0-9, A-Z, a-z at character 10.',
    ],
    [
      'a missing tail',
      VALID.slice(0, 30),
      'truncated',
      'The key looks truncated: 46 characters expected, got 30. Copy the whole key.',
    ],
    [
      'only the prefix',
      'sk_live_',
      'truncated',
      'The key looks truncated: 46 characters expected, got 8. Copy the whole key.',
    ],
    [
      'one character missing',
      VALID.slice(0, -1),
      'truncated',
      'The key looks truncated: 46 characters expected, got 45. Copy the whole key.',
    ],
    [
      'an extra character',
      `${VALID}x`,
      'too_long',
      'The key is too long: 46 characters expected, got 47. Was something pasted with it?',
    ],
    [
      'a key pasted twice',
      `${VALID}${VALID}`,
      'alphabet',
      'The key has a character outside 0-9, A-Z, a-z at character 49.',
    ],
    [
      'a changed character',
      `${VALID.slice(0, 10)}${VALID.charAt(10) === 'x' ? 'y' : 'x'}${VALID.slice(11)}`,
      'checksum',
      "The key's checksum does not match: a character was changed or mistyped. Copy it again from the dashboard.",
    ],
    [
      'a changed checksum',
      `${VALID.slice(0, -1)}${VALID.endsWith('0') ? '1' : '0'}`,
      'checksum',
      "The key's checksum does not match: a character was changed or mistyped. Copy it again from the dashboard.",
    ],
  ];
  it.each(cases)('rejects %s', (_what, input, problem, message) => {
    const error = problemOf(input);
    expect(error).toBeInstanceOf(KeyFormatError);
    expect(error.name).toBe('KeyFormatError');
    expect(error.problem).toBe(problem);
    expect(error.message).toBe(message);
  });

  it('never repeats the input in a message', () => {
    for (const [, input] of cases) {
      // The random part of the key, wherever it sits in the pasted text.
      const body = input.includes(VALID) ? VALID.slice(8, 40) : input.trim().slice(8, 40);
      if (body.length >= 8) expect(problemOf(input).message).not.toContain(body.slice(0, 8));
    }
  });

  it('throws nothing but KeyFormatError for any string', () => {
    const anyText = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom(...`${BASE62}_ \n\t-.`) }).map((s) => `sk_live_${s}`),
      fc.string({ unit: 'grapheme' }).map((s) => `sk_test_${s}`),
      fc.tuple(random32, fc.string()).map(([random, tail]) => `${keyFrom(random)}${tail}`),
    );
    fc.assert(
      fc.property(anyText, (input) => {
        try {
          const key = parseKey(input);
          expect(key.value).toBe(input.trim());
          expect(key.value).toMatch(/^sk_(live|test)_[0-9A-Za-z]{38}$/);
        } catch (error) {
          expect(error).toBeInstanceOf(KeyFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every single-character substitution in the random part and checksum (exhaustive)', () => {
    const keys = [VALID, keyFrom('sekuirePaddingTest653ZZZZZZZZZZZ', 'test'), mintKey('live').value];
    for (const key of keys) {
      for (let position = 8; position < KEY_LENGTH; position++) {
        for (const replacement of BASE62) {
          if (replacement === key.charAt(position)) continue;
          const changed = `${key.slice(0, position)}${replacement}${key.slice(position + 1)}`;
          expect(problemOf(changed).problem, `${position} ${replacement}`).toBe('checksum');
        }
      }
    }
  });

  it('rejects a random single-character substitution at every position of random keys', () => {
    const replacement = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      fc.constantFrom(...BASE62),
      fc.constantFrom(' ', '\t', '\n', '\u00a0', '-', '_', '+', '/', '=', '\u0000'),
    );
    const replacements = fc.array(replacement, {
      minLength: 38,
      maxLength: 38,
    });
    fc.assert(
      fc.property(
        random32,
        fc.constantFrom(...KEY_ENVIRONMENTS),
        replacements,
        (random, environment, chars) => {
          const key = keyFrom(random, environment);
          chars.forEach((replacement, i) => {
            const position = 8 + i;
            if (replacement === key.charAt(position)) return;
            const changed = `${key.slice(0, position)}${replacement}${key.slice(position + 1)}`;
            // Whitespace as the last character is trimmed away, which leaves the key one short.
            const expected = BASE62.includes(replacement)
              ? 'checksum'
              : !/^\s$/.test(replacement)
                ? 'alphabet'
                : position === KEY_LENGTH - 1
                  ? 'truncated'
                  : 'whitespace';
            expect(problemOf(changed).problem).toBe(expected);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('maskKey', () => {
  it('shows the prefix, the first 3 random characters and the last 3', () => {
    expect(maskKey(VALID)).toBe('sk_live_abc...gZW');
    expect(maskKey(keyFrom('XYZdefghijklmnopqrstuvwxyzABCDEF', 'test'))).toBe(
      `sk_test_XYZ...${checksum('XYZdefghijklmnopqrstuvwxyzABCDEF').slice(-3)}`,
    );
  });

  it('shows at most 6 characters of any key', () => {
    fc.assert(
      fc.property(random32, fc.constantFrom(...KEY_ENVIRONMENTS), (random, environment) => {
        const key = keyFrom(random, environment);
        const masked = maskKey(key);
        expect(masked).toBe(`sk_${environment}_${random.slice(0, 3)}...${key.slice(-3)}`);
        expect(masked).toHaveLength(17);
      }),
    );
  });

  it('hides short or foreign text entirely', () => {
    expect(maskKey('sk_live_abc')).toBe('sk_...');
    expect(maskKey('not-a-key-at-all-0123456789')).toBe('sk_...');
    expect(maskKey('')).toBe('sk_...');
  });
});

describe('crc32', () => {
  it("is zlib's CRC-32 of the UTF-8 bytes, for any text", () => {
    expect(ownCrc32('')).toBe(0);
    expect(ownCrc32('123456789')).toBe(0xcbf43926);
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => ownCrc32(text) === crc32(text)));
  });
});
