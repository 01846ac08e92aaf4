// docs/CLI.md says what the code does (the exit-code table, every command and flag, every
// setting), and every page of the documentation points at paths and headings that exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { environmentLine } from '../../packages/cli/src/cli/run.js';
import { EXIT_CODES } from '../../packages/cli/src/core/errors.js';
import { SETTING_NAMES, SETTINGS } from '../../packages/cli/src/core/settings.js';
import { TestMachine } from '../helpers/context.js';

const ROOT = resolve(import.meta.dirname, '../..');
const docs = readFileSync(resolve(ROOT, 'docs/CLI.md'), 'utf8');

describe('docs/CLI.md', () => {
  it('has the exit-code table of packages/cli/src/core/errors.ts, row for row', () => {
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

  it('the main --help names every variable the CLI reads, each documented here', () => {
    const line = environmentLine();
    const names = [...line.matchAll(/\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b/g)].map((match) => match[1] as string);
    for (const setting of Object.values(SETTINGS)) expect(names).toContain(setting.env);
    for (const name of names) expect(docs).toContain(`\`${name}\``);
    for (const row of line.split('\n')) expect(row.length).toBeLessThanOrEqual(100);
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
        ['auth', 'list'],
        ['auth', 'switch'],
        ['api'],
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
    expect(readme).toContain('(docs/CLI.md)');
    expect(readme).not.toContain('../shared');
    expect(docs).not.toContain('../shared');
  });
});

/** Every page people read: the front door, the docs, and what npm shows for each package. */
const PAGES = [
  'README.md',
  ...readdirSync(resolve(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  'packages/cli/README.md',
  'packages/server/README.md',
  'packages/verify/README.md',
];
const read = (page: string) => readFileSync(resolve(ROOT, page), 'utf8');

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = (heading as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    out.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return out;
}

describe('the documentation', () => {
  it('lists docs/ in the README, every page of it', () => {
    const readme = read('README.md');
    for (const page of PAGES.filter((path) => path.startsWith('docs/'))) {
      expect(readme, page).toContain(`(${page})`);
    }
  });

  it('links only to files that exist and headings that exist', () => {
    for (const page of PAGES) {
      for (const [, target] of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        const [path, anchor] = (target as string).split('#') as [string, string | undefined];
        const file = path === '' ? resolve(ROOT, page) : resolve(ROOT, dirname(page), path);
        expect(existsSync(file), `${page}: ${target}`).toBe(true);
        if (anchor !== undefined) {
          expect(anchors(readFileSync(file, 'utf8')), `${page}: ${target}`).toContain(anchor);
        }
      }
    }
  });

  it('docs/DEVELOPMENT.md says what every dependency of every package is for', () => {
    const development = read('docs/DEVELOPMENT.md');
    for (const manifest of [
      'package.json',
      'packages/cli/package.json',
      'packages/server/package.json',
      'packages/verify/package.json',
    ]) {
      const pkg = JSON.parse(read(manifest)) as Record<string, Record<string, string> | undefined>;
      for (const name of [
        ...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys(pkg.devDependencies ?? {}),
      ]) {
        if (name.startsWith('@sekuire/')) continue;
        expect(development, `${manifest}: ${name}`).toContain(name);
      }
    }
  });

  it('names source files by their place in the packages, and only files that exist', () => {
    for (const page of PAGES) {
      const text = read(page);
      for (const [, path] of text.matchAll(/`((?:packages|scripts|test|docs)\/[\w./-]+)`/g)) {
        // What a build writes is checked by the tests of the build, not here.
        if ((path as string).includes('/dist/')) continue;
        expect(existsSync(resolve(ROOT, path as string)), `${page}: ${path}`).toBe(true);
      }
      if (page.startsWith('packages/')) continue;
      // Before the packages, the sources were src/cli, src/core, src/server and the builds
      // dist/cli.cjs, dist/server.js, all at the root.
      expect(text, page).not.toMatch(
        /(?<![\w./-])(?:src\/(?:cli|core|server)\b|dist\/(?:cli\.cjs|server\.js))/,
      );
    }
  });
});
