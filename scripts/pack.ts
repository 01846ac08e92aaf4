// npm run pack: the tarballs users install, built from this clone (each package's prepack
// builds it), written to packs/ and listed with their sizes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every package that ships, in the order users meet them. */
export const PUBLISHED = ['sekuire', 'sekuire-server'] as const;

const dir = join(import.meta.dirname, '..', 'packs');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir);
const out = execFileSync(
  'npm',
  ['pack', '--json', '--pack-destination', dir, ...PUBLISHED.flatMap((name) => ['-w', name])],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
for (const { filename, entryCount, unpackedSize } of JSON.parse(out) as {
  filename: string;
  entryCount: number;
  unpackedSize: number;
}[]) {
  const size = statSync(join(dir, filename)).size;
  console.log(
    `packs/${filename}  ${(size / 1024).toFixed(0)} KB, ${entryCount} files, ${(unpackedSize / 1024).toFixed(0)} KB unpacked`,
  );
}
