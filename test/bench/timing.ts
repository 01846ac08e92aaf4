// Wall-clock timing of short-lived commands: hyperfine when available, else an equivalent loop here.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Summary, summarize } from './stats.js';

export interface TimedCommand {
  /** Short label, also hyperfine's --command-name. */
  readonly name: string;
  readonly argv: readonly string[];
}

export interface CommandTiming {
  readonly name: string;
  /** The command line as it was run. */
  readonly command: string;
  /** Milliseconds. */
  readonly ms: Summary;
}

export interface TimingOptions {
  readonly warmup: number;
  readonly runs: number;
  readonly env: NodeJS.ProcessEnv;
  /** A file every command reads as its stdin (hyperfine --input); stdin is /dev/null otherwise. */
  readonly stdinFile?: string;
}

export interface Timer {
  readonly kind: 'hyperfine' | 'loop';
  /** Runs each command warmup + runs times, in the order given, one after the other. */
  time(commands: readonly TimedCommand[], options: TimingOptions): CommandTiming[];
}

const SAFE_WORD = /^[\w@%+=:,./-]+$/;

/** POSIX shell quoting; hyperfine -N splits its command strings with the same rules. */
export function shellQuote(word: string): string {
  return SAFE_WORD.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

interface HyperfineResult {
  command: string;
  times: number[];
}

export function hyperfineTimer(path: string, scratchDir: string): Timer {
  let invocation = 0;
  return {
    kind: 'hyperfine',
    time(commands, options) {
      invocation += 1;
      const exportFile = join(scratchDir, `hyperfine-${invocation}.json`);
      const args = [
        '--shell=none',
        '--warmup',
        String(options.warmup),
        '--runs',
        String(options.runs),
        '--style',
        'basic',
        '--export-json',
        exportFile,
      ];
      if (options.stdinFile !== undefined) args.push('--input', options.stdinFile);
      for (const command of commands) args.push('--command-name', command.name, commandLine(command.argv));
      const result = spawnSync(path, args, { env: options.env, stdio: ['ignore', 'inherit', 'inherit'] });
      if (result.status !== 0) {
        throw new Error(
          `hyperfine failed (exit ${result.status}, signal ${result.signal}): ${args.join(' ')}`,
        );
      }
      const exported = JSON.parse(readFileSync(exportFile, 'utf8')) as { results: HyperfineResult[] };
      return commands.map((command, index) => {
        const found = exported.results[index];
        if (found === undefined) throw new Error(`hyperfine exported no result for ${command.name}`);
        return {
          name: command.name,
          command: found.command,
          ms: summarize(found.times.map((s) => s * 1000)),
        };
      });
    },
  };
}

/** The fallback: spawnSync each command, output discarded, as hyperfine -N does. */
export function loopTimer(): Timer {
  return {
    kind: 'loop',
    time(commands, options) {
      return commands.map((command) => {
        const [file, ...args] = command.argv;
        if (file === undefined) throw new Error(`empty command ${command.name}`);
        const once = (): number => {
          const stdin = options.stdinFile === undefined ? 'ignore' : openSync(options.stdinFile, 'r');
          const started = process.hrtime.bigint();
          try {
            const result = spawnSync(file, args, { env: options.env, stdio: [stdin, 'ignore', 'ignore'] });
            const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
            if (result.status !== 0) {
              throw new Error(`${commandLine(command.argv)} exited with ${result.status} (${result.signal})`);
            }
            return elapsed;
          } finally {
            if (typeof stdin === 'number') closeSync(stdin);
          }
        };
        for (let i = 0; i < options.warmup; i++) once();
        const times: number[] = [];
        for (let i = 0; i < options.runs; i++) times.push(once());
        process.stderr.write(`  ${command.name}: ${summarize(times).mean.toFixed(1)} ms mean\n`);
        return { name: command.name, command: commandLine(command.argv), ms: summarize(times) };
      });
    },
  };
}
