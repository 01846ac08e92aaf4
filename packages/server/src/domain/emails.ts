// One form of an email address for storing, finding and counting it, the same on both engines.
// Databases fold case by their locale (PostgreSQL under en_US.UTF-8 makes "İ" an "i"; SQLite
// folds ASCII only), so folding is never left to them: an address is stored in this form and
// compared as is. Otherwise "alİce@…" could reach alice's account on PostgreSQL while the
// sign-in limits counted it as someone else.

import { hasInvisible } from './text.js';

/** Trimmed, with ASCII letters in lower case; every other character as typed. */
export function normalizeEmail(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** RFC 5321's limit on a whole address. */
export const MAX_EMAIL_LENGTH = 254;

/**
 * An address people can be told apart by: one @ with something on each side, no spaces, no
 * invisible characters (the text rule's), at most 254 characters. The commands and the pages
 * ask this; nobody checks that a mailbox exists.
 */
export function isEmailAddress(text: string): boolean {
  const at = text.indexOf('@');
  return (
    text.length <= MAX_EMAIL_LENGTH &&
    !/\s/.test(text) &&
    !hasInvisible(text) &&
    at >= 1 &&
    at === text.lastIndexOf('@') &&
    at < text.length - 1
  );
}
