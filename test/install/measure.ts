// Install time and installed size of each tarball, empty then warm npm cache, on SEKUIRE_TEST_NODE:
//   SEKUIRE_TEST_NODE=$(bash scripts/node-bin.sh 22) npx tsx test/install/measure.ts
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PUBLISHED } from '../../scripts/pack.js';
import { nodeUnderTest } from './node-under-test.js';
import { seedPrebuilt } from './prebuilt.js';
import { Prefix, treeSize } from './prefix.js';
import { packCurrent } from './tarballs.js';

const node = nodeUnderTest();
const serverPackage = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../packages/server/package.json'), 'utf8'),
) as { dependencies: Record<string, string> };
const first = new Prefix(node);
const tarballs = packCurrent(join(first.dir, 'packs'));
const prebuilt = seedPrebuilt(serverPackage.dependencies['better-sqlite3'] ?? '', node, first.npmCache);
console.log(
  `Node ${node.version}, better-sqlite3 ${prebuilt.sha256 === undefined ? 'compiled' : 'prebuilt'}`,
);
try {
  for (const cache of ['empty', 'warm'] as const) {
    // The warm round installs into a new prefix with the npm cache the first round filled.
    const prefix = cache === 'empty' ? first : new Prefix(node, first.npmCache);
    for (const name of PUBLISHED) {
      const args = name === 'sekuire-server' ? ['--allow-scripts=better-sqlite3'] : [];
      const install = await prefix.npmInstall([...args, tarballs[name].path]);
      if (install.code !== 0)
        throw new Error(`${name}: npm install exited ${install.code}\n${install.stderr}`);
      const size = treeSize(prefix.installed(name)) / 1024 / 1024;
      console.log(
        `${cache} cache  ${name.padEnd(15)} ${(install.ms / 1000).toFixed(1).padStart(5)} s  ${size.toFixed(2)} MB`,
      );
    }
    if (prefix !== first) prefix.remove();
  }
} finally {
  first.remove();
}
