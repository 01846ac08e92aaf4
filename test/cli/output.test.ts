// Rendering: the human lines of CLI.md in order, JSON with the same facts, errors, key redaction.

import { BASE62, mintKey } from '@sekuire/shared/key';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderError, renderResult } from '../../packages/cli/src/cli/output.js';
import type {
  AuthTestResult,
  LoginResult,
  LogoutResult,
  Result,
  StatusResult,
  TokenResult,
  WhoamiResult,
} from '../../packages/cli/src/cli/results.js';
import {
  CredentialsFileError,
  DeviceMismatchError,
  KeyRejectedError,
  NotLoggedInError,
  SekuireError,
} from '../../packages/cli/src/core/errors.js';
import { redactKeys } from '../../packages/cli/src/core/redact.js';

const KEY = mintKey('live');
const FINGERPRINT = `a1b2c3d4e5f6${'7'.repeat(52)}`;
const PATH = '/home/dev/.sekuire/auth.json';

const login: LoginResult = {
  kind: 'login',
  data: {
    logged_in: true,
    key: { id: 'key_1', name: 'CLI key', environment: 'live', masked: KEY.masked },
    user: { id: 'user_abc123', email: 'dev@example.com', name: 'Dev' },
    organization: { id: 'org_1', name: 'Acme Corp' },
    workspace: { id: 'ws_abc123', name: 'Main' },
    device: {
      name: 'MacBook-Pro',
      os: 'macos',
      fingerprint: FINGERPRINT,
      id_source: 'machine',
      id: 'dev_1',
      bound_at: '2025-01-01T00:00:00.000Z',
      rebound: false,
    },
    moved_from: null,
    backend: 'https://api.sekuire.ai',
    credentials_path: PATH,
    profile: 'default',
    expires_at: null,
    previous: null,
  },
};

const status: StatusResult = {
  kind: 'status',
  data: {
    authenticated: true,
    source: { type: 'file', path: PATH },
    profile: { name: 'default', from: 'default' },
    key: { masked: KEY.masked, environment: 'live', id: 'key_1' },
    expires_at: null,
    device: {
      name: 'MacBook-Pro',
      os: 'macos',
      fingerprint: FINGERPRINT,
      id_source: 'machine',
      bound_here: true,
    },
    organization: { id: 'org_1', name: 'Acme Corp' },
    workspace: { id: 'ws_abc123', name: 'Main' },
    backend: 'https://api.sekuire.ai',
    checked: 'online',
  },
};

const whoami: WhoamiResult = {
  kind: 'whoami',
  data: {
    user: { id: 'user_abc123', email: 'dev@example.com', name: 'Dev' },
    organization: { id: 'org_1', name: 'Acme Corp' },
    workspace: { id: 'ws_abc123', name: 'Main' },
    device: {
      name: 'MacBook-Pro',
      os: 'macos',
      fingerprint: FINGERPRINT,
      id_source: 'machine',
      bound_here: true,
    },
    source: { type: 'file', path: PATH },
    profile: { name: 'default', from: 'default' },
    backend: 'https://api.sekuire.ai',
  },
};

const logout: LogoutResult = {
  kind: 'logout',
  data: {
    logged_out: true,
    profile: 'default',
    credentials_path: PATH,
    removed: true,
    backend: 'https://api.sekuire.ai',
    unbound: true,
    unbind_error: null,
    api_key_env_set: false,
  },
};

const token: TokenResult = { kind: 'token', data: { key: KEY.value, source: { type: 'file', path: PATH } } };

const authTest: AuthTestResult = {
  kind: 'auth-test',
  data: {
    ok: true,
    backend: 'https://api.sekuire.ai',
    url: 'https://api.sekuire.ai/api/v1/cli/status',
    key: { masked: KEY.masked, environment: 'live', id: 'key_1' },
    source: { type: 'env', name: 'SEKUIRE_API_KEY' },
    device: { fingerprint: FINGERPRINT, bound_here: true },
    response_time_ms: 42,
    attempts: 1,
  },
};

function lines(result: Result): string[] {
  const text = renderResult(result, false);
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

/** The contract lines of CLI.md come first, in order; anything after them is extra. */
function expectContract(actual: string[], contract: string[]): void {
  expect(actual.slice(0, contract.length)).toEqual(contract);
}

describe('renderResult, human', () => {
  it('login: the CLI.md lines, then where the credentials went', () => {
    const contract = [
      'Login successful! API Key verified and bound to this device.',
      'Device: MacBook-Pro',
      'OS: macos',
      'Fingerprint: a1b2c3d4e5f6...',
    ];
    expectContract(lines(login), contract);
    expect(lines(login)).toEqual([...contract, `Credentials saved to: ${PATH}`]);
  });

  it('login: names the device that lost the binding', () => {
    const moved: LoginResult = {
      ...login,
      data: {
        ...login.data,
        device: { ...login.data.device, os: 'linux', rebound: true },
        moved_from: { name: 'Old-Laptop', os: 'windows' },
      },
    };
    expect(lines(moved)).toEqual([
      'Login successful! API Key verified and bound to this device.',
      'Device: MacBook-Pro',
      'OS: linux',
      'Fingerprint: a1b2c3d4e5f6...',
      'Binding moved here from: Old-Laptop (windows)',
      `Credentials saved to: ${PATH}`,
    ]);
  });

  const statusContract = [
    'Authentication Status:',
    'Authenticated with API Key',
    `Key: ${KEY.masked}`,
    'Device Fingerprint: a1b2c3d4...',
    'Device: MacBook-Pro',
    'OS: macos',
    'Workspace: ws_abc123',
  ];

  it('status: the CLI.md lines, then the key source and the backend check', () => {
    expect(KEY.masked).toMatch(/^sk_live_[0-9A-Za-z]{3}\.\.\.[0-9A-Za-z]{3}$/);
    expectContract(lines(status), statusContract);
    expect(lines(status)).toEqual([
      ...statusContract,
      `Source: ${PATH}`,
      'Profile: default',
      'Backend: https://api.sekuire.ai (key accepted just now)',
    ]);
    expect(renderResult(status, false)).not.toContain(KEY.value);
  });

  it('status --offline with SEKUIRE_API_KEY and an unbound key', () => {
    const offline: StatusResult = {
      kind: 'status',
      data: {
        ...status.data,
        source: { type: 'env', name: 'SEKUIRE_API_KEY' },
        profile: null,
        device: { ...status.data.device, bound_here: false },
        organization: null,
        workspace: null,
        checked: 'offline',
      },
    };
    expect(lines(offline)).toEqual([
      ...statusContract.slice(0, 6),
      'Workspace: unknown (not checked with the backend)',
      'Source: SEKUIRE_API_KEY (environment variable)',
      'Backend: https://api.sekuire.ai (not contacted: --offline)',
      "Binding: the key is not bound to any device (run 'sekuire login' to bind it here)",
    ]);
  });

  it('status --show-key shows the whole key in human form only', () => {
    const revealed: StatusResult = { ...status, revealKey: KEY.value };
    expect(lines(revealed)[2]).toBe(`Key: ${KEY.value}`);
    const json = renderResult(revealed, true);
    expect(json).not.toContain(KEY.value);
    expect(JSON.parse(json)).toEqual(status.data);
  });

  it('whoami: the CLI.md lines', () => {
    const contract = [
      'Current User Information:',
      'Authenticated as:',
      'Email: dev@example.com',
      'User ID: user_abc123',
      'Organization: Acme Corp',
      '',
      'Device Info:',
      'Device: MacBook-Pro',
      'OS: macos',
      'Fingerprint: a1b2c3d4...',
    ];
    expectContract(lines(whoami), contract);
    expect(lines(whoami)).toEqual(contract);
  });

  it('whoami: an organization without a name shows its ID; an unbound key says so', () => {
    const unnamed: WhoamiResult = {
      kind: 'whoami',
      data: {
        ...whoami.data,
        organization: { id: 'org_1', name: '' },
        device: { ...whoami.data.device, bound_here: false },
      },
    };
    const actual = lines(unnamed);
    expect(actual[4]).toBe('Organization: org_1');
    expect(actual.slice(10)).toEqual(['Binding: the key is not bound to any device']);
  });

  it('logout: the CLI.md lines, then what the backend did', () => {
    const contract = ['Logged out successfully!', `Credentials removed from: ${PATH}`];
    expectContract(lines(logout), contract);
    expect(lines(logout)).toEqual([...contract, 'This device was unbound on https://api.sekuire.ai.']);
    const notBound: LogoutResult = { kind: 'logout', data: { ...logout.data, unbound: false } };
    expect(lines(notBound)).toEqual([...contract, 'This device was not bound on https://api.sekuire.ai.']);
    const offline: LogoutResult = { kind: 'logout', data: { ...logout.data, unbound: null } };
    expect(lines(offline)).toEqual(contract);
  });

  it('logout without credentials says there was nothing to remove', () => {
    const nothing: LogoutResult = {
      kind: 'logout',
      data: { ...logout.data, removed: false, backend: null, unbound: null },
    };
    expect(lines(nothing)).toEqual(['Not logged in: nothing to remove.', `No credentials at: ${PATH}`]);
  });

  it('token: the raw key alone', () => {
    expect(renderResult(token, false)).toBe(`${KEY.value}\n`);
  });

  it('auth test: what was checked and how long it took', () => {
    expect(lines(authTest)).toEqual([
      'Authentication OK: https://api.sekuire.ai accepted the key.',
      `Key: ${KEY.masked}`,
      'Source: SEKUIRE_API_KEY (environment variable)',
      'Device Fingerprint: a1b2c3d4...',
      'Response time: 42 ms',
    ]);
    const stdin: AuthTestResult = {
      kind: 'auth-test',
      data: { ...authTest.data, source: { type: 'stdin' } },
    };
    expect(lines(stdin)[2]).toBe('Source: standard input (--with-key)');
  });

  it('completion: the script as is', () => {
    expect(renderResult({ kind: 'completion', script: 'complete -F _sekuire sekuire' }, false)).toBe(
      'complete -F _sekuire sekuire\n',
    );
  });
});

describe('renderResult, JSON', () => {
  const results: [string, Result][] = [
    ['login', login],
    ['status', status],
    ['status --show-key', { ...status, revealKey: KEY.value }],
    ['whoami', whoami],
    ['logout', logout],
    ['auth test', authTest],
  ];

  it.each(results)('%s: one JSON object with the facts, never the whole key', (_name, result) => {
    const text = renderResult(result, true);
    expect(text.endsWith('}\n')).toBe(true);
    const parsed: unknown = JSON.parse(text);
    expect(parsed).toEqual('data' in result ? result.data : undefined);
    expect(text).not.toContain(KEY.value);
    expect(text).not.toContain(KEY.value.slice(8, 40));
  });

  it('carries every fact the human text shows', () => {
    const json = JSON.parse(renderResult(login, true)) as LoginResult['data'];
    expect(json.device.fingerprint.slice(0, 12)).toBe('a1b2c3d4e5f6');
    expect([json.device.name, json.device.os, json.key.masked]).toEqual(['MacBook-Pro', 'macos', KEY.masked]);
    const who = JSON.parse(renderResult(whoami, true)) as WhoamiResult['data'];
    expect([who.user.email, who.user.id, who.organization.name]).toEqual([
      'dev@example.com',
      'user_abc123',
      'Acme Corp',
    ]);
    const out = JSON.parse(renderResult(logout, true)) as LogoutResult['data'];
    expect([out.logged_out, out.credentials_path]).toEqual([true, PATH]);
  });

  it('token --json is the one rendering with the whole key', () => {
    expect(JSON.parse(renderResult(token, true))).toEqual({
      key: KEY.value,
      source: { type: 'file', path: PATH },
    });
  });

  it('completion --json wraps the script', () => {
    expect(JSON.parse(renderResult({ kind: 'completion', script: 'x' }, true))).toEqual({ script: 'x' });
  });
});

describe('renderError', () => {
  it('JSON errors are {"error": {code, message, ...details}} on stdout, nothing on stderr', () => {
    const error = new DeviceMismatchError('This key is bound to another device.', 'device_mismatch', {
      details: {
        backend: 'https://api.sekuire.ai',
        bound_device: { name: 'Old-Laptop', os: 'linux', bound_at: '2025-01-01' },
      },
    });
    const rendered = renderError(error, true);
    expect(rendered.stderr).toBe('');
    expect(rendered.stdout.endsWith('}\n')).toBe(true);
    expect(JSON.parse(rendered.stdout)).toEqual({
      error: {
        code: 'device_mismatch',
        message: 'This key is bound to another device.',
        backend: 'https://api.sekuire.ai',
        bound_device: { name: 'Old-Laptop', os: 'linux', bound_at: '2025-01-01' },
      },
    });
    expect(Object.keys((JSON.parse(rendered.stdout) as { error: object }).error).slice(0, 2)).toEqual([
      'code',
      'message',
    ]);
  });

  it('human errors are the message on stderr, nothing on stdout', () => {
    expect(renderError(new NotLoggedInError(), false)).toEqual({
      stdout: '',
      stderr: "Not logged in\nRun 'sekuire login' to authenticate\n",
    });
    const file = new CredentialsFileError('credentials_corrupt', `${PATH} is empty.`, {
      details: { path: PATH },
    });
    expect(renderError(file, false)).toEqual({ stdout: '', stderr: `${PATH} is empty.\n` });
    expect(JSON.parse(renderError(file, true).stdout)).toEqual({
      error: { code: 'credentials_corrupt', message: `${PATH} is empty.`, path: PATH },
    });
  });

  it('the hint is the last line of a human error, and its own field in JSON', () => {
    const error = new CredentialsFileError('credentials_corrupt', `${PATH} is empty.`, {
      hint: "Run 'sekuire logout' to remove it",
      details: { path: PATH },
    });
    expect(renderError(error, false).stderr).toBe(`${PATH} is empty.\nRun 'sekuire logout' to remove it\n`);
    expect(JSON.parse(renderError(error, true).stdout)).toEqual({
      error: {
        code: 'credentials_corrupt',
        message: `${PATH} is empty.`,
        hint: "Run 'sekuire logout' to remove it",
        path: PATH,
      },
    });
  });

  it('masks keys in the message and the details, in both forms', () => {
    const test = mintKey('test');
    const error = new KeyRejectedError('invalid_key', `The backend rejected ${KEY.value}.`, {
      details: { echoed: test.value },
    });
    const human = renderError(error, false);
    expect(human.stderr).toBe(`The backend rejected ${KEY.masked}.\n`);
    const json = renderError(error, true);
    expect(json.stdout).not.toContain(KEY.value);
    expect(json.stdout).not.toContain(test.value);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'invalid_key', message: `The backend rejected ${KEY.masked}.`, echoed: test.masked },
    });
  });

  it('details never replace the code or the message', () => {
    const error = new SekuireError('backend_error', 'It failed.', 'backendUnreachable', {
      details: { code: 'other', message: 'not this', hint: 'nor this', status: 500 },
    });
    expect(JSON.parse(renderError(error, true).stdout)).toEqual({
      error: { code: 'backend_error', message: 'It failed.', status: 500 },
    });
  });
});

describe('redactKeys', () => {
  it('masks live and test keys wherever they appear', () => {
    const test = mintKey('test');
    expect(redactKeys(`X-API-Key: ${KEY.value}\nkey=${test.value}; done`)).toBe(
      `X-API-Key: ${KEY.masked}\nkey=${test.masked}; done`,
    );
    expect(redactKeys(`"${KEY.value}","${KEY.value}"`)).toBe(`"${KEY.masked}","${KEY.masked}"`);
  });

  it('leaves masked keys as they are, so that redacting twice changes nothing', () => {
    const text = `Key: ${KEY.masked} (sk_test_abc...xyz)`;
    expect(redactKeys(text)).toBe(text);
    const raw = `X-API-Key: ${KEY.value}`;
    expect(redactKeys(redactKeys(raw))).toBe(redactKeys(raw));
    expect(redactKeys('sk_live_abcdef')).toBe('sk_live_abcdef');
  });

  it('masks malformed and partial keys too', () => {
    expect(redactKeys('sk_live_abcdefg')).toBe('sk_live_abc...efg');
    expect(redactKeys(`${KEY.value}EXTRA`)).toBe(`${KEY.value.slice(0, 11)}...TRA`);
    expect(redactKeys(`sk_test_${'Z'.repeat(60)}`)).toBe('sk_test_ZZZ...ZZZ');
  });

  it('with the key in use, removes runs of its random part that come without the prefix', () => {
    const secret = KEY.value.slice(8, 40);
    expect(redactKeys(`org ${secret} and ${secret.slice(5, 25)}!`, KEY)).toBe(
      'org [redacted] and [redacted]!',
    );
    expect(redactKeys(`short ${secret.slice(0, 11)} stays`, KEY)).toBe(`short ${secret.slice(0, 11)} stays`);
    expect(redactKeys('Acme Corp', KEY)).toBe('Acme Corp');
  });

  it('leaves text without keys alone', () => {
    const text = 'Cannot reach https://api.sekuire.ai: sk_ prefix, sk_prod_x, SK_LIVE_ABC';
    expect(redactKeys(text)).toBe(text);
  });

  it('never lets a key through, whatever surrounds it', () => {
    const random = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 32, maxLength: 32 });
    const around = fc.string({ unit: fc.constantFrom(' ', '\n', ':', '"', '=', '/', 'a', 'Z', '9', '-') });
    fc.assert(
      fc.property(random, fc.constantFrom('live', 'test'), around, around, (body, env, before, after) => {
        const key = `sk_${env}_${body}XXXXXX`;
        const out = redactKeys(`${before} ${key} ${after}`);
        expect(out).not.toContain(body);
        expect(out).toBe(`${before} sk_${env}_${body.slice(0, 3)}...XXX ${after}`);
      }),
    );
  });
});
