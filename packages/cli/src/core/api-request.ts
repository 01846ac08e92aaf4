// `sekuire api`'s request, as gh api builds one: the target (a path on the backend, or a URL of an allowed origin), headers, fields, body.
import { apiUrl, isLoopbackHost, originOf, plainHttpRefusal, urlText } from './backend-url.js';
import { UsageError } from './errors.js';

/** What the user asked for, before anything is read or sent. */
export interface ApiRequestInput {
  /** -X; GET by default, POST when there are fields or --input. */
  readonly method?: string;
  /** A path on the backend of the key in use, or a full URL. */
  readonly target: string;
  /** -H 'Name: value', each. */
  readonly headers: readonly string[];
  /** -f key=value: strings as given. */
  readonly rawFields: readonly string[];
  /** -F key=value: true, false, null and numbers typed; @file (or @-) read. */
  readonly typedFields: readonly string[];
  /** --input FILE, or '-' for standard input: the body as is. */
  readonly input?: string;
}

/** Where files and standard input come from: the command's context, or a test's. */
export interface BodySources {
  readFile(path: string): Promise<Buffer>;
  readStdin(): Promise<Buffer>;
}

/** A request ready for the transport: the bytes signed are the bytes sent. */
export interface ApiRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

/** A body or a field file larger than this is refused before anything is sent. */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** Headers the CLI sets itself: a user value would replace the key, the proof or the framing. */
const RESERVED_HEADERS = new Set([
  'x-api-key',
  'x-sekuire-device',
  'signature',
  'signature-input',
  'content-digest',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function usage(message: string, code: string, hint?: string): UsageError {
  return new UsageError(message, code, hint === undefined ? {} : { hint });
}

/** Whether the key may go to `url`: the backend's origin, or one of the audiences. */
export function allowedAudience(url: URL, backend: URL, audiences: readonly string[]): boolean {
  const origin = originOf(url);
  return origin === originOf(backend) || audiences.includes(origin);
}

/**
 * The URL a PATH or URL names. A path goes under the backend; a full URL only to the backend's
 * origin or one the user listed (config `audiences`), and plain http only to loopback. Refused
 * (exit 2) before any connection, with the command that would allow it.
 */
export function resolveTarget(target: string, backend: URL, audiences: readonly string[]): URL {
  const text = target.trim();
  if (text === '') throw usage('Give a PATH on the backend or a URL.', 'usage');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    if (/\s/.test(text)) throw usage('The PATH contains whitespace; encode it (%20).', 'invalid_path');
    return apiUrl(backend, text);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(
      'The URL is not valid; give an absolute https:// URL or a PATH such as /api/v1/cli/status.',
      'invalid_url',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usage(
      `Cannot call a ${url.protocol.replace(/:$/, '')}:// URL; only https:// (and http:// to this machine) is supported.`,
      'invalid_url',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw usage(
      'The URL contains a user name or password; remove them (the key is sent in a header).',
      'invalid_url',
    );
  }
  url.hash = '';
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) throw plainHttpRefusal(url, 'the URL');
  if (!allowedAudience(url, backend, audiences)) {
    const origin = originOf(url);
    throw new UsageError(
      `Not sending the key to ${origin}: it is neither the backend of the key in use (${urlText(backend)}) nor an audience you listed.`,
      'audience_not_allowed',
      {
        hint: `If ${origin} is meant to receive this key, run 'sekuire config set audiences ${[...audiences, origin].join(',')}'`,
        details: { origin, backend: urlText(backend) },
      },
    );
  }
  return url;
}

/** -H 'Name: value': a token name, a value without line breaks, and none of the names the CLI sets. */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  const value = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (!TOKEN.test(name)) {
    throw usage(`-H takes 'Name: value'; got a header without a valid name.`, 'invalid_header');
  }
  if (/[\r\n\0]/.test(value))
    throw usage(`The value of the header ${name} contains a line break.`, 'invalid_header');
  if (RESERVED_HEADERS.has(name.toLowerCase())) {
    throw usage(
      `The header ${name} is set by sekuire itself (the key, the device proof and the framing); remove -H ${name}.`,
      'reserved_header',
    );
  }
  return [name, value];
}

function splitField(text: string, flag: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw usage(`${flag} takes key=value; got a field without a key.`, 'invalid_field');
  return [text.slice(0, equals), text.slice(equals + 1)];
}

/** -F's value: true, false, null and JSON numbers typed, @file read (as text), anything else a string. */
async function typedValue(value: string, sources: BodySources, useStdin: () => void): Promise<unknown> {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (value === 'null') return null;
  if (NUMBER.test(value)) {
    const number = Number(value);
    // A number JSON could not carry exactly stays the text it was.
    if (Number.isFinite(number) && (!/^-?\d+$/.test(value) || Number.isSafeInteger(number))) return number;
    return value;
  }
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  if (path === '-') {
    useStdin();
    return (await sources.readStdin()).toString('utf8');
  }
  return (await readLimited(sources, path)).toString('utf8');
}

async function readLimited(sources: BodySources, path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await sources.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (code ?? String(error));
    throw usage(`Cannot read ${path}: ${why}.`, 'unreadable_file');
  }
  if (bytes.length > MAX_REQUEST_BYTES) {
    throw usage(
      `${path} is larger than ${MAX_REQUEST_BYTES} bytes, the most sekuire api sends.`,
      'body_too_large',
    );
  }
  return bytes;
}

/**
 * The request: method, URL (fields as query parameters for GET and HEAD, or beside --input),
 * headers, and the body as it will be sent (the fields as one JSON object, or --input's bytes).
 */
export async function buildApiRequest(
  input: ApiRequestInput,
  backend: URL,
  audiences: readonly string[],
  sources: BodySources,
): Promise<ApiRequest> {
  const url = resolveTarget(input.target, backend, audiences);
  const headers: Record<string, string> = {};
  for (const text of input.headers) {
    const [name, value] = parseHeader(text);
    for (const existing of Object.keys(headers)) {
      if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    }
    headers[name] = value;
  }
  const hasFields = input.rawFields.length > 0 || input.typedFields.length > 0;
  const method = (input.method ?? (hasFields || input.input !== undefined ? 'POST' : 'GET')).toUpperCase();
  if (!TOKEN.test(method)) throw usage(`-X takes an HTTP method such as GET or POST.`, 'invalid_method');
  let stdinUsed = false;
  const useStdin = () => {
    if (stdinUsed)
      throw usage('Standard input can be read once: give --input - or one @- field, not both.', 'usage');
    stdinUsed = true;
  };
  const fields: [string, unknown][] = [];
  // In the order given, -f and -F apart: gh api does the same.
  for (const text of input.rawFields) fields.push(splitField(text, '-f'));
  for (const text of input.typedFields) {
    const [key, value] = splitField(text, '-F');
    fields.push([key, await typedValue(value, sources, useStdin)]);
  }
  let body: Buffer | undefined;
  if (input.input !== undefined) {
    if (input.input === '-') {
      useStdin();
      body = await sources.readStdin();
      if (body.length > MAX_REQUEST_BYTES) {
        throw usage(
          `Standard input is larger than ${MAX_REQUEST_BYTES} bytes, the most sekuire api sends.`,
          'body_too_large',
        );
      }
    } else {
      body = await readLimited(sources, input.input);
    }
  }
  const inQuery = input.input !== undefined || method === 'GET' || method === 'HEAD';
  if (hasFields && inQuery) {
    for (const [key, value] of fields) {
      url.searchParams.append(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
  } else if (hasFields) {
    body = Buffer.from(JSON.stringify(Object.fromEntries(fields)), 'utf8');
  }
  return { method, url, headers, ...(body !== undefined && { body }) };
}
