// What a command touches: env, files, streams and their TTY flags, clock, host facts, machine ID, backend.
import { hostname, userInfo } from 'node:os';
import { arch, platform } from 'node:process';
import type { ApiKey } from '@sekuire/shared/key';
import { type BrowserFacts, machineFacts } from '../core/browser.js';
import type { BackendClient, ClientOptions } from '../core/client.js';
import type { DeviceInputs } from '../core/device.js';
import type { DeviceKey } from '../core/device-key.js';
import { type Env, sekuireHome } from '../core/home.js';
import type { NetworkPolicy } from '../core/http/policy.js';
import type { HttpEvent } from '../core/http/send.js';
import { type PlatformMachineId, readPlatformMachineId } from '../core/machine-id.js';
import { osVersion } from '../core/os-facts.js';
import { processStreams } from './streams.js';

export interface OutStream {
  /** Text, or bytes (`sekuire api` prints answers as they came). */
  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean;
  readonly isTTY?: boolean;
}

export interface InStream extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface ConnectOptions {
  readonly backend: URL;
  /** Where the backend URL came from, named in hints when it does not answer as the API. */
  readonly backendSource: string;
  /** The key to send; absent for browser login's calls, made before there is a key. */
  readonly key?: ApiKey;
  /** This device's key: every request is signed with it when given. */
  readonly proof?: DeviceKey;
  /** The wall clock proofs are dated with (Date.now; tests skew it). */
  readonly wallClock?: () => number;
  readonly fingerprint: string;
  readonly policy: NetworkPolicy;
  readonly onEvent?: (event: HttpEvent) => void;
}

export interface Context {
  readonly env: Env;
  readonly cwd: string;
  /** SEKUIRE_HOME, else ~/.sekuire. Throws a UsageError when there is no safe home to use. */
  readonly home: string;
  readonly stdin: InStream;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly now: () => Date;
  readonly hostname: () => string;
  /** The OS version sent at login (os-release on Linux; spawns elsewhere). */
  readonly osVersion: () => Promise<string>;
  readonly readPlatformMachineId: () => Promise<PlatformMachineId>;
  /** Waits (browser login polls at the backend's interval); tests make it instant. */
  readonly sleep: (ms: number) => Promise<void>;
  /** What deciding how to open a browser needs to know about this machine. */
  readonly browser: () => BrowserFacts;
  /** The backend client, loaded only by commands that talk to the backend. */
  readonly connect: (options: ConnectOptions) => Promise<BackendClient>;
}

/** Builds the client; the HTTP code is imported here, so that commands which do not call it never load it. */
export async function connectClient(
  env: Env,
  options: ConnectOptions,
  transport?: ClientOptions['transport'],
): Promise<BackendClient> {
  const { BackendClient } = await import('../core/client.js');
  return new BackendClient({ ...options, env, ...(transport ? { transport } : {}) });
}

/** This process's context; `streams` as processStreams() makes them (status writes through the descriptors). */
export function processContext(streams = processStreams()): Context {
  const env = process.env;
  const cwd = process.cwd();
  let home: string | undefined;
  return {
    env,
    cwd,
    // Resolved on first use, so that --version and --help never depend on HOME.
    get home() {
      home ??= sekuireHome(env, cwd, () => userInfo().homedir);
      return home;
    },
    // A getter: creating process.stdin sets up a stream, which only login and --with-key need.
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      return streams.stdout;
    },
    get stderr() {
      return streams.stderr;
    },
    platform,
    arch,
    now: () => new Date(),
    hostname,
    osVersion: () => osVersion(platform),
    readPlatformMachineId: () => readPlatformMachineId(platform, env),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    browser: () => machineFacts(env, platform),
    connect: (options) => connectClient(env, options),
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

/** Colour for what is drawn on stderr (prompts): a terminal, and neither NO_COLOR nor FORCE_COLOR=0. */
export function useColour(ctx: Context): boolean {
  if (ctx.env.NO_COLOR) return false;
  const force = ctx.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return ctx.stderr.isTTY === true && ctx.env.TERM !== 'dumb';
}
