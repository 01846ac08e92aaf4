// A session D-Bus with gnome-keyring's Secret Service on it, in a temporary HOME: the keyring store's OS keyring in tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abandon, until } from './daemon.js';

/**
 * dbus-daemon and gnome-keyring-daemon in the foreground, so that each is a child whose PID
 * the test holds (what dbus-run-session does, minus the process it would leave between us and
 * the daemons). The login keyring is created, and unlocked, with a throwaway password.
 */
export class TestKeyring {
  private constructor(
    readonly dir: string,
    readonly address: string,
    private readonly bus: ChildProcess,
    private readonly keyring: ChildProcess,
  ) {}

  static async start(): Promise<TestKeyring> {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-keyring-'));
    const socket = join(dir, 'bus');
    const address = `unix:path=${socket}`;
    const bus = spawn('dbus-daemon', ['--session', '--nofork', `--address=${address}`], { stdio: 'ignore' });
    await until(() => existsSync(socket), 'dbus-daemon', bus).catch((error: unknown) =>
      abandon(error, dir, bus),
    );
    const env = {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_RUNTIME_DIR: dir,
      DBUS_SESSION_BUS_ADDRESS: address,
    };
    const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
      env,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    keyring.stdin?.end('throwaway keyring password');
    // Ready once it owns the Secret Service's name on the bus.
    const served = () =>
      execFileSync(
        'dbus-send',
        [
          '--session',
          '--print-reply',
          '--dest=org.freedesktop.DBus',
          '/',
          'org.freedesktop.DBus.NameHasOwner',
          'string:org.freedesktop.secrets',
        ],
        { env, encoding: 'utf8', timeout: 5000 },
      ).includes('boolean true');
    await until(served, 'gnome-keyring-daemon', keyring).catch((error: unknown) =>
      abandon(error, dir, keyring, bus),
    );
    return new TestKeyring(dir, address, bus, keyring);
  }

  /** The environment a process needs to reach this keyring. */
  get env(): Record<string, string> {
    return { DBUS_SESSION_BUS_ADDRESS: this.address, XDG_RUNTIME_DIR: this.dir };
  }

  /** SIGSTOP: the bus accepts connections and never answers (SIGCONT resumes it). */
  pauseBus(signal: 'SIGSTOP' | 'SIGCONT'): void {
    process.kill(this.bus.pid as number, signal);
  }

  async stop(): Promise<void> {
    for (const child of [this.keyring, this.bus]) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
