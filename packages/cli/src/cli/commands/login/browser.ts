// `login --web` (loopback redirect with PKCE) and `login --device` (a code to approve in any browser).
import { browserOpener } from '../../../core/browser.js';
import type { BackendClient, DeviceRegistration, TokenAnswer } from '../../../core/client.js';
import type { DeviceIdentity } from '../../../core/device.js';
import { BackendUnreachableError, ForbiddenError, UsageError } from '../../../core/errors.js';
import { parseSeconds } from '../../../core/http/policy.js';
import type { DeviceSigner } from '../../../core/key-store/types.js';
import { listenForCallback } from '../../../core/loopback.js';
import { challengeOf, confirmWords, newState, newVerifier } from '../../../core/pkce.js';
import type { Context } from '../../context.js';
import { note } from '../../notes.js';
import type { LoginResult } from '../../results.js';
import { minutes, waitForApproval } from './approval-wait.js';
import { saveLogin, thisDevice } from './save.js';
import type { LoginOptions, LoginStart } from './start.js';

/** CLI.md: --web waits 5 minutes by default; --device until its code expires. */
const WEB_TIMEOUT_MS = 300_000;

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UsageError(
      `--port must be a port number from 1 to 65535, not "${text.slice(0, 20)}".`,
      'usage',
      {
        hint: 'Leave --port out to use any free port',
      },
    );
  }
  return port;
}

function timedOut(ms: number, what: string): BackendUnreachableError {
  return new BackendUnreachableError(
    `Nobody approved the login within ${minutes(ms)} (${what}).`,
    'login_timeout',
    {
      hint: "Run 'sekuire login --web' or 'sekuire login --device' again, and approve it in the browser",
    },
  );
}

function denied(): ForbiddenError {
  return new ForbiddenError('access_denied', 'The login was denied in the browser. Nothing was saved.');
}

interface Flow {
  readonly ctx: Context;
  readonly start: LoginStart;
  readonly identity: DeviceIdentity;
  readonly device: DeviceRegistration;
  readonly signer: DeviceSigner;
  readonly client: BackendClient;
  readonly timeoutMs: number | undefined;
}

/** The end of both flows: the key the backend made for this device, saved like a pasted one. */
async function finish(flow: Flow, answer: TokenAnswer): Promise<LoginResult> {
  if (answer.kind === 'denied') throw denied();
  if (answer.kind === 'expired') {
    throw new BackendUnreachableError(
      'The code expired before it was approved. Nothing was saved.',
      'code_expired',
      {
        hint: "Run 'sekuire login' again and approve it sooner",
      },
    );
  }
  if (answer.kind !== 'granted') {
    throw new BackendUnreachableError(
      `The backend did not accept the approval (${answer.kind === 'invalid' ? answer.message : answer.kind}). Nothing was saved.`,
      'grant_refused',
      { hint: "Run 'sekuire login' again" },
    );
  }
  return saveLogin(flow.ctx, flow.start, {
    key: answer.key,
    response: answer.login,
    identity: flow.identity,
    device: flow.device,
    signer: flow.signer,
    backend: flow.client.backend,
    movedFrom: null,
  });
}

/** RFC 8252: a listener on 127.0.0.1, the browser sent to the authorize page, one matching answer. */
async function webFlow(flow: Flow, options: LoginOptions): Promise<LoginResult> {
  const { ctx, start, device, identity } = flow;
  const listener = await listenForCallback(options.port === undefined ? 0 : parsePort(options.port));
  try {
    const state = newState();
    const verifier = newVerifier();
    const words = confirmWords();
    const query = new URLSearchParams({
      redirect_uri: listener.redirectUri,
      state,
      code_challenge: challengeOf(verifier),
      code_challenge_method: 'S256',
      device_name: device.name,
      device_os: device.os,
      device_os_version: device.os_version,
      device_arch: device.arch,
      confirm: words,
      fingerprint: identity.fingerprint.slice(0, 12),
    });
    const url = `${start.web}/cli/authorize?${query}`;
    const timeoutMs = flow.timeoutMs ?? WEB_TIMEOUT_MS;
    // The URL comes first, always: if no browser opens, the person can still copy it.
    note(
      ctx,
      'Sekuire Login (browser)',
      `1. Go to: ${url}`,
      `2. Check that the page shows: ${words}`,
      `Waiting for the browser (times out in ${minutes(timeoutMs)})...`,
    );
    if (options.browser !== false) {
      const opener = browserOpener(ctx.browser(), url);
      if ('unavailable' in opener) {
        note(ctx, `Note: no browser opened (${opener.unavailable}); open the URL above yourself.`);
      } else {
        const { openWith } = await import('../../../core/open-url.js');
        const failure = await openWith(opener);
        if (failure !== undefined)
          note(ctx, `Note: could not open a browser (${failure}); open the URL above yourself.`);
      }
    }
    const result = await listener.wait(state, timeoutMs);
    if (result.kind === 'timeout')
      throw timedOut(timeoutMs, options.timeout === undefined ? 'the default wait' : '--timeout');
    if (result.kind === 'denied') throw denied();
    note(ctx, 'Approved in the browser.');
    const answer = await flow.client.token({
      grant_type: 'authorization_code',
      code: result.code,
      code_verifier: verifier,
      redirect_uri: listener.redirectUri,
      device,
    });
    return finish(flow, answer.body);
  } finally {
    await listener.close();
  }
}

/** RFC 8628: a code to enter in any browser, then polling at the backend's interval. */
async function deviceFlow(flow: Flow): Promise<LoginResult> {
  const { ctx, start } = flow;
  const code = (await flow.client.deviceCode(flow.device)).body;
  note(
    ctx,
    'Sekuire Login (device code)',
    `1. Go to: ${start.web}/device`,
    `2. Enter the code: ${code.userCode}`,
    `Waiting for approval (expires in ${minutes(code.expiresIn * 1000)})...`,
  );
  const end = await waitForApproval(ctx, {
    expiresIn: code.expiresIn,
    interval: code.interval,
    timeoutMs: flow.timeoutMs,
    poll: async () => {
      const answer = (
        await flow.client.token({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: code.deviceCode,
        })
      ).body;
      return answer.kind === 'pending' || answer.kind === 'slow_down' ? answer.kind : answer;
    },
  });
  if (end.kind === 'timeout') throw timedOut(end.ms, '--timeout');
  return finish(flow, end.kind === 'expired' ? { kind: 'expired' } : end.answer);
}

/** Both flows end like a pasted-key login: a key bound to this device, saved in auth.json. */
export async function browserLogin(
  ctx: Context,
  start: LoginStart,
  mode: 'web' | 'device',
  options: LoginOptions,
): Promise<LoginResult> {
  const timeoutMs = options.timeout === undefined ? undefined : parseSeconds(options.timeout, '--timeout');
  if (options.port !== undefined) parsePort(options.port);
  const { identity, deviceKey, device } = await thisDevice(ctx, start.profile, options, start.previous);
  const client = await ctx.connect({
    backend: start.backend.url,
    backendSource: start.backend.source,
    // The requests that register this device are signed: they prove it holds the key it sends.
    proof: deviceKey,
    fingerprint: identity.fingerprint,
    policy: start.policy,
  });
  const flow: Flow = { ctx, start, identity, device, signer: deviceKey, client, timeoutMs };
  if (mode === 'device') return deviceFlow(flow);
  if (options.browser !== false) {
    // Where no browser can show the page to this person, the loopback answer could never come:
    // say why, and use a code instead.
    const opener = browserOpener(ctx.browser(), '');
    if ('unavailable' in opener) {
      note(ctx, `No browser can be opened here (${opener.unavailable}): using a device code instead.`);
      return deviceFlow(flow);
    }
  }
  return webFlow(flow, options);
}
