// The fast path reads argv exactly as commander would, and leaves every other form to commander.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../packages/cli/src/cli/commands/status.js';
import { fastCommand } from '../../packages/cli/src/cli/fast-argv.js';

/** The options commander hands status's action for `sekuire …args`, or its error code. */
async function commanderReads(args: readonly string[]): Promise<Record<string, unknown> | string> {
  const program = new Command('sekuire').exitOverride().configureOutput({
    writeOut: () => {},
    writeErr: () => {},
  });
  register(program, () => {});
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(['node', 'sekuire', ...args]);
  } catch (error) {
    return (error as { code: string }).code;
  }
  return { ...program.commands.find((command) => command.name() === 'status')?.opts() };
}

const READ_FAST: readonly (readonly string[])[] = [
  ['status'],
  ['status', '--offline'],
  ['status', '--json'],
  ['status', '--show-key', '--offline', '--json'],
  ['status', '--offline', '--offline'],
  ['status', '--backend', 'https://sekuire.example'],
  ['status', '--backend=https://sekuire.example', '--offline'],
  ['status', '--backend='],
  ['status', '--backend', ''],
  // commander takes whatever follows --backend as its value, a flag included
  ['status', '--backend', '--json'],
  ['status', '--json', '--backend', '-x'],
  ['status', '--profile', 'work'],
  ['status', '--profile=work', '--backend', 'https://sekuire.example', '--json'],
  ['status', '--offline', '--profile', 'Not A Name'],
];

const LEFT_TO_COMMANDER: readonly (readonly string[])[] = [
  [],
  ['--help'],
  ['--version', 'status'],
  ['-V', '-V'],
  ['status', '--help'],
  ['status', '-h'],
  ['status', 'extra'],
  ['status', '--'],
  ['status', '--backend'],
  ['status', '--backend', 'https://a.example', '--backend', 'https://b.example'],
  ['status', '--profile'],
  ['status', '--profile', 'a', '--profile', 'b'],
  ['status', '--profiles', 'a'],
  ['status', '--offline=yes'],
  ['status', '--ofline'],
  ['status', '--constructor'],
  ['status', '--backend-url', 'https://a.example'],
  ['--json', 'status'],
  ['auth', 'whoami'],
  ['login'],
];

describe('fastCommand', () => {
  it('reads --version alone, as commander prints it', () => {
    expect(fastCommand(['--version'])).toEqual({ kind: 'version' });
    expect(fastCommand(['-V'])).toEqual({ kind: 'version' });
  });

  it.each(READ_FAST.map((args) => [args.join(' '), args] as const))(
    'reads `status %s` into the options commander gives',
    async (_name, args) => {
      const fast = fastCommand(args);
      const expected = await commanderReads(args);
      expect(typeof expected).toBe('object');
      expect(fast).toEqual({ kind: 'status', options: expected, asJson: args.includes('--json') });
    },
  );

  it.each(LEFT_TO_COMMANDER.map((args) => [args.join(' '), args] as const))(
    'leaves `%s` to commander',
    (_name, args) => {
      expect(fastCommand(args)).toBeUndefined();
    },
  );
});
