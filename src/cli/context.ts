// What a command touches: env, files, streams and their TTY flags, clock, machine ID, backend.
import { arch, platform } from 'node:process';
import type { BackendClient } from '../core/client.js';
import type { DeviceInputs } from '../core/device.js';
import { type Env, sekuireHome } from '../core/home.js';
import type { HttpEvent } from '../core/http.js';
import { type PlatformMachineId, readPlatformMachineId } from '../core/machine-id.js';

export interface OutStream {
  write(chunk: string, callback?: (error?: Error | null) => void): boolean;
  readonly isTTY?: boolean;
}

export interface InStream extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
}

export interface ConnectOptions {
  readonly backend: URL;
  readonly apiKey: string;
  readonly fingerprint: string;
  readonly onEvent?: (event: HttpEvent) => void;
}

export interface Context {
  readonly env: Env;
  readonly cwd: string;
  /** SEKUIRE_HOME, else ~/.sekuire. */
  readonly home: string;
  readonly stdin: InStream;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly now: () => Date;
  readonly readPlatformMachineId: () => Promise<PlatformMachineId>;
  /** The backend client, loaded only by commands that talk to the backend. */
  readonly connect: (options: ConnectOptions) => Promise<BackendClient>;
}

/** Connects with the network policy from the environment (SEKUIRE_TIMEOUT and friends). */
async function connect(env: Env, options: ConnectOptions): Promise<BackendClient> {
  const [{ BackendClient }, { policyFromEnv }] = await Promise.all([
    import('../core/client.js'),
    import('../core/http.js'),
  ]);
  return new BackendClient({ ...options, policy: policyFromEnv(env), env });
}

export function processContext(): Context {
  const env = process.env;
  const cwd = process.cwd();
  return {
    env,
    cwd,
    home: sekuireHome(env, cwd),
    // A getter: creating process.stdin sets up a stream, which only login and --with-key need.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    platform,
    arch,
    now: () => new Date(),
    readPlatformMachineId: () => readPlatformMachineId(platform, env),
    connect: (options) => connect(env, options),
  };
}

/** What the device identity needs, without touching stdin (spreading ctx would create it). */
export function deviceInputs(ctx: Context): DeviceInputs {
  return {
    env: ctx.env,
    home: ctx.home,
    platform: ctx.platform,
    arch: ctx.arch,
    readPlatformMachineId: ctx.readPlatformMachineId,
  };
}

/** Prompts need a person: keystrokes on stdin, and stderr (where prompts are drawn) on a screen. */
export function canPrompt(ctx: Context): boolean {
  return ctx.stdin.isTTY === true && ctx.stderr.isTTY === true;
}
