// The masked prompt in a real terminal (tmux): paste, paste with trailing whitespace, a typo, Ctrl+C.

import { existsSync, statSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../helpers/cli.js';
import { MoveApprover } from '../helpers/moves.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { useTerminal } from '../helpers/terminal.js';

let server: TestServer;
const machines: Machine[] = [];
const terminal = useTerminal();

/** Starts `sekuire <args>` in a fresh tmux session, against this file's server. */
function startInTerminal(
  session: string,
  m: Machine,
  args: readonly string[],
  extra: Record<string, string> = {},
): void {
  terminal.start(session, m, args, { SEKUIRE_BACKEND_URL: server.url, ...extra });
}

/** An SGR (colour) escape sequence. */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`);

function machine(id: string): Machine {
  const created = new Machine(id);
  machines.push(created);
  return created;
}

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
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
    const before = await terminal.waitFor('paste', /Enter your API Key:/);
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
    terminal.paste('paste', key);
    const typed = await terminal.waitFor('paste', /Enter your API Key: \*{46}/);
    expect(typed).not.toContain(key);
    terminal.keys('paste', 'Enter');
    const done = await terminal.waitFor('paste', /EXIT:\d+/);
    expect(done).toContain('Login successful! API Key verified and bound to this device.');
    expect(done).toContain('EXIT:0');
    expect(done).not.toContain(key);
    expect(statSync(m.authFile).mode & 0o777).toBe(0o600);
  });

  it('accepts a paste with trailing whitespace', async () => {
    const { key } = await server.createKey();
    const m = machine('tty-b');
    startInTerminal('trailing', m, ['login']);
    await terminal.waitFor('trailing', /Enter your API Key:/);
    terminal.paste('trailing', `${key}   \t`);
    terminal.keys('trailing', 'Enter');
    const done = await terminal.waitFor('trailing', /EXIT:\d+/);
    expect(done).toContain('EXIT:0');
  });

  it('explains a malformed paste and asks again in an empty field', async () => {
    const { key } = await server.createKey();
    const m = machine('tty-c');
    startInTerminal('typo', m, ['login']);
    await terminal.waitFor('typo', /Enter your API Key:/);
    terminal.paste('typo', key.slice(0, 30));
    terminal.keys('typo', 'Enter');
    const told = await terminal.waitFor(
      'typo',
      /looks truncated.*Paste the whole key again\.\n.*Enter your API Key:/s,
    );
    expect(told).not.toContain('EXIT:');
    // The field starts empty: the whole key pasted again is the key, not 30 + 46 characters.
    terminal.paste('typo', key);
    const typed = await terminal.waitFor('typo', /Paste the whole key again\.\nEnter your API Key: \*{46}$/m);
    expect(typed).not.toMatch(/\*{47}/);
    terminal.keys('typo', 'Enter');
    const done = await terminal.waitFor('typo', /EXIT:\d+/);
    expect(done).toContain('EXIT:0');
  });

  it('Ctrl+C exits 130, writes nothing and restores the terminal', async () => {
    const m = machine('tty-d');
    startInTerminal('interrupt', m, ['login']);
    await terminal.waitFor('interrupt', /Enter your API Key:/);
    terminal.keys('interrupt', '-l', 'sk_live_abc');
    terminal.keys('interrupt', 'C-c');
    const done = await terminal.waitFor('interrupt', /EXIT:\d+/);
    expect(done).toContain('EXIT:130');
    expect(existsSync(m.authFile)).toBe(false);
    // The terminal is handed back as we found it: echo and line editing on.
    expect(await terminal.modesAfterExit('interrupt')).toBe('icanon echo');
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
    await terminal.waitFor('rebind', /Enter your API Key:/);
    terminal.paste('rebind', key);
    terminal.keys('rebind', 'Enter');
    await terminal.waitFor('rebind', /Move the binding to this device\?/);
    terminal.keys('rebind', 'y', 'Enter');
    const asked = await terminal.waitFor('rebind', /Check that the page shows the code: [A-Z]{4}-[A-Z]{4}/);
    expect(asked).toContain(`1. Go to: ${server.url}/move?code=`);
    expect(asked).not.toContain('EXIT:');
    const owner = await MoveApprover.signIn(server.url, 'tty-owner@example.com');
    const move = await owner.waitFor(id);
    expect(asked).toContain(`code: ${move.user_code}`);
    expect((await owner.decide(move.id, 'approve')).status).toBe(200);
    const done = await terminal.waitFor('rebind', /EXIT:\d+/);
    expect(done).toContain('Move approved.');
    expect(done).toContain('EXIT:0');
    expect(done).toContain('Binding moved here from:');
    const old = await first.run(['status'], { env: { SEKUIRE_BACKEND_URL: server.url } });
    expect(old.code).toBe(12);
  });

  it('is coloured on a terminal, and plain with NO_COLOR', async () => {
    const m = machine('tty-colour');
    startInTerminal('colour', m, ['login']);
    await terminal.waitFor('colour', /Enter your API Key:/);
    const coloured =
      terminal
        .colouredScreen('colour')
        .split('\n')
        .find((line) => line.includes('your API Key:')) ?? '';
    expect(coloured).toMatch(SGR);
    terminal.keys('colour', 'C-c');
    await terminal.waitFor('colour', /EXIT:130/);

    const plain = machine('tty-plain');
    startInTerminal('plain', plain, ['login'], { NO_COLOR: '1' });
    await terminal.waitFor('plain', /Enter your API Key:/);
    expect(terminal.colouredScreen('plain')).not.toMatch(SGR);
    terminal.keys('plain', 'C-c');
    await terminal.waitFor('plain', /EXIT:130/);
  });

  it('reports a bad setting before showing the prompt', async () => {
    const m = machine('tty-setting');
    startInTerminal('setting', m, ['login'], { SEKUIRE_TIMEOUT: 'soon' });
    const done = await terminal.waitFor('setting', /EXIT:\d+/);
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
    await terminal.waitFor('hidden', /input hidden/);
    terminal.paste('hidden', key);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const typed = terminal.screen('hidden');
    expect(typed).not.toContain(key.slice(8, 20));
    expect(typed).not.toContain('****');
    terminal.keys('hidden', 'Enter');
    const done = await terminal.waitFor('hidden', /EXIT:\d+/);
    expect(done).toContain('EXIT:0');
    expect(done).toContain('Login successful!');
    expect(done).not.toContain(key);
    expect(await terminal.modesAfterExit('hidden')).toBe('icanon echo');
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
    await terminal.waitFor('declined', /input hidden/);
    terminal.paste('declined', key);
    terminal.keys('declined', 'Enter');
    await terminal.waitFor('declined', /Move the binding to this device\?/);
    terminal.keys('declined', 'n', 'Enter');
    const done = await terminal.waitFor('declined', /EXIT:\d+/);
    expect(done).toContain('The binding was not moved');
    expect(done).toContain('EXIT:12');
    expect(existsSync(second.authFile)).toBe(false);
  });
});
