// A client of a service behind sekuire-verify: a key bound to a device, requests signed by the CLI's own signing code.
import { request as httpRequest } from 'node:http';
import type { DeviceKey } from '../../packages/cli/src/core/device-key.js';
import { proofHeaders } from '../../packages/cli/src/core/proof.js';
import { memoryDeviceKey } from './device-keys.js';

export const FINGERPRINT = 'f'.repeat(64);

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** Binds `key` to a new device (login, as the CLI does it), and returns that device's key. */
export async function bindDevice(
  serverUrl: string,
  key: string,
  fingerprint = FINGERPRINT,
): Promise<DeviceKey> {
  const device = memoryDeviceKey();
  const body = JSON.stringify({
    device: {
      fingerprint,
      name: 'ada-laptop',
      os: 'linux',
      os_version: 'Debian 12',
      arch: 'x64',
      public_key: device.publicJwk,
    },
  });
  const url = new URL('/api/v1/cli/login', serverUrl);
  const answer = await send(
    url,
    'POST',
    {
      'x-api-key': key,
      'content-type': 'application/json',
      ...proofHeaders(device, 'POST', url, body, Date.now() / 1000),
    },
    body,
  );
  if (answer.status !== 200)
    throw new Error(`login answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return device;
}

/** One HTTP request; `headers.host` may name another authority than the address connected to. */
export function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: url.hostname, port: url.port, method, path: `${url.pathname}${url.search}`, headers },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A request as the CLI sends one: the key, the device, and a fresh proof for this URL and body. */
export function signedRequest(
  url: URL,
  method: string,
  key: string,
  device: DeviceKey | undefined,
  body?: string,
  fingerprint = FINGERPRINT,
): Promise<Answer> {
  const headers: Record<string, string> = {
    'x-api-key': key,
    'x-sekuire-device': fingerprint,
    ...(body !== undefined && { 'content-type': 'application/json' }),
    ...(device !== undefined && proofHeaders(device, method, url, body, Date.now() / 1000)),
  };
  return send(url, method, headers, body);
}
