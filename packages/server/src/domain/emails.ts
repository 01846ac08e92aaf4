// One form of an email address for storing, finding and counting it, the same on both engines.
// Databases fold case by their locale (PostgreSQL under en_US.UTF-8 makes "İ" an "i"; SQLite
// folds ASCII only), so folding is never left to them: an address is stored in this form and
// compared as is. Otherwise "alİce@…" could reach alice's account on PostgreSQL while the
// sign-in limits counted it as someone else.

/** Trimmed, with ASCII letters in lower case; every other character as typed. */
export function normalizeEmail(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}
