// The SSH agent protocol (draft-miller-ssh-agent), the two requests the agent store needs, over SSH_AUTH_SOCK.
import { createHash } from 'node:crypto';
import { createConnection } from 'node:net';
import { fixedWidth } from './types.js';

const FAILURE = 5;
const REQUEST_IDENTITIES = 11;
const IDENTITIES_ANSWER = 12;
const SIGN_REQUEST = 13;
const SIGN_RESPONSE = 14;
const ECDSA_P256 = 'ecdsa-sha2-nistp256';
/** An answer bigger than this is no agent's: the connection is dropped rather than buffered. */
const MAX_MESSAGE = 256 * 1024;

export interface AgentIdentity {
  readonly blob: Buffer;
  readonly comment: string;
  /** As `ssh-add -l` prints it: SHA256:base64 of the blob's SHA-256, without padding. */
  readonly fingerprint: string;
  /** The P-256 point, when the key is ecdsa-sha2-nistp256: 32-byte x and y. */
  readonly p256?: { readonly x: Buffer; readonly y: Buffer };
}

/** Why a request to the agent got no usable answer; the store turns it into its message. */
export class AgentFailure extends Error {
  override readonly name = 'AgentFailure';
  constructor(
    readonly kind: 'unreachable' | 'closed' | 'refused' | 'malformed' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly buffer: Buffer) {}
  byte(): number {
    const value = this.buffer[this.at];
    if (value === undefined) throw new AgentFailure('malformed', 'an empty answer');
    this.at += 1;
    return value;
  }
  uint32(): number {
    if (this.at + 4 > this.buffer.length) throw new AgentFailure('malformed', 'truncated answer');
    const value = this.buffer.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
  string(): Buffer {
    const length = this.uint32();
    if (this.at + length > this.buffer.length) throw new AgentFailure('malformed', 'truncated answer');
    const value = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
}

function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function p256Point(blob: Buffer): AgentIdentity['p256'] {
  try {
    const read = new Reader(blob);
    if (read.string().toString() !== ECDSA_P256 || read.string().toString() !== 'nistp256') return undefined;
    const point = read.string();
    if (point.length !== 65 || point[0] !== 4) return undefined;
    return { x: point.subarray(1, 33), y: point.subarray(33) };
  } catch {
    return undefined;
  }
}

/** One request, one answer, on a connection of its own. */
function exchange(socketPath: string, type: number, payload: Buffer, timeoutMs: number): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const body = Buffer.concat([Buffer.from([type]), payload]);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    const socket = createConnection(socketPath);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: AgentFailure | undefined, answer?: Reader) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer as Reader);
    };
    const timer = setTimeout(
      () => finish(new AgentFailure('timeout', `no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      socket.write(Buffer.concat([header, body]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const length = received.readUInt32BE(0);
      if (length > MAX_MESSAGE) return finish(new AgentFailure('malformed', 'an answer too large'));
      if (received.length < 4 + length) return;
      finish(undefined, new Reader(received.subarray(4, 4 + length)));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset means an agent was there and went away, whether or not Node had seen the
      // connection complete (libuv reports a connect the peer reset as a failed connect).
      const dropped = connected || error.code === 'ECONNRESET' || error.code === 'EPIPE';
      finish(
        dropped
          ? new AgentFailure(
              'closed',
              `the agent dropped the connection before answering (${error.code ?? error.message})`,
            )
          : new AgentFailure(
              'unreachable',
              `cannot connect to ${socketPath} (${error.code ?? error.message})`,
            ),
      );
    });
    socket.on('close', () =>
      finish(new AgentFailure('closed', 'the agent closed the connection without answering')),
    );
  });
}

function expectType(read: Reader, wanted: number): Reader {
  const type = read.byte();
  if (type === FAILURE) throw new AgentFailure('refused', 'the agent refused the request');
  if (type !== wanted) throw new AgentFailure('malformed', `unexpected answer type ${type}`);
  return read;
}

export async function listIdentities(socketPath: string, timeoutMs: number): Promise<AgentIdentity[]> {
  const read = expectType(
    await exchange(socketPath, REQUEST_IDENTITIES, Buffer.alloc(0), timeoutMs),
    IDENTITIES_ANSWER,
  );
  const count = read.uint32();
  const identities: AgentIdentity[] = [];
  for (let i = 0; i < count; i++) {
    const blob = Buffer.from(read.string());
    const comment = read.string().toString();
    const p256 = p256Point(blob);
    identities.push({ blob, comment, fingerprint: fingerprintOf(blob), ...(p256 && { p256 }) });
  }
  return identities;
}

/** The agent signs `data` with the key `blob` (SHA-256 for nistp256); returns r||s, 64 bytes. */
export async function agentSign(
  socketPath: string,
  blob: Buffer,
  data: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const payload = Buffer.concat([sshString(blob), sshString(data), Buffer.alloc(4)]);
  const read = expectType(await exchange(socketPath, SIGN_REQUEST, payload, timeoutMs), SIGN_RESPONSE);
  const signature = new Reader(Buffer.from(read.string()));
  if (signature.string().toString() !== ECDSA_P256)
    throw new AgentFailure('malformed', 'not an ECDSA P-256 signature');
  const integers = new Reader(Buffer.from(signature.string()));
  const r = integers.string();
  const s = integers.string();
  return Buffer.concat([fixedWidth(r), fixedWidth(s)]);
}
