// The file store: today's device-key.json (0600) in the home it is given, signing in process.
import { type DeviceKey, ensureDeviceKey, readDeviceKey } from '../device-key.js';
import type { DeviceSigner } from './types.js';

export function fileSigner(key: DeviceKey): DeviceSigner {
  return {
    store: 'file',
    publicJwk: key.publicJwk,
    thumbprint: key.thumbprint,
    where: key.path,
    agentKey: '',
    warnings: key.warnings,
    // node:crypto and the private key on the first signature: `status --offline` reads this
    // store to check the thumbprint only, and loads no node:crypto (device-key.ts).
    sign: (data) =>
      process
        .getBuiltinModule('node:crypto')
        .sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

/** The file key in `home`, or undefined when there is none. */
export function readFileSigner(home: string): DeviceSigner | undefined {
  const key = readDeviceKey(home);
  return key === undefined ? undefined : fileSigner(key);
}

export function ensureFileSigner(home: string): DeviceSigner {
  return fileSigner(ensureDeviceKey(home));
}
