// Renders a command's result as human text or JSON, and errors the same two ways (hint on its own line).
import { shortFingerprint } from '../core/device.js';
import type { SekuireError } from '../core/errors.js';
import { redactKeys } from '../core/redact.js';
import type { KeySource } from '../core/session.js';
import type {
  DeviceView,
  LoginResult,
  LogoutResult,
  Named,
  ProfileLogin,
  ProfileView,
  Result,
} from './results.js';

function sourceText(source: KeySource): string {
  if (source.type === 'env') return `${source.name} (environment variable)`;
  if (source.type === 'stdin') return 'standard input (--with-key)';
  return source.path;
}

/** `default`, `work (--profile)`, `work (SEKUIRE_PROFILE)`, `work (active)`: the profile and where it was named. */
export function profileText(profile: ProfileView): string {
  if (profile.from === 'default') return profile.name;
  return `${profile.name} (${profile.from})`;
}

function logoutLines(d: LogoutResult['data']): string[] {
  if (!d.removed) return ['Not logged in: nothing to remove.', `No credentials at: ${d.credentials_path}`];
  return [
    'Logged out successfully!',
    `Credentials removed from: ${d.credentials_path}`,
    ...(d.unbound === true ? [`This device was unbound on ${d.backend}.`] : []),
    ...(d.unbound === false ? [`This device was not bound on ${d.backend}.`] : []),
  ];
}

function profileRow(p: ProfileLogin): string {
  const mark = p.active ? '*' : ' ';
  if (p.error) return `${mark} ${p.name}  unreadable: ${p.error.message}`;
  if (!p.logged_in) return `${mark} ${p.name}  not logged in`;
  const org = p.organization ? p.organization.name || p.organization.id : 'unknown';
  const device = p.device ? `${p.device.name} (${shortFingerprint(p.device.fingerprint, 8)})` : 'unknown';
  const store = `device key: ${p.key_store ?? 'file'}${p.agent_key ? ` (${p.agent_key})` : ''}`;
  return `${mark} ${p.name}  ${p.backend}  ${p.key_masked} (${p.environment || 'unknown'})  ${org}  ${device}  ${store}`;
}

function namedText(entity: Named | null): string {
  if (!entity) return 'unknown (not checked with the backend)';
  return entity.id;
}

function previousLines(previous: LoginResult['data']['previous']): string[] {
  if (!previous) return [];
  const who = `${previous.user_email || 'unknown user'} (${previous.key_masked})`;
  if (previous.same_key) return [`Replaced: the earlier login with the same key, as ${who}`];
  const unbound =
    previous.unbound === true
      ? 'its binding to this device was removed'
      : previous.unbound === false
        ? 'it was not bound to this device'
        : `its binding could not be removed (${previous.unbind_error?.message ?? 'not attempted'})`;
  return [`Replaced: the login of ${who}; ${unbound}`];
}

/** The store of a device key other than the default file: the file store prints as it always has. */
function keyStoreLines(device: DeviceView): string[] {
  if (device.key_store === undefined || device.key_store === 'file') return [];
  return [`Device Key: ${device.key_store}${device.agent_key ? ` (${device.agent_key})` : ''}`];
}

function human(result: Result): string[] {
  switch (result.kind) {
    case 'login': {
      const { device, moved_from } = result.data;
      return [
        'Login successful! API Key verified and bound to this device.',
        `Device: ${device.name}`,
        `OS: ${device.os}`,
        `Fingerprint: ${shortFingerprint(device.fingerprint, 12)}`,
        ...keyStoreLines(device),
        ...(moved_from ? [`Binding moved here from: ${moved_from.name} (${moved_from.os})`] : []),
        ...(result.data.profile === 'default' ? [] : [`Profile: ${result.data.profile}`]),
        `Credentials saved to: ${result.data.credentials_path}`,
        ...previousLines(result.data.previous),
      ];
    }
    case 'status': {
      const d = result.data;
      return [
        'Authentication Status:',
        'Authenticated with API Key',
        `Key: ${result.revealKey ?? d.key.masked}`,
        `Device Fingerprint: ${shortFingerprint(d.device.fingerprint, 8)}`,
        `Device: ${d.device.name}`,
        `OS: ${d.device.os}`,
        ...keyStoreLines(d.device),
        `Workspace: ${namedText(d.workspace)}`,
        `Source: ${sourceText(d.source)}`,
        ...(d.profile ? [`Profile: ${profileText(d.profile)}`] : []),
        `Backend: ${d.backend} (${d.checked === 'online' ? 'key accepted just now' : 'not contacted: --offline'})`,
        ...(d.device.bound_here === false && d.key.type === 'server'
          ? ['Binding: a server key, never bound to a device (use it with SEKUIRE_API_KEY)']
          : d.device.bound_here === false
            ? ["Binding: the key is not bound to any device (run 'sekuire login' to bind it here)"]
            : []),
      ];
    }
    case 'whoami': {
      const d = result.data;
      return [
        'Current User Information:',
        'Authenticated as:',
        `Email: ${d.user.email}`,
        `User ID: ${d.user.id}`,
        `Organization: ${d.organization.name || d.organization.id}`,
        '',
        'Device Info:',
        `Device: ${d.device.name}`,
        `OS: ${d.device.os}`,
        `Fingerprint: ${shortFingerprint(d.device.fingerprint, 8)}`,
        ...keyStoreLines(d.device),
        ...(d.device.bound_here ? [] : ['Binding: the key is not bound to any device']),
      ];
    }
    case 'logout':
      return logoutLines(result.data);
    case 'logout-all':
      if (result.data.profiles.length === 0) return ['Not logged in: nothing to remove.'];
      return result.data.profiles.flatMap((d) => [`Profile ${d.profile}:`, ...logoutLines(d)]);
    case 'auth-list':
      return result.data.profiles.length === 0
        ? ["No profiles: run 'sekuire login' to add one."]
        : result.data.profiles.map(profileRow);
    case 'auth-switch':
      return [`Active profile: ${result.data.active} (was ${result.data.previous})`];
    case 'token':
      return [result.data.key];
    case 'auth-test': {
      const d = result.data;
      return [
        `Authentication OK: ${d.backend} accepted the key.`,
        `Key: ${d.key.masked}`,
        `Source: ${sourceText(d.source)}`,
        `Device Fingerprint: ${shortFingerprint(d.device.fingerprint, 8)}`,
        `Response time: ${d.response_time_ms} ms`,
      ];
    }
    case 'config':
      return [...result.lines];
    case 'completion':
      return [result.script];
  }
}

function json(result: Result): unknown {
  if (result.kind === 'completion') return { script: result.script };
  return result.data;
}

/** The text for stdout: human lines, or one JSON object. */
export function renderResult(result: Result, asJson: boolean): string {
  if (asJson) return `${JSON.stringify(json(result), null, 2)}\n`;
  return `${human(result).join('\n')}\n`;
}

export interface RenderedError {
  readonly stdout: string;
  readonly stderr: string;
}

/** JSON errors go to stdout (the data channel); human errors to stderr. */
export function renderError(error: SekuireError, asJson: boolean): RenderedError {
  // The last line of defence for text we did not write: argv echoed by the parser, a
  // backend's message, an unexpected exception.
  const message = redactKeys(error.message);
  const hint = error.hint === undefined ? undefined : redactKeys(error.hint);
  if (asJson) {
    // Details add facts; they never replace the code, the message or the hint.
    const extra = Object.entries(error.details).filter(
      ([name]) => !['code', 'message', 'hint'].includes(name),
    );
    const body = {
      error: { code: error.code, message, ...(hint ? { hint } : {}), ...Object.fromEntries(extra) },
    };
    return { stdout: `${redactKeys(JSON.stringify(body, null, 2))}\n`, stderr: '' };
  }
  return { stdout: '', stderr: `${message}\n${hint ? `${hint}\n` : ''}` };
}
