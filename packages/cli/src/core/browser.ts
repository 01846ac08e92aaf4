// Which program opens a URL in the user's browser here, or why none can (SSH, no display, a container).
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Env } from './home.js';

export type Opener =
  | { readonly command: string; readonly args: readonly string[]; readonly verbatim?: boolean }
  | { readonly unavailable: string };

/** What the decision needs to know about this machine; tests give their own. */
export interface BrowserFacts {
  readonly env: Env;
  readonly platform: NodeJS.Platform;
  readonly exists: (path: string) => boolean;
  readonly read: (path: string) => string | undefined;
}

export function machineFacts(env: Env, platform: NodeJS.Platform): BrowserFacts {
  return {
    env,
    platform,
    exists: existsSync,
    read: (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

function onPath(facts: BrowserFacts, name: string): string | undefined {
  for (const dir of (facts.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (facts.exists(candidate)) {
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not executable: keep looking.
      }
    }
  }
  return undefined;
}

function isWsl(facts: BrowserFacts): boolean {
  return (
    Boolean(facts.env.WSL_DISTRO_NAME || facts.env.WSL_INTEROP) ||
    /microsoft/i.test(facts.read('/proc/sys/kernel/osrelease') ?? '')
  );
}

function container(facts: BrowserFacts): string | undefined {
  if (facts.exists('/.dockerenv')) return 'docker';
  if (facts.exists('/run/.containerenv')) return 'podman';
  if (facts.env.container) return facts.env.container;
  if (facts.env.KUBERNETES_SERVICE_HOST) return 'kubernetes';
  return undefined;
}

/**
 * BROWSER wins (the user said so; `%s` marks where the URL goes, as xdg-open reads it). Then
 * the platform's opener, unless this session cannot show a browser to the person: an SSH
 * session without a forwarded display, no display at all, or a container.
 */
export function browserOpener(facts: BrowserFacts, url: string): Opener {
  const chosen = facts.env.BROWSER?.split(delimiter)[0]?.trim();
  if (chosen) {
    const parts = chosen.split(/\s+/);
    const args = parts.slice(1);
    return {
      command: parts[0] as string,
      args: args.some((arg) => arg.includes('%s'))
        ? args.map((arg) => arg.replace('%s', url))
        : [...args, url],
    };
  }
  const display = Boolean(facts.env.DISPLAY || facts.env.WAYLAND_DISPLAY);
  const ssh = Boolean(facts.env.SSH_CONNECTION || facts.env.SSH_CLIENT || facts.env.SSH_TTY);
  if (facts.platform === 'win32') {
    // start's first quoted argument is a window title; the URL is quoted so & stays part of it.
    return { command: 'cmd.exe', args: ['/d', '/s', '/c', `start "" "${url}"`], verbatim: true };
  }
  if (facts.platform === 'darwin') {
    if (ssh) return { unavailable: 'an SSH session: a browser would open on the remote screen, not yours' };
    return { command: 'open', args: [url] };
  }
  if (isWsl(facts)) {
    const wslview = onPath(facts, 'wslview');
    if (wslview) return { command: wslview, args: [url] };
    return { command: 'cmd.exe', args: ['/d', '/s', '/c', `start "" "${url}"`], verbatim: true };
  }
  const inContainer = container(facts);
  if (inContainer)
    return { unavailable: `running in a container (${inContainer}), which has no browser of yours` };
  if (ssh && !display) return { unavailable: 'an SSH session without a display' };
  if (!display) return { unavailable: 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)' };
  const xdgOpen = onPath(facts, 'xdg-open');
  if (xdgOpen) return { command: xdgOpen, args: [url] };
  return { unavailable: 'xdg-open is not installed' };
}
