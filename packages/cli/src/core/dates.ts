// Times as people read them in messages: "2026-12-06 23:28 UTC", not a raw ISO string.

/** An ISO 8601 time as "YYYY-MM-DD HH:MM UTC"; text that is not a time comes back as it is. */
export function humanTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "in 5 hours", "in 3 days": how long until `ms` from `now`, rounded down, at least "in 1 minute". */
export function timeUntil(ms: number, now: number): string {
  const left = Math.max(0, ms - now);
  const [count, unit] =
    left >= 2 * 86_400_000
      ? [Math.floor(left / 86_400_000), 'day']
      : left >= 2 * 3_600_000
        ? [Math.floor(left / 3_600_000), 'hour']
        : [Math.max(1, Math.floor(left / 60_000)), 'minute'];
  return `in ${count} ${unit}${count === 1 ? '' : 's'}`;
}
