// In-process commands: a Context with buffered streams (TTY flags settable), a temp SEKUIRE_HOME and a settable machine ID.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  type Context,
  connectClient,
  type InStream,
  type OutStream,
} from '../../packages/cli/src/cli/context.js';
import { run } from '../../packages/cli/src/cli/run.js';
import type { ClientOptions } from '../../packages/cli/src/core/client.js';
import type { PlatformMachineId } from '../../packages/cli/src/core/machine-id.js';

/** A stream that keeps what is written; `fail` makes every write report that error instead. */
export class Buffered implements OutStream {
  private chunks: Buffer[] = [];
  fail: NodeJS.ErrnoException | undefined;
  constructor(readonly isTTY = false) {}
  /** Everything written, as bytes. */
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean {
    if (this.fail) {
      const error = this.fail;
      queueMicrotask(() => callback?.(error));
      return false;
    }
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    queueMicrotask(() => callback?.(null));
    return true;
  }
}

export interface RunOptions {
  /** Written to stdin, which then ends; stdin is empty (and ended) when absent. */
  readonly input?: string;
  readonly env?: Record<string, string | undefined>;
  /** Terminal flags of stdin, stdout and stderr. */
  readonly tty?: { readonly stdin?: boolean; readonly stdout?: boolean; readonly stderr?: boolean };
  /** Overrides of the context (hostname, osVersion, connect...). */
  readonly context?: Partial<Context>;
  /** Transport seams for the backend client (fake clock, sleep). */
  readonly transport?: ClientOptions['transport'];
  /** Set to make stdout report this error on every write. */
  readonly stdoutError?: NodeJS.ErrnoException;
}

export interface CommandRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as bytes (`sekuire api` prints binary answers as they came). */
  readonly stdoutBytes: Buffer;
  json<T = Record<string, unknown>>(): T;
  /** stdout split into lines, without the final empty one. */
  lines(): string[];
}

function stdinFrom(text: string | undefined, tty: boolean): InStream {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) stream.isTTY = true;
  stream.end(text ?? '');
  return stream as unknown as InStream;
}

/** A 32-hex machine ID derived from a name: the same name is the same machine. */
export function machineIdFor(name: string): string {
  return createHash('md5').update(name).digest('hex');
}

/**
 * A scratch machine: its own HOME and SEKUIRE_HOME, its machine ID from the platform seam
 * (`null`: the machine has none, as in a container). Nothing of the real environment leaks in.
 */
export class TestMachine {
  readonly dir: string;
  readonly home: string;
  constructor(
    readonly name: string,
    readonly baseEnv: Record<string, string | undefined> = {},
    readonly machineId: string | null = machineIdFor(name),
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'sekuire-cli-'));
    this.home = join(this.dir, 'sekuire-home');
  }

  get authFile(): string {
    return join(this.home, 'auth.json');
  }

  context(options: RunOptions = {}): { ctx: Context; stdout: Buffered; stderr: Buffered } {
    const env: Record<string, string | undefined> = {
      HOME: this.dir,
      SEKUIRE_HOME: this.home,
      ...this.baseEnv,
      ...options.env,
    };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    const stdout = new Buffered(options.tty?.stdout ?? false);
    stdout.fail = options.stdoutError;
    const stderr = new Buffered(options.tty?.stderr ?? false);
    const stdin = stdinFrom(options.input, options.tty?.stdin ?? false);
    const machineId: PlatformMachineId =
      this.machineId === null ? { unusable: 'no machine ID in this test' } : { id: this.machineId };
    const ctx: Context = {
      env,
      cwd: this.dir,
      home: env.SEKUIRE_HOME ?? join(this.dir, '.sekuire'),
      stdin,
      stdout,
      stderr,
      platform: 'linux',
      arch: 'x64',
      now: () => new Date('2026-01-02T03:04:05.000Z'),
      hostname: () => `host-${this.name}`,
      osVersion: async () => 'Debian GNU/Linux 12 (bookworm)',
      readPlatformMachineId: async () => machineId,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      // A desktop unless the test's environment says otherwise (SSH_CONNECTION, no DISPLAY, BROWSER).
      browser: () => ({ env, platform: 'linux', exists: () => false, read: () => undefined }),
      connect: (connectOptions) => connectClient(env, connectOptions, options.transport),
      ...options.context,
    };
    return { ctx, stdout, stderr };
  }

  async run(args: readonly string[], options: RunOptions = {}): Promise<CommandRun> {
    const { ctx, stdout, stderr } = this.context(options);
    const code = await run(ctx, ['node', 'sekuire', ...args]);
    return {
      code,
      stdout: stdout.text,
      stderr: stderr.text,
      stdoutBytes: stdout.bytes,
      json: <T>() => JSON.parse(stdout.text) as T,
      lines: () => stdout.text.replace(/\n$/, '').split('\n'),
    };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
