// CRC-32 (IEEE 802.3, the one zlib computes), table-driven: a key's checksum without loading node:zlib.
// `node:zlib` has the same function, but loading zlib costs 0.4-0.8 ms at every start of the
// CLI, which checks a key's checksum on every command; building this table takes microseconds.

/** The 256 entries of the reflected polynomial 0xEDB88320. */
const TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** The CRC-32 of the text's UTF-8 bytes, as an unsigned 32-bit number (what `zlib.crc32(text)` returns). */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
