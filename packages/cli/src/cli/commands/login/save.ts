// Saving a login the backend accepted: this device as the backend is told of it, auth.json, the login it replaced.
import { type ApiKey, parseKey } from '@sekuire/shared/key';
import { parseBackendUrl } from '../../../core/backend-url.js';
import type { BoundDeviceSummary, DeviceRegistration, LoginResponse } from '../../../core/client.js';
import {
  checkCredentialsWritable,
  type LoadedCredentials,
  writeCredentials,
} from '../../../core/credentials.js';
import {
  type DeviceIdentity,
  deviceFact,
  deviceIdentity,
  deviceName,
  osName,
  weakBindingWarning,
} from '../../../core/device.js';
import { CredentialsFileError, SekuireError } from '../../../core/errors.js';
import type { NetworkPolicy } from '../../../core/http/policy.js';
import { storedSigner } from '../../../core/key-store/stored.js';
import type { DeviceSigner } from '../../../core/key-store/types.js';
import {
  DEFAULT_PROFILE,
  ensureProfileDir,
  PROFILE_ENV,
  type Profile,
  readActiveProfile,
} from '../../../core/profiles.js';
import { redactKeys } from '../../../core/redact.js';
import { ENV_KEY } from '../../../core/session.js';
import { type Context, deviceInputs } from '../../context.js';
import { loginCommandFor, warnExpiry } from '../../expiry.js';
import { chooseSigner } from '../../key-store-choice.js';
import { keyStoreView } from '../../key-store-view.js';
import { note } from '../../notes.js';
import type { LoginResult, PreviousLogin } from '../../results.js';
import type { LoginOptions, LoginStart } from './start.js';

/** What the backend is told about this device: cleaned and capped as its validation requires. */
async function registration(ctx: Context, identity: DeviceIdentity): Promise<DeviceRegistration> {
  return {
    fingerprint: identity.fingerprint,
    name: deviceName(ctx.hostname()),
    os: deviceFact(osName(ctx.platform), 'unknown'),
    os_version: deviceFact(await ctx.osVersion(), ''),
    arch: deviceFact(ctx.arch, 'unknown'),
  };
}

function notSaved(
  error: CredentialsFileError,
  rebound: boolean,
  movedFrom: BoundDeviceSummary | null,
): CredentialsFileError {
  const other = movedFrom ? `${movedFrom.name} (${movedFrom.os})` : rebound ? 'the other device' : undefined;
  return new CredentialsFileError(
    'credentials_not_saved',
    `The backend accepted the key and bound it to this device${other ? `, moving the binding from ${other}, which has lost access` : ''}; but the credentials could not be saved: ${error.message}`,
    {
      // The file error's own hint may end by saying to log in again: said once here.
      hint: `${(error.hint ?? 'Fix that').replace(/, then run 'sekuire login'$/, '')}, then run 'sekuire login' here again: the key is already bound to this device${other ? `. To give the binding back instead, run 'sekuire login --rebind' on ${other}` : ''}`,
      details: { ...error.details, bound_here: true, moved_from: movedFrom },
    },
  );
}

/** Unbinds the replaced key from this device (best effort): a key left bound here would block its next owner. */
async function releasePrevious(
  ctx: Context,
  previous: LoadedCredentials,
  identity: DeviceIdentity,
  policy: NetworkPolicy,
  profile: Profile,
): Promise<Pick<PreviousLogin, 'unbound' | 'unbind_error'>> {
  const c = previous.credentials;
  if (c.device_fingerprint !== identity.fingerprint) {
    return {
      unbound: null,
      unbind_error: { code: 'device_changed', message: 'it was stored for another device' },
    };
  }
  try {
    const proof = await storedSigner(profile.dir, ctx.env, previous);
    const client = await ctx.connect({
      backend: parseBackendUrl(c.backend, previous.path),
      backendSource: `the earlier login in ${previous.path}`,
      key: parseKey(c.api_key),
      fingerprint: identity.fingerprint,
      ...(proof !== undefined && { proof }),
      policy,
    });
    return { unbound: (await client.logout()).body.unbound, unbind_error: null };
  } catch (error) {
    if (!(error instanceof SekuireError)) throw error;
    return { unbound: null, unbind_error: { code: error.code, message: redactKeys(error.message) } };
  }
}

export interface ThisDevice {
  readonly identity: DeviceIdentity;
  /** Its key, in the store chosen (created there at the first login): the binding holds the public half. */
  readonly deviceKey: DeviceSigner;
  readonly device: DeviceRegistration;
}

/** This device as the backend is told of it, and the last check before the backend changes anything. */
export async function thisDevice(
  ctx: Context,
  profile: Profile,
  options: Pick<LoginOptions, 'keyStore' | 'agentKey'> = {},
  previous?: LoadedCredentials,
): Promise<ThisDevice> {
  const identity = await deviceIdentity(deviceInputs(ctx), { create: true });
  note(ctx, ...identity.warnings, weakBindingWarning(identity));
  // The directory is made and a file of the right size is written and removed: a full disk
  // shows here, not after the binding moved.
  ensureProfileDir(ctx.home, profile.name);
  checkCredentialsWritable(profile.dir, true);
  // One device key per profile: two accounts on one backend are not linked by a shared key. The
  // file, keyring entry and TPM blob are the profile directory's; an agent key is named in its auth.json.
  const deviceKey = await chooseSigner(ctx, profile.dir, options, previous);
  note(ctx, ...deviceKey.warnings);
  const device = { ...(await registration(ctx, identity)), public_key: deviceKey.publicJwk };
  return { identity, deviceKey, device };
}

/** The profile commands use without --profile. */
function activeName(ctx: Context): string {
  return ctx.env[PROFILE_ENV]?.trim() || readActiveProfile(ctx.home) || DEFAULT_PROFILE;
}

export interface Accepted {
  readonly key: ApiKey;
  readonly response: LoginResponse;
  readonly identity: DeviceIdentity;
  readonly device: DeviceRegistration;
  /** The device key the binding holds, and its store: kept with the login. */
  readonly signer: DeviceSigner;
  /** The backend that accepted the key, as the client names it. */
  readonly backend: string;
  readonly movedFrom: BoundDeviceSummary | null;
}

/** Writes auth.json for a key the backend accepted and bound here, and says what happened. */
export async function saveLogin(ctx: Context, start: LoginStart, accepted: Accepted): Promise<LoginResult> {
  const { key, response, identity, device, movedFrom } = accepted;
  const { previous, policy } = start;
  let credentialsPath: string;
  try {
    credentialsPath = writeCredentials(
      start.profile.dir,
      {
        api_key: key.value,
        key_id: response.key.id,
        environment: response.key.environment,
        device_fingerprint: identity.fingerprint,
        device_name: device.name,
        os: device.os,
        user_id: response.user.id,
        user_email: response.user.email,
        org_id: response.organization.id,
        org_name: response.organization.name,
        workspace_id: response.workspace.id,
        workspace_name: response.workspace.name,
        backend: accepted.backend,
        verified_at: ctx.now().toISOString(),
        // Recorded only when the backend says the binding holds this device's key.
        device_key: response.device.key_thumbprint ?? '',
        expires_at: response.key.expires_at ?? '',
        key_store: accepted.signer.store,
        ...(accepted.signer.store === 'agent' && { agent_key: accepted.signer.agentKey }),
      },
      // Fields a newer version wrote stay with the profile (key_store and agent_key are this one's own).
      previous?.extra ?? {},
    );
  } catch (error) {
    if (error instanceof CredentialsFileError)
      throw notSaved(error, response.device.rebound || movedFrom !== null, movedFrom);
    throw error;
  }

  let replaced: PreviousLogin | null = null;
  if (previous) {
    const sameKey = previous.credentials.api_key === key.value;
    replaced = {
      user_email: previous.credentials.user_email,
      key_masked: parseKey(previous.credentials.api_key).masked,
      same_key: sameKey,
      ...(sameKey
        ? { unbound: null, unbind_error: null }
        : await releasePrevious(ctx, previous, identity, policy, start.profile)),
    };
  }
  if (ctx.env[ENV_KEY]?.trim()) {
    note(ctx, `Note: ${ENV_KEY} is set and takes precedence over this login until you unset it.`);
  }
  if (start.profile.from === '--profile' && start.profile.name !== activeName(ctx)) {
    const name = start.profile.name;
    note(
      ctx,
      `Saved as profile ${name}: use it with --profile ${name}, or make it the active one with 'sekuire auth switch ${name}'.`,
    );
  }
  // A warning at login counts as the one of the next 12 hours.
  warnExpiry(ctx, {
    value: key.value,
    masked: key.masked,
    expiresAt: response.key.expires_at,
    loginCommand: loginCommandFor(start.profile.name),
  });
  return {
    kind: 'login',
    data: {
      logged_in: true,
      key: {
        id: response.key.id,
        name: response.key.name,
        environment: response.key.environment,
        masked: key.masked,
      },
      user: response.user,
      organization: response.organization,
      workspace: response.workspace,
      device: {
        id: response.device.id,
        name: device.name,
        os: device.os,
        fingerprint: identity.fingerprint,
        id_source: identity.idSource,
        ...keyStoreView(accepted.signer),
        bound_at: response.device.bound_at,
        rebound: response.device.rebound || movedFrom !== null,
      },
      moved_from: movedFrom ? { name: movedFrom.name, os: movedFrom.os } : null,
      backend: accepted.backend,
      credentials_path: credentialsPath,
      profile: start.profile.name,
      expires_at: response.key.expires_at,
      previous: replaced,
    },
  };
}
