// Loaded with NODE_OPTIONS=--require by key-store tests: at exit, writes the files this process
// required (one a line) to LOADED_FILES_OUT, to show which bundles a command parsed.
const { writeFileSync } = require('node:fs');

const out = process.env.LOADED_FILES_OUT;
if (out !== undefined && out !== '') {
  process.on('exit', () => writeFileSync(out, `${Object.keys(require.cache).join('\n')}\n`));
}
