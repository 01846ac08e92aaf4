// What each command returns: `data` is the JSON rendering; output.ts derives the human text.
import type { ProfileFrom } from '../core/profiles.js';
import type { KeySource } from '../core/session.js';

/** The profile a command used, and where it was named. */
export interface ProfileView {
  readonly name: string;
  readonly from: ProfileFrom;
}

export interface DeviceView {
  readonly name: string;
  readonly os: string;
  readonly fingerprint: string;
  /** Where the machine ID came from: env (SEKUIRE_MACHINE_ID), machine, or generated. */
  readonly id_source: string;
  /** Where this device's key is kept (file, agent, keyring, tpm); absent without a device key. */
  readonly key_store?: string;
  /** With the agent store: the agent key's fingerprint, as `ssh-add -l` prints it. */
  readonly agent_key?: string;
}

export interface Named {
  readonly id: string;
  readonly name: string | null;
}

export interface LoginResult {
  readonly kind: 'login';
  readonly data: {
    readonly logged_in: true;
    readonly key: {
      readonly id: string;
      readonly name: string;
      readonly environment: string;
      readonly masked: string;
    };
    readonly user: { readonly id: string; readonly email: string; readonly name: string };
    readonly organization: Named;
    readonly workspace: Named;
    readonly device: DeviceView & {
      readonly id: string;
      readonly bound_at: string;
      readonly rebound: boolean;
    };
    /** The device that lost the binding when it was moved here. */
    readonly moved_from: { readonly name: string; readonly os: string } | null;
    readonly backend: string;
    readonly credentials_path: string;
    /** The profile the login was saved in. */
    readonly profile: string;
    /** When the key expires (ISO 8601); null: never. */
    readonly expires_at: string | null;
    /** The login this one replaced, if auth.json held one. */
    readonly previous: PreviousLogin | null;
  };
}

export interface PreviousLogin {
  readonly user_email: string;
  readonly key_masked: string;
  readonly same_key: boolean;
  /** For another key: true unbound from this device, false it was not bound, null not done. */
  readonly unbound: boolean | null;
  readonly unbind_error: { readonly code: string; readonly message: string } | null;
}

export interface StatusResult {
  readonly kind: 'status';
  readonly data: {
    readonly authenticated: true;
    readonly source: KeySource;
    /** The profile whose login is in use; null when SEKUIRE_API_KEY supplies the key. */
    readonly profile: ProfileView | null;
    /** `type`: client or server, as the backend said; null offline or from an older backend. */
    readonly key: {
      readonly masked: string;
      readonly environment: string;
      readonly id: string | null;
      readonly type?: string | null;
    };
    /** When the key expires (ISO 8601); null: never, or not known (offline, a login from an older version). */
    readonly expires_at: string | null;
    readonly device: DeviceView & { readonly bound_here: boolean | null };
    readonly organization: Named | null;
    readonly workspace: Named | null;
    readonly backend: string;
    /** online: the backend accepted the key just now; offline: local checks only. */
    readonly checked: 'online' | 'offline';
  };
  /** The whole key, for `--show-key` in human output only: JSON never carries it. */
  readonly revealKey?: string;
}

export interface WhoamiResult {
  readonly kind: 'whoami';
  readonly data: {
    readonly user: { readonly id: string; readonly email: string; readonly name: string };
    readonly organization: Named;
    readonly workspace: Named;
    readonly device: DeviceView & { readonly bound_here: boolean };
    readonly source: KeySource;
    readonly profile: ProfileView | null;
    readonly backend: string;
  };
}

export interface LogoutResult {
  readonly kind: 'logout';
  readonly data: {
    readonly logged_out: true;
    /** The profile logged out of. */
    readonly profile: string;
    readonly credentials_path: string;
    /** False when there was no auth.json to remove. */
    readonly removed: boolean;
    /** The backend the stored key was verified with; null when there was no readable file. */
    readonly backend: string | null;
    /** True: unbound on the backend; false: it was not bound; null: not attempted or failed. */
    readonly unbound: boolean | null;
    readonly unbind_error: { readonly code: string; readonly message: string } | null;
    readonly api_key_env_set: boolean;
  };
}

/** logout --all: each profile that held a login, logged out as `logout --profile NAME` would. */
export interface LogoutAllResult {
  readonly kind: 'logout-all';
  readonly data: { readonly logged_out: true; readonly profiles: readonly LogoutResult['data'][] };
}

export interface ProfileLogin {
  readonly name: string;
  readonly active: boolean;
  readonly logged_in: boolean;
  readonly backend: string | null;
  readonly key_masked: string | null;
  readonly environment: string | null;
  readonly organization: Named | null;
  readonly device: { readonly name: string; readonly fingerprint: string } | null;
  /** Where the profile's device key is kept (file, agent, keyring, tpm); null without a login. */
  readonly key_store: string | null;
  /** With the agent store: the agent key's fingerprint, as `ssh-add -l` prints it; else null. */
  readonly agent_key: string | null;
  readonly expires_at: string | null;
  /** Why the login could not be read (a corrupt or unsafe file); null when it could. */
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface AuthListResult {
  readonly kind: 'auth-list';
  readonly data: {
    readonly active: string;
    readonly active_from: string;
    readonly profiles: readonly ProfileLogin[];
  };
}

export interface AuthSwitchResult {
  readonly kind: 'auth-switch';
  readonly data: { readonly active: string; readonly previous: string; readonly path: string };
}

export interface TokenResult {
  readonly kind: 'token';
  readonly data: { readonly key: string; readonly source: KeySource };
}

export interface AuthTestResult {
  readonly kind: 'auth-test';
  readonly data: {
    readonly ok: true;
    readonly backend: string;
    readonly url: string;
    readonly key: { readonly masked: string; readonly environment: string; readonly id: string };
    readonly source: KeySource;
    readonly device: { readonly fingerprint: string; readonly bound_here: boolean | null };
    readonly response_time_ms: number;
    readonly attempts: number;
  };
}

export interface ConfigResult {
  readonly kind: 'config';
  readonly data: unknown;
  /** The human rendering: `get` prints the bare value, for scripts. */
  readonly lines: readonly string[];
}

export interface CompletionResult {
  readonly kind: 'completion';
  readonly script: string;
}

export type Result =
  | LoginResult
  | StatusResult
  | WhoamiResult
  | LogoutResult
  | LogoutAllResult
  | TokenResult
  | AuthListResult
  | AuthSwitchResult
  | AuthTestResult
  | ConfigResult
  | CompletionResult;
