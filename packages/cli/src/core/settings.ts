// Every setting a user can give: a flag, then an environment variable, then config.json, then the default.
import { parseAudiences } from './audiences.js';
import { parseBackendUrl, parseWebUrl, urlText } from './backend-url.js';
import { type ConfigFile, readConfig } from './config.js';
import { UsageError } from './errors.js';
import type { Env } from './home.js';
import {
  DEFAULT_POLICY,
  type NetworkPolicy,
  networkPolicy,
  parseRetries,
  parseSeconds,
} from './http/policy.js';

export const DEFAULT_BACKEND_URL = 'https://api.sekuire.ai';
export const DEFAULT_WEB_URL = 'https://sekuire.ai';

export interface SettingSpec {
  /** The environment variable that overrides config.json. */
  readonly env: string;
  readonly description: string;
  /** The default, as --help and docs describe it. */
  readonly defaultText: string;
  /** Checks a value (from any source) and returns it as stored in config.json. */
  normalize(text: string, source: string): string | number;
}

export const SETTINGS = {
  backend: {
    env: 'SEKUIRE_BACKEND_URL',
    description: 'backend API URL for login and for keys from SEKUIRE_API_KEY',
    defaultText: DEFAULT_BACKEND_URL,
    normalize: (text, source) => urlText(parseBackendUrl(text, source)),
  },
  web_url: {
    env: 'SEKUIRE_WEB_URL',
    description: 'web app URL for the dashboard link that login shows',
    defaultText: `the backend's origin when it is not the default, else ${DEFAULT_WEB_URL}`,
    normalize: (text, source) => urlText(parseWebUrl(text, source)),
  },
  timeout: {
    env: 'SEKUIRE_TIMEOUT',
    description: 'seconds a backend call may take in all, retries included',
    defaultText: String(DEFAULT_POLICY.deadlineMs / 1000),
    normalize: (text, source) => parseSeconds(text, source) / 1000,
  },
  connect_timeout: {
    env: 'SEKUIRE_CONNECT_TIMEOUT',
    description: 'seconds to open a connection (TCP and TLS)',
    defaultText: String(DEFAULT_POLICY.connectTimeoutMs / 1000),
    normalize: (text, source) => parseSeconds(text, source) / 1000,
  },
  retries: {
    env: 'SEKUIRE_RETRIES',
    description: 'retries after the first attempt, 0 to 10',
    defaultText: String(DEFAULT_POLICY.retries),
    normalize: (text, source) => parseRetries(text, source),
  },
  audiences: {
    env: 'SEKUIRE_AUDIENCES',
    description: 'origins besides the backend that `sekuire api` may send the key to, comma-separated',
    defaultText: 'none (the backend only)',
    normalize: (text, source) => parseAudiences(text, source).join(','),
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name);
}

export type SettingSource =
  | { readonly type: 'flag'; readonly name: string }
  | { readonly type: 'env'; readonly name: string }
  | { readonly type: 'config'; readonly path: string }
  | { readonly type: 'default' };

export interface Setting {
  /** Checked and normalized. */
  readonly value: string | number;
  readonly source: SettingSource;
}

/** How a source is named in messages: `--backend`, `SEKUIRE_TIMEOUT`, `timeout in /h/.sekuire/config.json`. */
export function sourceText(name: SettingName, source: SettingSource): string {
  switch (source.type) {
    case 'flag':
    case 'env':
      return source.name;
    case 'config':
      return `${name} in ${source.path}`;
    case 'default':
      return 'the default';
  }
}

export interface Flag {
  readonly value: string;
  readonly name: string;
}

export interface Backend {
  readonly url: URL;
  /** Where it came from, for messages: `--backend`, `SEKUIRE_BACKEND_URL`, `backend in .../config.json`, `the default`. */
  readonly source: string;
  readonly isDefault: boolean;
}

/** The environment and config.json, read once per command; each value is checked when it is used. */
export class Settings {
  constructor(
    private readonly env: Env,
    readonly config: ConfigFile,
  ) {}

  /** Reads $SEKUIRE_HOME/config.json with the checks of private files (no conf). */
  static load(env: Env, home: string): Settings {
    return new Settings(env, readConfig(home));
  }

  /** The value in effect from the environment or config.json; undefined means the default. */
  get(name: SettingName): Setting | undefined {
    const spec: SettingSpec = SETTINGS[name];
    const fromEnv = this.env[spec.env]?.trim();
    if (fromEnv) return { value: spec.normalize(fromEnv, spec.env), source: { type: 'env', name: spec.env } };
    const stored = this.config.values[name];
    if (stored === undefined || stored === null) return undefined;
    const source: SettingSource = { type: 'config', path: this.config.path };
    if (typeof stored !== 'string' && typeof stored !== 'number') {
      throw new UsageError(`${sourceText(name, source)} is not a string or a number.`, 'invalid_setting', {
        hint: `Run 'sekuire config unset ${name}', or set it again with 'sekuire config set ${name} VALUE'`,
        details: { setting: name },
      });
    }
    try {
      return { value: spec.normalize(String(stored), sourceText(name, source)), source };
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      throw new UsageError(error.message, error.code, {
        hint: `Run 'sekuire config unset ${name}', or set it again with 'sekuire config set ${name} VALUE'`,
        details: error.details,
      });
    }
  }

  /** The backend for a key that has no stored backend: the flag, SEKUIRE_BACKEND_URL, config.json, the default. */
  backend(flag?: Flag): Backend {
    if (flag) {
      const url = parseBackendUrl(flag.value, flag.name);
      return { url, source: flag.name, isDefault: urlText(url) === DEFAULT_BACKEND_URL };
    }
    const setting = this.get('backend');
    if (setting) {
      return {
        url: parseBackendUrl(String(setting.value), 'backend'),
        source: sourceText('backend', setting.source),
        isDefault: setting.value === DEFAULT_BACKEND_URL,
      };
    }
    return {
      url: parseBackendUrl(DEFAULT_BACKEND_URL, 'the default'),
      source: 'the default',
      isDefault: true,
    };
  }

  /**
   * The dashboard's web app: --web-url, SEKUIRE_WEB_URL, config.json, then the backend's origin
   * when the backend is not the default one (a self-hosted backend serves its own dashboard),
   * else https://sekuire.ai.
   */
  webUrl(flag: Flag | undefined, backend: Backend): string {
    if (flag) return urlText(parseWebUrl(flag.value, flag.name));
    const setting = this.get('web_url');
    if (setting) return String(setting.value);
    return backend.isDefault ? DEFAULT_WEB_URL : backend.url.origin;
  }

  /** The value in effect and where it comes from, defaults included (the dashboard link's is computed). */
  effective(name: SettingName): Setting {
    const setting = this.get(name);
    if (setting) return setting;
    const source: SettingSource = { type: 'default' };
    switch (name) {
      case 'backend':
        return { value: DEFAULT_BACKEND_URL, source };
      case 'web_url':
        return { value: this.webUrl(undefined, this.backend()), source };
      case 'timeout':
        return { value: DEFAULT_POLICY.deadlineMs / 1000, source };
      case 'connect_timeout':
        return { value: DEFAULT_POLICY.connectTimeoutMs / 1000, source };
      case 'retries':
        return { value: DEFAULT_POLICY.retries, source };
      case 'audiences':
        return { value: '', source };
    }
  }

  /** The network policy with SEKUIRE_TIMEOUT, SEKUIRE_CONNECT_TIMEOUT, SEKUIRE_RETRIES (or config.json) applied. */
  policy(): NetworkPolicy {
    const seconds = (name: 'timeout' | 'connect_timeout') => {
      const setting = this.get(name);
      return setting === undefined ? undefined : Math.max(1, Math.round(Number(setting.value) * 1000));
    };
    const retries = this.get('retries');
    return networkPolicy({
      timeoutMs: seconds('timeout'),
      connectTimeoutMs: seconds('connect_timeout'),
      retries: retries === undefined ? undefined : Number(retries.value),
    });
  }
}
