// docs/CLI.md says what the code does: the exit-code table, every command and flag, every setting.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../packages/cli/src/core/errors.js';
import { SETTING_NAMES, SETTINGS } from '../../packages/cli/src/core/settings.js';
import { TestMachine } from '../helpers/context.js';

const ROOT = resolve(import.meta.dirname, '../..');
const docs = readFileSync(resolve(ROOT, 'docs/CLI.md'), 'utf8');

describe('docs/CLI.md', () => {
  it('has the exit-code table of src/core/errors.ts, row for row', () => {
    const section = docs.slice(docs.indexOf('## Exit codes'), docs.indexOf('What falls under each'));
    const rows = [...section.matchAll(/^\| (\d+) +\| (.+?) +\|$/gm)].map((match) => [
      Number(match[1]),
      match[2],
    ]);
    expect(rows).toEqual(Object.values(EXIT_CODES).map(({ code, meaning }) => [code, meaning]));
  });

  it('names every setting, its variable and its config name', () => {
    for (const name of SETTING_NAMES) {
      expect(docs).toContain(`\`${name}\``);
      expect(docs).toContain(`\`${SETTINGS[name].env}\``);
    }
  });

  it('documents every command and every flag that --help shows', async () => {
    const m = new TestMachine('docs');
    try {
      const commands = [
        ['login'],
        ['logout'],
        ['status'],
        ['auth', 'whoami'],
        ['auth', 'token'],
        ['auth', 'test'],
        ['config'],
        ['completion'],
      ];
      for (const words of commands) {
        expect(docs, words.join(' ')).toContain(`sekuire ${words.join(' ')}`);
        const help = (await m.run([...words, '--help'])).stdout;
        for (const flag of help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)) {
          if (flag[1] === '--help') continue;
          expect(docs, `${words.join(' ')} ${flag[1]}`).toContain(flag[1] as string);
        }
      }
    } finally {
      m.cleanup();
    }
  });

  it('the README points at docs/CLI.md, never outside the repository', () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('docs/CLI.md');
    expect(readme).not.toContain('../shared');
    expect(docs).not.toContain('../shared');
  });
});
