// The one rule for text people read (names of keys, devices, people, organizations): the API,
// the pages and the commands all ask it, and each phrases its answer in its own way.

/** Nothing legitimate a person names is longer. */
export const MAX_TEXT_LENGTH = 200;

/**
 * Control (Cc), format (Cf: bidi overrides and isolates, zero-width characters) and line or
 * paragraph separators (Zl, Zp): a name with one of them can reorder or hide text on an
 * approval page or in a terminal, and so pass for another.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * Characters that draw nothing: spaces of every kind, combining marks on their own, and the
 * letters and symbols fonts render empty (Hangul fillers, the blank Braille pattern).
 */
const BLANK = /^[\p{White_Space}\p{M}\u115f\u1160\u2800\u3164\uffa0]*$/u;

/** True when the text holds a character the rule refuses anywhere (emails too). */
export function hasInvisible(value: string): boolean {
  return INVISIBLE.test(value);
}

export type TextProblem = 'empty' | 'too_long' | 'invisible' | 'blank';

export interface TextRule {
  /** Longest allowed, in UTF-16 units. */
  readonly max?: number;
  /** An empty string is allowed (an optional fact, such as an OS version). */
  readonly optional?: boolean;
}

/** Undefined when the text may be stored and shown as it is; else what is wrong with it. */
export function textProblem(value: string, rule: TextRule = {}): TextProblem | undefined {
  const max = rule.max ?? MAX_TEXT_LENGTH;
  if (value === '') return rule.optional === true ? undefined : 'empty';
  if (value.length > max) return 'too_long';
  if (INVISIBLE.test(value)) return 'invisible';
  if (BLANK.test(value)) return rule.optional === true && value.trim() === '' ? undefined : 'blank';
  return undefined;
}

/** The sentence that ends each edge's message about a problem (after "NAME must ..."). */
export function textRuleWords(problem: TextProblem, max = MAX_TEXT_LENGTH): string {
  switch (problem) {
    case 'empty':
    case 'blank':
      return 'not be empty';
    case 'too_long':
      return `be at most ${max} characters`;
    case 'invisible':
      return 'not contain control or invisible characters (line breaks, bidi controls, zero-width characters)';
  }
}

/**
 * For showing text a client chose that was stored before this rule, or that only passes
 * through a page: what the rule refuses is removed, and the rest cut to the limit.
 */
export function shownText(value: string | undefined, fallback: string, max = MAX_TEXT_LENGTH): string {
  const text = (value ?? '')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .trim()
    .slice(0, max);
  return text === '' || BLANK.test(text) ? fallback : text;
}

const INVISIBLE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * For a terminal: every character the rule refuses written as `\u{...}`, so a name stored
 * before the rule, or an address or detail a client chose, cannot reorder or hide the text
 * around it.
 */
export function escapeInvisible(text: string): string {
  return text.replace(
    INVISIBLE_ALL,
    (char) => `\\u{${(char.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`,
  );
}

/** The same for JSON text: `\uXXXX` escapes, which a JSON parser reads back as the same string. */
export function jsonEscapeInvisible(json: string): string {
  return json.replace(INVISIBLE_ALL, (char) => {
    let escaped = '';
    for (let i = 0; i < char.length; i++) escaped += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return escaped;
  });
}
