// The library API: what other tools import to read a Sekuire login or talk to a backend.

export type { ApiKey, KeyEnvironment } from '@sekuire/shared/key';
export { KeyFormatError, maskKey, mintKey, parseKey } from '@sekuire/shared/key';
export type { ClientOptions, LoginResponse, StatusResponse, WhoamiResponse } from './core/client.js';
export { BackendClient } from './core/client.js';
export type { StoredCredentials } from './core/credentials.js';
export { credentialsPath, readCredentials, removeCredentials, writeCredentials } from './core/credentials.js';
export { computeFingerprint, deviceIdentity } from './core/device.js';
export * from './core/errors.js';
export type { NetworkPolicy } from './core/http/policy.js';
export { DEFAULT_POLICY, networkPolicy } from './core/http/policy.js';
export { redactKeys } from './core/redact.js';
export type { Session } from './core/session.js';
export { resolveSession } from './core/session.js';
export { Settings } from './core/settings.js';
