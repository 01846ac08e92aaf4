// The audit trail as an export: one JSON object per line, or CSV (RFC 4180) with a header row.
import { jsonEscapeInvisible } from '../domain/text.js';
import type { AuditEvent } from '../store/queries/audit.js';

export const AUDIT_FORMATS = ['jsonl', 'csv'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

const CSV_COLUMNS = [
  'id',
  'at',
  'event',
  'key_id',
  'fingerprint',
  'device_name',
  'client_ip',
  'actor_user_id',
  'detail',
] as const;

/** RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Records end with CRLF, as RFC 4180 has them. */
export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

export function csvRecord(event: AuditEvent): string {
  const detail = event.detail === null ? null : JSON.stringify(event.detail);
  return `${CSV_COLUMNS.map((column) => csvField(column === 'detail' ? detail : event[column])).join(',')}\r\n`;
}

export function jsonLine(event: AuditEvent): string {
  return `${jsonEscapeInvisible(JSON.stringify(event))}\n`;
}
