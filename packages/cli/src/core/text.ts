// Text from outside (the backend, the hostname, os-release) made safe to print and to send.

// Control characters (C0, C1) and line separators become spaces; format characters (bidi
// overrides and isolates, zero-width spaces and joiners, the BOM) are removed: they can
// reorder or hide what a terminal shows.
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;
const FORMAT = /\p{Cf}/gu;

/**
 * One line of plain text: no control or format characters, whitespace runs collapsed, trimmed,
 * and at most `max` UTF-16 units (the server's unit), cut with an ellipsis.
 */
export function cleanText(text: string, max: number): string {
  const clean = text.replace(CONTROL, ' ').replace(FORMAT, '').replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  let end = max - 1;
  // Never split a surrogate pair.
  const last = clean.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${clean.slice(0, end)}…`;
}

/** Names shown on one line (device, organization, user). */
export const MAX_NAME = 200;
/** A backend's message or a URL it gives. */
export const MAX_MESSAGE = 500;
