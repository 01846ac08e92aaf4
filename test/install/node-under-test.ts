// The Node.js the installed packages run under: SEKUIRE_TEST_NODE (a node binary), else this one.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface NodeUnderTest {
  /** The node binary. */
  readonly bin: string;
  /** `v22.23.5`, as `node --version` prints it. */
  readonly version: string;
  /** process.versions.modules: the ABI a native module must be built for. */
  readonly abi: string;
  /**
   * Where its headers are (`<dir>/include/node/node.h`): npm_config_nodedir for node-gyp, which
   * otherwise downloads them from nodejs.org. Undefined when the binary has none beside it.
   */
  readonly nodedir: string | undefined;
}

export function nodeUnderTest(env: NodeJS.ProcessEnv = process.env): NodeUnderTest {
  const bin = resolve(env.SEKUIRE_TEST_NODE || process.execPath);
  if (!existsSync(bin)) throw new Error(`SEKUIRE_TEST_NODE=${bin}: no such file`);
  const [version = '', abi = ''] = execFileSync(
    bin,
    ['-p', 'process.version + " " + process.versions.modules'],
    { encoding: 'utf8', env: {} },
  )
    .trim()
    .split(' ');
  const prefix = dirname(dirname(bin));
  const nodedir = existsSync(`${prefix}/include/node/node.h`) ? prefix : undefined;
  return { bin, version, abi, nodedir };
}
