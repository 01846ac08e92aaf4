// sekuire api: an HTTP request with the key in use, signed by this device, to the backend or an audience the user listed.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { sendSigned, withoutKey } from '../../core/api-call.js';
import { type BodySources, buildApiRequest, MAX_REQUEST_BYTES } from '../../core/api-request.js';
import { parseAudiences } from '../../core/audiences.js';
import { ExitCode, UsageError } from '../../core/errors.js';
import type { HttpEvent, HttpResponse } from '../../core/http/send.js';
import { resolveProfile } from '../../core/profiles.js';
import { redactKeys } from '../../core/redact.js';
import { resolveSession } from '../../core/session.js';
import { Settings } from '../../core/settings.js';
import { cleanText } from '../../core/text.js';
import { type Context, deviceInputs } from '../context.js';
import { deliver, emit } from '../deliver.js';
import { loginCommandFor, warnExpiry } from '../expiry.js';
import { type BackendOptions, backendFlag, type ProfileOptions, profileOption } from '../flags.js';
import { helpFooter } from '../help.js';
import { note } from '../notes.js';
import type { Schedule } from './types.js';

export interface ApiOptions extends BackendOptions, ProfileOptions {
  readonly target: string;
  readonly method?: string;
  readonly header: readonly string[];
  readonly rawField: readonly string[];
  readonly field: readonly string[];
  readonly input?: string;
  readonly include?: boolean;
  readonly silent?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Commander's options: the repeatable ones are absent when not given (no "(default: [])" in --help). */
type ParsedOptions = Omit<ApiOptions, 'target' | 'header' | 'rawField' | 'field'> &
  Partial<Pick<ApiOptions, 'header' | 'rawField' | 'field'>>;

export function register(program: Command, schedule: Schedule): void {
  const command = program.command('api');
  profileOption(command);
  command
    .description(
      'Call an API with the key in use, signed by this device: a PATH on its backend, or a URL of an origin listed in `sekuire config set audiences`',
    )
    .argument(
      '<path-or-url>',
      'a path on the backend (/api/v1/cli/whoami) or a full URL of an allowed origin',
    )
    .option('-X, --method <method>', 'the HTTP method (default: GET; POST with fields or --input)')
    .option('-H, --header <header>', "a request header, 'Name: value' (repeatable)", collect)
    .option('-f, --raw-field <key=value>', 'a string field (repeatable)', collect)
    .option(
      '-F, --field <key=value>',
      'a typed field: true, false, null and numbers as JSON, @file (or @-) read (repeatable)',
      collect,
    )
    .option('--input <file>', 'the request body, as is, from a file (- for standard input)')
    .option('-i, --include', 'print the status line and headers of the answer to stderr')
    .option('--silent', 'do not print the body of the answer')
    .option(
      '--backend <url>',
      'send a PATH to this backend instead of the one the stored key was verified with',
    )
    .option('--verbose', 'print each request (headers redacted), redirects and retries to stderr')
    .option('--json', 'print {"status", "headers", "body"} as one JSON object (body parsed when it is JSON)')
    .addHelpText(
      'after',
      helpFooter(
        [
          'sekuire api /api/v1/cli/whoami',
          'sekuire api -i /api/v1/cli/status',
          'sekuire api --profile work /api/v1/cli/whoami',
          'sekuire api -X POST https://api.example.com/v1/jobs -f name=nightly -F retries=3',
          'sekuire api -X PUT https://api.example.com/v1/config --input config.json',
          "sekuire api https://api.example.com/v1/items -X GET -f q=disk -H 'Accept: text/csv'",
          'sekuire config set audiences https://api.example.com',
        ],
        [
          'bug',
          'notLoggedIn',
          'keyRejected',
          'deviceMismatch',
          'backendUnreachable',
          'forbidden',
          'localFiles',
        ],
        [
          'The answer goes to stdout as it came (JSON pretty-printed on a terminal); exit 0 for 2xx,',
          '11 for 401, 14 for 403, 1 for any other 4xx (and 3xx), 13 for 5xx or no answer. Fields make a',
          'JSON body, or query parameters with GET (and beside --input); keys are taken literally.',
          'The key goes only to its backend and the origins in `sekuire config get audiences`.',
        ].join('\n'),
      ),
    )
    .action((target: string, options: ParsedOptions) =>
      schedule((ctx) =>
        api(ctx, {
          ...options,
          target,
          header: options.header ?? [],
          rawField: options.rawField ?? [],
          field: options.field ?? [],
        }),
      ),
    );
}

/** Standard input, whole, up to the request limit. */
async function readAll(ctx: Context): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_REQUEST_BYTES) {
      throw new UsageError(
        `Standard input is larger than ${MAX_REQUEST_BYTES} bytes, the most sekuire api sends.`,
        'body_too_large',
      );
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

function sources(ctx: Context): BodySources {
  return {
    // Loaded only for --input FILE and @file: most calls send no file.
    readFile: async (path) => (await import('node:fs/promises')).readFile(resolve(ctx.cwd, path)),
    readStdin: () => readAll(ctx),
  };
}

/** What an answer's status means for the exit code: the table of docs/CLI.md. */
export function exitCodeFor(status: number): number {
  if (status >= 200 && status <= 299) return ExitCode.ok;
  if (status === 401) return ExitCode.keyRejected;
  if (status === 403) return ExitCode.forbidden;
  if (status >= 500) return ExitCode.backendUnreachable;
  return ExitCode.bug;
}

function isJson(response: HttpResponse): boolean {
  return /^application\/([\w.+-]*\+)?json\b/i.test(response.headers['content-type'] ?? '');
}

/** The body parsed, when the answer says it is JSON and it is. */
function parsed(response: HttpResponse, text: string): { value: unknown } | undefined {
  if (!isJson(response)) return undefined;
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** The error's message for stderr: the answer's `message` (or `error`), else the reason phrase. */
function errorLine(response: HttpResponse, body: { value: unknown } | undefined): string {
  const value = body?.value as { message?: unknown; error?: unknown } | undefined;
  const text =
    typeof value?.message === 'string' ? value.message : typeof value?.error === 'string' ? value.error : '';
  const reason = cleanText(response.statusText ?? '', 100);
  return `HTTP ${response.status}${reason ? ` ${reason}` : ''}${text ? `: ${cleanText(text, 500)}` : ''}`;
}

export async function api(ctx: Context, options: ApiOptions): Promise<number> {
  const settings = Settings.load(ctx.env, ctx.home);
  const audiences = parseAudiences(String(settings.get('audiences')?.value ?? ''), 'audiences');
  const policy = settings.policy();
  const session = await resolveSession({
    ...deviceInputs(ctx),
    settings,
    backendFlag: backendFlag(options),
    // The profile's login (its key, backend and device key), as for status.
    profile: resolveProfile(ctx.home, ctx.env, options.profile),
  });
  note(ctx, ...settings.config.warnings, ...session.notes);
  const request = await buildApiRequest(
    {
      target: options.target,
      headers: options.header,
      rawFields: options.rawField,
      typedFields: options.field,
      ...(options.method !== undefined && { method: options.method }),
      ...(options.input !== undefined && { input: options.input }),
    },
    session.backend,
    audiences,
    sources(ctx),
  );
  const key = session.key;
  let onEvent: ((event: HttpEvent) => void) | undefined;
  if (options.verbose) {
    const { describeEvent } = await import('./auth-test.js');
    onEvent = (event) => {
      for (const line of describeEvent(event)) ctx.stderr.write(`${redactKeys(line, key)}\n`);
    };
  }
  const response = await sendSigned(
    request,
    {
      key,
      ...(session.proof !== undefined && { proof: session.proof }),
      fingerprint: session.device.fingerprint,
      backend: session.backend,
    },
    { policy, env: ctx.env, ...(onEvent !== undefined && { onEvent }) },
  );
  // As whoami: the answer is not Sekuire's, so the expiry is the one the backend gave at login.
  warnExpiry(ctx, {
    value: key.value,
    masked: key.masked,
    expiresAt: session.stored?.credentials.expires_at || null,
    loginCommand: loginCommandFor(session.stored ? session.profile.name : undefined),
  });
  const code = exitCodeFor(response.status);
  const bytes = withoutKey(response.bytes ?? Buffer.from(response.body), key);
  const text = bytes.toString('utf8');
  const body = parsed(response, text);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = redactKeys(value, key);
  }
  if (options.json) {
    const utf8 = Buffer.from(text, 'utf8').equals(bytes);
    const object = {
      status: response.status,
      headers,
      body: body !== undefined ? body.value : utf8 ? text : null,
      ...(!utf8 && { body_base64: bytes.toString('base64') }),
    };
    const written = await deliver(ctx, `${JSON.stringify(object, null, 2)}\n`, code);
    if (written !== code) return written;
  } else {
    if (options.include) {
      const reason = cleanText(response.statusText ?? '', 100);
      const lines = [`HTTP ${response.status}${reason ? ` ${reason}` : ''}`];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${cleanText(value, 4000)}`);
      await emit(ctx.stderr, `${lines.join('\n')}\n\n`);
    }
    if (!options.silent && bytes.length > 0) {
      const pretty = ctx.stdout.isTTY === true && body !== undefined;
      const written = await deliver(ctx, pretty ? `${JSON.stringify(body.value, null, 2)}\n` : bytes, code);
      if (written !== code) return written;
    }
  }
  if (code !== 0) await emit(ctx.stderr, `${redactKeys(errorLine(response, body), key)}\n`);
  return code;
}
