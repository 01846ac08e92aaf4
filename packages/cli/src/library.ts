// The `sekuire` package as a library: createClient().fetch signs each request exactly as `sekuire api` does.
import { userInfo } from 'node:os';
import { arch, platform } from 'node:process';
import { sendSigned } from './core/api-call.js';
import { type ApiRequest, parseHeader, resolveTarget } from './core/api-request.js';
import { parseAudiences } from './core/audiences.js';
import { type Env, sekuireHome } from './core/home.js';
import { readPlatformMachineId } from './core/machine-id.js';
import { resolveProfile } from './core/profiles.js';
import { parseGivenKey, resolveSession, type Session } from './core/session.js';
import { Settings } from './core/settings.js';

export { SekuireError } from './core/errors.js';

export interface SekuireClientOptions {
  /** A key to use instead of the stored login (as SEKUIRE_API_KEY would be). */
  readonly key?: string;
  /** The Sekuire home holding auth.json and device-key.json (default: SEKUIRE_HOME, else ~/.sekuire). */
  readonly home?: string;
  /**
   * The profile whose login, backend and device key are used (default, as for the CLI:
   * SEKUIRE_PROFILE in `env`, else the home's active profile, else `default`).
   */
  readonly profile?: string;
  /** Another backend for paths (the stored key is then sent there, as with --backend). */
  readonly backend?: string;
  /** Origins besides the backend that the key may go to, added to the `audiences` setting. */
  readonly audiences?: readonly string[];
  /** The environment to read settings from (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface SekuireClient {
  /**
   * A request with the key and, for a key bound to this device, a device proof over the bytes
   * sent. `input`: a path on the key's backend, or a URL of the backend's origin or an audience;
   * any other origin is refused before anything is sent.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
}

/** Statuses whose Response must have no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** What a request needs of the session: resolved once, on the first fetch. */
interface Ready {
  readonly session: Session;
  readonly settings: Settings;
  readonly audiences: readonly string[];
  readonly env: Env;
}

async function prepare(options: SekuireClientOptions): Promise<Ready> {
  const env: Env = {
    ...(options.env ?? process.env),
    ...(options.home !== undefined && { SEKUIRE_HOME: options.home }),
  };
  const home = sekuireHome(env, process.cwd(), () => userInfo().homedir);
  const settings = Settings.load(env, home);
  const session = await resolveSession({
    env,
    home,
    platform,
    arch,
    readPlatformMachineId: () => readPlatformMachineId(platform, env),
    settings,
    profile: resolveProfile(home, env, options.profile),
    ...(options.key !== undefined && {
      explicitKey: parseGivenKey(
        options.key,
        (problem) => `The key given to createClient is not valid: ${problem}`,
      ),
    }),
    ...(options.backend !== undefined && {
      backendFlag: { value: options.backend, name: 'the backend option' },
    }),
  });
  const audiences = [
    ...parseAudiences(String(settings.get('audiences')?.value ?? ''), 'audiences'),
    ...parseAudiences((options.audiences ?? []).join(','), 'the audiences option'),
  ];
  return { session, settings, audiences, env };
}

/** The body as bytes, and the Content-Type fetch would give it (FormData, URLSearchParams, Blob). */
async function bodyOf(init: RequestInit): Promise<{ bytes?: Buffer; type?: string }> {
  if (init.body === undefined || init.body === null) return {};
  const serialized = new Response(init.body);
  const type = serialized.headers.get('content-type');
  return { bytes: Buffer.from(await serialized.arrayBuffer()), ...(type !== null && { type }) };
}

export function createClient(options: SekuireClientOptions = {}): SekuireClient {
  let ready: Promise<Ready> | undefined;
  return {
    async fetch(input, init = {}) {
      if (typeof input !== 'string' && !(input instanceof URL)) {
        throw new TypeError('client.fetch takes a path or a URL, and the request as its second argument.');
      }
      ready ??= prepare(options);
      const { session, settings, audiences, env } = await ready;
      const url = resolveTarget(typeof input === 'string' ? input : input.href, session.backend, audiences);
      const headers: Record<string, string> = {};
      for (const [name, value] of new Headers(init.headers)) {
        const [checked, text] = parseHeader(`${name}: ${value}`);
        headers[checked] = text;
      }
      const body = await bodyOf(init);
      if (body.type !== undefined && !Object.hasOwn(headers, 'content-type'))
        headers['content-type'] = body.type;
      const request: ApiRequest = {
        method: (init.method ?? 'GET').toUpperCase(),
        url,
        headers,
        ...(body.bytes !== undefined && { body: body.bytes }),
      };
      const answer = await sendSigned(
        request,
        {
          key: session.key,
          ...(session.proof !== undefined && { proof: session.proof }),
          fingerprint: session.device.fingerprint,
          backend: session.backend,
        },
        { policy: settings.policy(), env },
      );
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined) responseHeaders.append(name, value);
      }
      const bytes = answer.bytes ?? Buffer.from(answer.body);
      return new Response(NULL_BODY.has(answer.status) ? null : bytes, {
        status: answer.status,
        statusText: answer.statusText ?? '',
        headers: responseHeaders,
      });
    },
  };
}
