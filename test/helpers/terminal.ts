// The CLI in a real terminal: tmux sessions on a server of the test file's own, read with capture-pane.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { CLI_PATH, type Machine } from './cli.js';

/** Where save() puts what a screen showed (git-ignored), for people to read; no test compares them. */
export const CAPTURE_DIR = resolve(import.meta.dirname, '../../test-results/terminal');

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

export interface ScreenOptions {
  /** Lines the pane wrapped at its width are joined again (capture-pane -J): a long URL reads whole. */
  readonly joined?: boolean;
}

export class Terminal {
  /** Its own tmux server: files running side by side never see each other's sessions. */
  private readonly socket = `sekuire-test-${process.pid}-${randomBytes(4).toString('hex')}`;

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /**
   * Starts `sekuire <args>` for `machine` in a new 150 × 40 session (`env` added; undefined
   * removes a variable). When it ends the pane shows `EXIT:<code>`, then `TTY:` and the
   * terminal's echo and icanon modes as it left them.
   */
  start(
    session: string,
    machine: Machine,
    args: readonly string[],
    env: Record<string, string | undefined> = {},
  ): void {
    const variables: Record<string, string | undefined> = {
      HOME: machine.dir,
      SEKUIRE_HOME: machine.home,
      SEKUIRE_MACHINE_ID: machine.machineId,
      TERM: 'xterm-256color',
      ...machine.baseEnv,
      ...env,
    };
    const unset = ['SEKUIRE_API_KEY', 'NO_COLOR', 'FORCE_COLOR'];
    const settings: string[] = [];
    for (const [name, value] of Object.entries(variables)) {
      if (value === undefined) unset.push(name);
      else settings.push(`${name}=${shellQuote(value)}`);
    }
    const command = [
      `env ${unset.map((name) => `-u ${name}`).join(' ')} ${settings.join(' ')}`,
      `${shellQuote(process.execPath)} ${shellQuote(CLI_PATH)} ${args.map(shellQuote).join(' ')};`,
      'echo EXIT:$?;',
      "echo TTY:$(stty -a | tr ' ;' '\\n\\n' | grep -x -E -- '-?(echo|icanon)' | tr '\\n' ' ');",
      'sleep 60',
    ].join(' ');
    this.tmux('new-session', '-d', '-s', session, '-x', '150', '-y', '40', command);
  }

  /** What the pane shows now, as text. */
  screen(session: string, options: ScreenOptions = {}): string {
    return this.tmux('capture-pane', '-p', ...(options.joined ? ['-J'] : []), '-t', session);
  }

  /** The screen with its colours, as escape sequences. */
  colouredScreen(session: string): string {
    return this.tmux('capture-pane', '-p', '-e', '-t', session);
  }

  /** The screen once it matches `pattern` (checked every 100 ms; the limit only guards against a hang). */
  async waitFor(
    session: string,
    pattern: RegExp,
    timeoutMs = 15_000,
    options: ScreenOptions = {},
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = this.screen(session, options);
      if (pattern.test(text)) return text;
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 100));
    }
    throw new Error(`timed out waiting for ${pattern} in:\n${text}`);
  }

  /** The terminal modes the command left behind ("icanon echo" when it restored them). */
  async modesAfterExit(session: string): Promise<string> {
    return (await this.waitFor(session, /TTY:.*\n/)).match(/TTY:(.*)/)?.[1]?.trim() ?? '';
  }

  /** Pastes `text` as a terminal does (one write, not keystrokes). */
  paste(session: string, text: string): void {
    this.tmux('set-buffer', '-b', session, text);
    this.tmux('paste-buffer', '-d', '-b', session, '-t', session);
  }

  /** Keys by tmux name: 'Enter', 'C-c', 'BSpace'. */
  keys(session: string, ...keys: string[]): void {
    this.tmux('send-keys', '-t', session, ...keys);
  }

  /** Saves the screen, trailing blank lines dropped, as test-results/terminal/<name>.txt. */
  save(session: string, name: string): void {
    mkdirSync(CAPTURE_DIR, { recursive: true });
    writeFileSync(join(CAPTURE_DIR, `${name}.txt`), `${this.screen(session).replace(/\n+$/, '')}\n`);
  }

  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // No session left: nothing to stop.
    }
  }
}

/** A terminal for the test file, its tmux server stopped after the file. */
export function useTerminal(): Terminal {
  const terminal = new Terminal();
  afterAll(() => terminal.close());
  return terminal;
}
