// sekuire config get|set|unset|list|path: non-secret defaults in $SEKUIRE_HOME/config.json (written with conf).
import type { Command } from 'commander';
import { CONFIG_FILE, configPath, readConfig } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { checkWritable } from '../../core/private-files.js';
import { isSettingName, SETTING_NAMES, SETTINGS, type SettingName, Settings } from '../../core/settings.js';
import type { Context } from '../context.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { ConfigResult } from '../results.js';
import type { Schedule } from './types.js';

const NAMES_HELP = SETTING_NAMES.map(
  (name) =>
    `  ${name.padEnd(16)}${SETTINGS[name].description} (${SETTINGS[name].env}; default: ${SETTINGS[name].defaultText})`,
).join('\n');

export function register(program: Command, schedule: Schedule): void {
  const config = program
    .command('config')
    .description('Read and change the defaults kept in config.json (backend, web_url, timeouts)')
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire config set backend https://sekuire.internal.example',
          'sekuire config get backend',
          'sekuire config list',
          'sekuire config unset web_url',
        ],
        ['localFiles'],
        `Settings (a flag, then the environment variable, wins over config.json):\n${NAMES_HELP}\nA stored key is still sent only to the backend that verified it.`,
      ),
    )
    .helpCommand(false);
  config
    .command('get')
    .description('Print the value in effect (environment, config.json or default) alone on stdout')
    .argument('<name>', `one of: ${SETTING_NAMES.join(', ')}`)
    .option('--json', 'print {"name", "value", "source"} as JSON')
    .action((name: string) => schedule(async (ctx) => get(ctx, name)));
  config
    .command('set')
    .description('Check a value and store it in config.json (0600)')
    .argument('<name>', `one of: ${SETTING_NAMES.join(', ')}`)
    .argument('<value>', 'checked as the environment variable would be')
    .option('--json', 'print the result as JSON')
    .action((name: string, value: string) => schedule((ctx) => set(ctx, name, value)));
  config
    .command('unset')
    .description('Remove a value from config.json (its default applies again)')
    .argument('<name>', `one of: ${SETTING_NAMES.join(', ')}`)
    .option('--json', 'print the result as JSON')
    .action((name: string) => schedule((ctx) => unset(ctx, name)));
  config
    .command('list')
    .description('Show every setting, its value in effect and where that comes from')
    .option('--json', 'print the settings as JSON')
    .action(() => schedule(async (ctx) => list(ctx)));
  config
    .command('path')
    .description('Print the path of config.json')
    .option('--json', 'print {"path"} as JSON')
    .action(() => schedule(async (ctx) => path(ctx)));
}

function settingName(name: string): SettingName {
  if (isSettingName(name)) return name;
  throw new UsageError(`Unknown setting "${name.slice(0, 40)}".`, 'unknown_setting', {
    hint: `Choose one of: ${SETTING_NAMES.join(', ')}`,
  });
}

interface Effective {
  readonly name: SettingName;
  readonly value: string | number;
  readonly source: 'flag' | 'env' | 'config' | 'default';
  /** How `list` names the source: `SEKUIRE_TIMEOUT`, `config.json`, `default`. */
  readonly from: string;
}

function effective(settings: Settings, name: SettingName): Effective {
  const { value, source } = settings.effective(name);
  const from = source.type === 'config' ? 'config.json' : source.type === 'default' ? 'default' : source.name;
  return { name, value, source: source.type, from };
}

function get(ctx: Context, text: string): ConfigResult {
  const name = settingName(text);
  const settings = Settings.load(ctx.env, ctx.home);
  const value = effective(settings, name);
  if (value.source !== 'config')
    note(ctx, `(${value.source === 'default' ? 'the default' : `from ${value.from}`})`);
  return {
    kind: 'config',
    data: { name, value: value.value, source: value.source },
    lines: [String(value.value)],
  };
}

function list(ctx: Context): ConfigResult {
  const settings = Settings.load(ctx.env, ctx.home);
  const all = SETTING_NAMES.map((name) => effective(settings, name));
  const width = Math.max(...SETTING_NAMES.map((name) => name.length));
  return {
    kind: 'config',
    data: { path: configPath(ctx.home), settings: all.map(({ from: _from, ...rest }) => rest) },
    lines: all.map((s) => `${s.name.padEnd(width)}  ${s.value === '' ? '-' : s.value}  (${s.from})`),
  };
}

function path(ctx: Context): ConfigResult {
  const file = configPath(ctx.home);
  return { kind: 'config', data: { path: file }, lines: [file] };
}

/**
 * conf, loaded only here: it costs ~60 ms to import. Its defaults are unsafe for this file (mode
 * 0666, directory 0755, links followed), so the directory is made 0700 and checked (no symlink,
 * ours) and the file checked as auth.json is, before conf touches either; conf writes 0600.
 */
async function store(ctx: Context) {
  checkWritable(ctx.home, CONFIG_FILE, { create: true, size: 256 });
  // Refuses a config.json that is a symlink, another user's, writable by others or not an object.
  readConfig(ctx.home);
  const { default: Conf } = await import('conf');
  const conf = new Conf<Record<string, string | number>>({
    cwd: ctx.home,
    configName: 'config',
    configFileMode: 0o600,
    accessPropertiesByDotNotation: false,
    clearInvalidConfig: false,
  });
  return conf;
}

function overridden(ctx: Context, name: SettingName): void {
  const env = SETTINGS[name].env;
  if (ctx.env[env]?.trim()) note(ctx, `Note: ${env} is set and wins over config.json until you unset it.`);
}

async function set(ctx: Context, text: string, raw: string): Promise<ConfigResult> {
  const name = settingName(text);
  const value = SETTINGS[name].normalize(raw, `the value for ${name}`);
  const conf = await store(ctx);
  conf.set(name, value);
  overridden(ctx, name);
  return {
    kind: 'config',
    data: { name, value, path: conf.path },
    lines: [`Set ${name} = ${value} in ${conf.path}`],
  };
}

async function unset(ctx: Context, text: string): Promise<ConfigResult> {
  const name = settingName(text);
  if (readConfig(ctx.home).values[name] === undefined) {
    return {
      kind: 'config',
      data: { name, removed: false, path: configPath(ctx.home) },
      lines: [`${name} was not set in ${configPath(ctx.home)}`],
    };
  }
  const conf = await store(ctx);
  conf.delete(name);
  return {
    kind: 'config',
    data: { name, removed: true, path: conf.path },
    lines: [`Removed ${name} from ${conf.path} (the default applies: ${SETTINGS[name].defaultText})`],
  };
}
