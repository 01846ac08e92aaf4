// How every value interpolated into a page is written: HTML-escaped, and with the characters
// the text rule refuses (domain/text.ts) made visible, so a name stored before the rule cannot
// reorder or hide the text around it.
import { escapeInvisible } from '../../domain/text.js';

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Eta's escapeFunction: the same five characters as Eta's own, after escapeInvisible. */
export function pageEscape(value: unknown): string {
  return escapeInvisible(String(value)).replace(/[&<>"']/g, (char) => HTML[char] ?? char);
}
