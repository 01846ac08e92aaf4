// The footer every command's --help ends with: examples, then the exit codes it can return.
export const EXIT_CODE_MEANINGS: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'unexpected failure (a bug)',
  2: 'usage: bad flag, malformed key, no terminal to prompt on',
  10: 'not logged in',
  11: 'key rejected: invalid, revoked or expired',
  12: 'device mismatch: the credentials belong to another device',
  13: 'backend unreachable: network error, timeout, 5xx after retries',
  14: 'forbidden or plan limit',
  15: 'credentials file unusable: corrupt, unsafe mode or owner, symlink, unwritable',
  130: 'interrupted (Ctrl+C)',
};

export function helpFooter(examples: readonly string[], codes: readonly number[], extra = ''): string {
  const width = Math.max(...codes.map((code) => String(code).length));
  return [
    '',
    'Examples:',
    ...examples.map((line) => `  $ ${line}`),
    '',
    'Exit codes:',
    ...codes.map((code) => `  ${String(code).padStart(width)}  ${EXIT_CODE_MEANINGS[code] ?? ''}`),
    ...(extra ? ['', extra] : []),
  ].join('\n');
}
