// The masked prompt in a real terminal (tmux): paste, paste with trailing whitespace, a typo, Ctrl+C.

import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, Machine } from '../helpers/cli.js';
import { MoveApprover } from '../helpers/moves.js';
import { startServer, type TestServer } from '../helpers/server.js';

const SOCKET = `sekuire-test-${process.pid}`;
let server: TestServer;
const machines: Machine[] = [];

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** Starts `sekuire <args>` in a fresh tmux session; the pane shows EXIT:<code> when it ends. */
function startInTerminal(
  session: string,
  m: Machine,
  args: readonly string[],
  extra: Record<string, string> = {},
): void {
  const env = Object.entries({
    HOME: m.dir,
    SEKUIRE_HOME: m.home,
    SEKUIRE_MACHINE_ID: m.machineId,
    SEKUIRE_BACKEND_URL: server.url,
    TERM: 'xterm-256color',
    ...extra,
  })
    .map(([name, value]) => `${name}=${shellQuote(value)}`)
    .join(' ');
  const command = `env -u SEKUIRE_API_KEY -u NO_COLOR -u FORCE_COLOR ${env} ${shellQuote(process.execPath)} ${shellQuote(CLI_PATH)} ${args.map(shellQuote).join(' ')}; echo EXIT:$?; echo TTY:$(stty -a | tr ' ;' '\\n\\n' | grep -x -E -- '-?(echo|icanon)' | tr '\\n' ' '); sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '150', '-y', '40', command);
}

function screen(session: string): string {
  return tmux('capture-pane', '-p', '-t', session);
}

/** An SGR (colour) escape sequence. */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`);

/** The screen with its colours, as escape sequences. */
function colouredScreen(session: string): string {
  return tmux('capture-pane', '-p', '-e', '-t', session);
}

async function waitFor(session: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = screen(session);
    if (pattern.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${pattern} in:\n${text}`);
}

function paste(session: string, text: string): void {
  tmux('set-buffer', '-b', session, text);
  tmux('paste-buffer', '-d', '-b', session, '-t', session);
}

function machine(id: string): Machine {
  const created = new Machine(id);
  machines.push(created);
  return created;
}

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // No session left: nothing to stop.
  }
  await server?.stop();
});
afterEach(() => {
  for (const m of machines.splice(0)) m.cleanup();
});

describe('login at the masked prompt', () => {
  it('shows the documented block, masks a pasted key, and binds', async () => {
    const { key } = await server.createKey();
    const m = machine('tty-a');
    startInTerminal('paste', m, ['login', '--web-url', 'https://sekuire.example']);
    const before = await waitFor('paste', /Enter your API Key:/);
    expect(before).toContain(
      [
        'Sekuire Login',
        '',
        'To authenticate:',
        '1. Go to: https://sekuire.example/dashboard/settings?tab=api-keys',
        '2. Create a new API Key for CLI access',
        "3. Copy the key (you'll only see it once!)",
        '4. Paste it below',
      ].join('\n'),
    );
    paste('paste', key);
    const typed = await waitFor('paste', /Enter your API Key: \*{46}/);
    expect(typed).not.toContain(key);
    tmux('send-keys', '-t', 'paste', 'Enter');
    const done = await waitFor('paste', /EXIT:\d+/);
    expect(done).toContain('Login successful! API Key verified and bound to this device.');
    expect(done).toContain('EXIT:0');
    expect(done).not.toContain(key);
    expect(statSync(m.authFile).mode & 0o777).toBe(0o600);
  });

  it('accepts a paste with trailing whitespace', async () => {
    const { key } = await server.createKey();
    const m = machine('tty-b');
    startInTerminal('trailing', m, ['login']);
    await waitFor('trailing', /Enter your API Key:/);
    paste('trailing', `${key}   \t`);
    tmux('send-keys', '-t', 'trailing', 'Enter');
    const done = await waitFor('trailing', /EXIT:\d+/);
    expect(done).toContain('EXIT:0');
  });

  it('explains a malformed paste and asks again', async () => {
    const { key } = await server.createKey();
    const m = machine('tty-c');
    startInTerminal('typo', m, ['login']);
    await waitFor('typo', /Enter your API Key:/);
    paste('typo', key.slice(0, 30));
    tmux('send-keys', '-t', 'typo', 'Enter');
    const told = await waitFor('typo', /looks truncated/);
    expect(told).not.toContain('EXIT:');
    // Clear the field (inquirer keeps the rejected text) and paste the whole key.
    tmux('send-keys', '-t', 'typo', ...Array<string>(30).fill('BSpace'));
    paste('typo', key);
    tmux('send-keys', '-t', 'typo', 'Enter');
    const done = await waitFor('typo', /EXIT:\d+/);
    expect(done).toContain('EXIT:0');
  });

  it('Ctrl+C exits 130, writes nothing and restores the terminal', async () => {
    const m = machine('tty-d');
    startInTerminal('interrupt', m, ['login']);
    await waitFor('interrupt', /Enter your API Key:/);
    tmux('send-keys', '-t', 'interrupt', '-l', 'sk_live_abc');
    tmux('send-keys', '-t', 'interrupt', 'C-c');
    const done = await waitFor('interrupt', /EXIT:\d+/);
    expect(done).toContain('EXIT:130');
    expect(existsSync(m.authFile)).toBe(false);
    // The terminal is handed back as we found it: echo and line editing on.
    expect((await waitFor('interrupt', /TTY:.*\n/)).match(/TTY:(.*)/)?.[1]?.trim()).toBe('icanon echo');
  });

  it('asks before moving a binding, requests the move on yes, and finishes once it is approved', async () => {
    await server.createUser('tty-owner@example.com');
    const { key, id } = await server.createKey({ email: 'tty-owner@example.com' });
    const first = machine('tty-first');
    expect(
      (await first.run(['login', '--with-key'], { input: key, env: { SEKUIRE_BACKEND_URL: server.url } }))
        .code,
    ).toBe(0);
    const second = machine('tty-second');
    startInTerminal('rebind', second, ['login']);
    await waitFor('rebind', /Enter your API Key:/);
    paste('rebind', key);
    tmux('send-keys', '-t', 'rebind', 'Enter');
    await waitFor('rebind', /Move the binding to this device\?/);
    tmux('send-keys', '-t', 'rebind', 'y', 'Enter');
    const asked = await waitFor('rebind', /Check that the page shows the code: [A-Z]{4}-[A-Z]{4}/);
    expect(asked).toContain(`1. Go to: ${server.url}/move?code=`);
    expect(asked).not.toContain('EXIT:');
    const owner = await MoveApprover.signIn(server.url, 'tty-owner@example.com');
    const move = await owner.waitFor(id);
    expect(asked).toContain(`code: ${move.user_code}`);
    expect((await owner.decide(move.id, 'approve')).status).toBe(200);
    const done = await waitFor('rebind', /EXIT:\d+/);
    expect(done).toContain('Move approved.');
    expect(done).toContain('EXIT:0');
    expect(done).toContain('Binding moved here from:');
    const old = await first.run(['status'], { env: { SEKUIRE_BACKEND_URL: server.url } });
    expect(old.code).toBe(12);
  });

  it('is coloured on a terminal, and plain with NO_COLOR', async () => {
    const m = machine('tty-colour');
    startInTerminal('colour', m, ['login']);
    await waitFor('colour', /Enter your API Key:/);
    const coloured =
      colouredScreen('colour')
        .split('\n')
        .find((line) => line.includes('your API Key:')) ?? '';
    expect(coloured).toMatch(SGR);
    tmux('send-keys', '-t', 'colour', 'C-c');
    await waitFor('colour', /EXIT:130/);

    const plain = machine('tty-plain');
    startInTerminal('plain', plain, ['login'], { NO_COLOR: '1' });
    await waitFor('plain', /Enter your API Key:/);
    expect(colouredScreen('plain')).not.toMatch(SGR);
    tmux('send-keys', '-t', 'plain', 'C-c');
    await waitFor('plain', /EXIT:130/);
  });

  it('reports a bad setting before showing the prompt', async () => {
    const m = machine('tty-setting');
    startInTerminal('setting', m, ['login'], { SEKUIRE_TIMEOUT: 'soon' });
    const done = await waitFor('setting', /EXIT:\d+/);
    expect(done).toContain('SEKUIRE_TIMEOUT must be a number of seconds');
    expect(done).not.toContain('Sekuire Login');
    expect(done).toContain('EXIT:2');
  });
});

describe('login --with-key with a terminal on stdin', () => {
  it('reads the key without echo, and says so', async () => {
    const { key } = await server.createKey();
    const m = machine('tty-with-key');
    startInTerminal('hidden', m, ['login', '--with-key']);
    await waitFor('hidden', /input hidden/);
    paste('hidden', key);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const typed = screen('hidden');
    expect(typed).not.toContain(key.slice(8, 20));
    expect(typed).not.toContain('****');
    tmux('send-keys', '-t', 'hidden', 'Enter');
    const done = await waitFor('hidden', /EXIT:\d+/);
    expect(done).toContain('EXIT:0');
    expect(done).toContain('Login successful!');
    expect(done).not.toContain(key);
    expect((await waitFor('hidden', /TTY:.*\n/)).match(/TTY:(.*)/)?.[1]?.trim()).toBe('icanon echo');
  });

  it('a key bound elsewhere asks before moving it; no means exit 12, never 0', async () => {
    const { key } = await server.createKey();
    const first = machine('tty-bound-first');
    expect(
      (await first.run(['login', '--with-key'], { input: key, env: { SEKUIRE_BACKEND_URL: server.url } }))
        .code,
    ).toBe(0);
    const second = machine('tty-bound-second');
    startInTerminal('declined', second, ['login', '--with-key']);
    await waitFor('declined', /input hidden/);
    paste('declined', key);
    tmux('send-keys', '-t', 'declined', 'Enter');
    await waitFor('declined', /Move the binding to this device\?/);
    tmux('send-keys', '-t', 'declined', 'n', 'Enter');
    const done = await waitFor('declined', /EXIT:\d+/);
    expect(done).toContain('The binding was not moved');
    expect(done).toContain('EXIT:12');
    expect(existsSync(second.authFile)).toBe(false);
  });
});

describe('browser and device-code login in a terminal', () => {
  it('--device shows the code block and waits; Ctrl+C exits 130 and the terminal is as it was', async () => {
    const m = machine('tty-device');
    startInTerminal('device', m, ['login', '--device']);
    const shown = await waitFor('device', /Waiting for approval/);
    expect(shown).toMatch(
      new RegExp(
        `Sekuire Login \\(device code\\)\\n1\\. Go to: ${server.url.replace(/[.]/g, '\\.')}/device\\n2\\. Enter the code: [BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}\\nWaiting for approval \\(expires in 15 minutes\\)\\.\\.\\.`,
      ),
    );
    tmux('send-keys', '-t', 'device', 'C-c');
    const done = await waitFor('device', /EXIT:\d+/);
    expect(done).toContain('EXIT:130');
    expect(existsSync(m.authFile)).toBe(false);
    expect((await waitFor('device', /TTY:.*\n/)).match(/TTY:(.*)/)?.[1]?.trim()).toBe('icanon echo');
  });

  it('--web with no display says so and falls back to a device code', async () => {
    const m = machine('tty-web');
    startInTerminal('web', m, ['login', '--web']);
    const shown = await waitFor('web', /Enter the code:/);
    // The line may wrap in the 150-column pane; this machine is a container, CI's may have no display.
    expect(shown.replace(/\n/g, '')).toMatch(
      /No browser can be opened here \(.+\): using a device code instead\./,
    );
    tmux('send-keys', '-t', 'web', 'C-c');
    expect(await waitFor('web', /EXIT:\d+/)).toContain('EXIT:130');
  });

  it('--web --no-browser shows the URL and the words; Ctrl+C closes the listener', async () => {
    const m = machine('tty-web-url');
    startInTerminal('weburl', m, ['login', '--web', '--no-browser']);
    const shown = await waitFor('weburl', /Waiting for the browser/);
    const url = /1\. Go to: (\S+)/.exec(shown.replace(/\n(?!\d\. |Waiting|Sekuire)/g, ''))?.[1] as string;
    expect(shown).toMatch(/2\. Check that the page shows: [A-Z]+-[A-Z]+\n/);
    const listener = new URL(new URL(url).searchParams.get('redirect_uri') as string);
    expect(listener.hostname).toBe('127.0.0.1');
    tmux('send-keys', '-t', 'weburl', 'C-c');
    expect(await waitFor('weburl', /EXIT:\d+/)).toContain('EXIT:130');
    await expect(fetch(listener.origin)).rejects.toThrow();
  });
});
