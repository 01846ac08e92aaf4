// HTTP/1.1 on a connected socket: one request written, one answer read (length, chunked or to the close), without node:http.

/**
 * Why not node:http: loading it (and its agent, parser and perf modules) is ~3 ms of every
 * `sekuire status`, and a command sends one request per connection (`Connection: close`), with
 * no keep-alive, pipelining or upgrade for node:http to manage. What it did that matters is
 * here: header values and the target checked as node:http checks them, interim (1xx) answers
 * skipped, Content-Length, chunked and read-to-close bodies, and a connection that ends early
 * reported as node:http reports it.
 */

/** RFC 9110 token: what a header name may be (node:http's check). */
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
/** What a header value may not contain (node:http's check: no CR, LF, NUL or other controls but tab). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** node:http's default --max-http-header-size. */
const MAX_HEAD_BYTES = 16 * 1024;

function codedError(code: string, message: string, make: (message: string) => Error = (m) => new Error(m)) {
  const error = make(message) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

/** The request's bytes; throws as node:http would for a header or target that could split the request. */
export function requestBytes(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
): Buffer {
  // node:http refuses a request target with a space or a control character.
  if ([...path].some((char) => char.charCodeAt(0) <= 0x20)) {
    throw codedError(
      'ERR_UNESCAPED_CHARACTERS',
      'Request path contains unescaped characters',
      (m) => new TypeError(m),
    );
  }
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) {
      throw codedError(
        'ERR_INVALID_HTTP_TOKEN',
        `Header name must be a valid HTTP token ["${name}"]`,
        (m) => new TypeError(m),
      );
    }
    if (INVALID_VALUE.test(value)) {
      throw codedError(
        'ERR_INVALID_CHAR',
        `Invalid character in header content ["${name}"]`,
        (m) => new TypeError(m),
      );
    }
    head += `${name}: ${value}\r\n`;
  }
  head += '\r\n';
  // Header values are Latin-1 on the wire (as node:http writes them); the body is UTF-8.
  const headBytes = Buffer.from(head, 'latin1');
  if (body === undefined || body.length === 0) return headBytes;
  return Buffer.concat([headBytes, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

export interface WireResponse {
  readonly status: number;
  /** The reason phrase (`OK`), empty when the server sent none. */
  readonly statusText: string;
  /** Name, value, name, value…: as received (node:http's rawHeaders). */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

/** What the reader needs of a socket: net.Socket and tls.TLSSocket both are one. */
export interface ReadableSocket {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

const hangUp = () => codedError('ECONNRESET', 'socket hang up');
const parseError = (code: string, reason: string) => codedError(code, `Parse Error: ${reason}`);

interface Head {
  readonly status: number;
  readonly statusText: string;
  readonly rawHeaders: string[];
  /** undefined: the body runs to the close. */
  readonly length: number | undefined;
  readonly chunked: boolean;
}

function parseHead(text: string, method: string): Head {
  const lines = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (match === null) throw parseError('HPE_INVALID_CONSTANT', 'Expected HTTP/');
  const status = Number(match[1]);
  const statusText = match[2] ?? '';
  const rawHeaders: string[] = [];
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw parseError('HPE_INVALID_HEADER_TOKEN', 'Invalid header token');
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw parseError('HPE_INVALID_HEADER_TOKEN', 'Invalid header value char');
    rawHeaders.push(name, value);
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) {
        throw parseError('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length');
      }
      length = Number(value);
    } else if (lower === 'transfer-encoding') {
      chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
    }
  }
  if (chunked && length !== undefined) {
    throw parseError(
      'HPE_UNEXPECTED_CONTENT_LENGTH',
      "Content-Length can't be present with Transfer-Encoding",
    );
  }
  // No body, whatever the headers say (RFC 9112 §6.3).
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { status, statusText, rawHeaders, length: 0, chunked: false };
  }
  return { status, statusText, rawHeaders, length, chunked };
}

/**
 * Reads one answer from `socket`. `onHead` sees the status and headers before the body is
 * read (and may throw to stop there: a declared length over the cap); `maxBody` caps the body
 * as received, with `tooLarge` as the error. Rejects with a socket-like error (ECONNRESET
 * "socket hang up" before the head, ERR_STREAM_PREMATURE_CLOSE before the end of a body that
 * has one) or an HPE_ parse error.
 */
export function readResponse(
  socket: ReadableSocket,
  method: string,
  options: {
    readonly maxBody: number;
    readonly tooLarge: () => unknown;
    readonly onHead?: (status: number, rawHeaders: readonly string[]) => void;
  },
): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let head: Head | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    /** Chunked: bytes left in the current chunk; -1 between chunks. */
    let chunkLeft = -1;

    const finish = (error: unknown, response?: WireResponse) => {
      if (done) return;
      done = true;
      if (error !== undefined) reject(error);
      else resolve(response as WireResponse);
    };
    const complete = () => {
      const h = head as Head;
      finish(undefined, {
        status: h.status,
        statusText: h.statusText,
        rawHeaders: h.rawHeaders,
        body: Buffer.concat(chunks, size),
      });
    };
    const keep = (bytes: Buffer) => {
      if (bytes.length === 0) return;
      size += bytes.length;
      if (size > options.maxBody) throw options.tooLarge();
      chunks.push(bytes);
    };

    /** Consumes what it can of `buffered`; true when the answer is complete. */
    const advance = (): boolean => {
      for (;;) {
        if (head === undefined) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buffered.length > MAX_HEAD_BYTES) throw parseError('HPE_HEADER_OVERFLOW', 'Header overflow');
            return false;
          }
          if (end > MAX_HEAD_BYTES) throw parseError('HPE_HEADER_OVERFLOW', 'Header overflow');
          const parsed = parseHead(buffered.subarray(0, end).toString('latin1'), method);
          buffered = buffered.subarray(end + 4);
          // An interim answer (100 Continue, 103 Early Hints): the real one follows.
          if (parsed.status >= 100 && parsed.status < 200) continue;
          head = parsed;
          options.onHead?.(head.status, head.rawHeaders);
        }
        if (!head.chunked) {
          if (head.length === undefined) {
            keep(buffered);
            buffered = Buffer.alloc(0);
            return false;
          }
          const take = buffered.subarray(0, head.length - size);
          keep(take);
          buffered = buffered.subarray(take.length);
          return size === head.length;
        }
        if (chunkLeft > 0) {
          const take = buffered.subarray(0, chunkLeft);
          keep(take);
          chunkLeft -= take.length;
          buffered = buffered.subarray(take.length);
          if (chunkLeft > 0) return false;
        }
        if (chunkLeft === 0) {
          if (buffered.length < 2) return false;
          if (buffered[0] !== 13 || buffered[1] !== 10)
            throw parseError('HPE_STRICT', 'Expected LF after chunk data');
          buffered = buffered.subarray(2);
          chunkLeft = -1;
        }
        const line = buffered.indexOf('\r\n');
        if (line < 0) {
          if (buffered.length > MAX_HEAD_BYTES)
            throw parseError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
          return false;
        }
        const sizeText = buffered.subarray(0, line).toString('latin1').split(';')[0]?.trim() ?? '';
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText))
          throw parseError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
        const chunkSize = Number.parseInt(sizeText, 16);
        if (chunkSize > 0) {
          buffered = buffered.subarray(line + 2);
          chunkLeft = chunkSize;
          continue;
        }
        // The last chunk: trailers (ignored, as node:http's body reader ignores them), then an empty line.
        const trailersEnd = buffered.indexOf('\r\n\r\n', line);
        const bare = buffered.length >= line + 4 && buffered[line + 2] === 13 && buffered[line + 3] === 10;
        if (!bare && trailersEnd < 0) return false;
        return true;
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      try {
        if (advance()) complete();
      } catch (error) {
        finish(error);
      }
    });
    const ended = () => {
      if (done) return;
      if (head === undefined) finish(hangUp());
      else if (!head.chunked && head.length === undefined) complete();
      else finish(codedError('ERR_STREAM_PREMATURE_CLOSE', 'Premature close'));
    };
    socket.on('end', ended);
    socket.on('close', ended);
  });
}
