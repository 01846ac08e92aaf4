// A software TPM (swtpm) on a temporary socket: the tpm store's TPM in tests, reached as TPM2TOOLS_TCTI names it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abandon, until } from './daemon.js';

export class TestTpm {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly process: ChildProcess,
  ) {}

  static async start(): Promise<TestTpm> {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-swtpm-'));
    const state = join(dir, 'state');
    mkdirSync(state);
    const socket = join(dir, 'tpm.sock');
    const child = spawn(
      'swtpm',
      [
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${state}`,
        '--server',
        `type=unixio,path=${socket}`,
        '--ctrl',
        `type=unixio,path=${socket}.ctrl`,
        '--flags',
        'not-need-init,startup-clear',
      ],
      { stdio: 'ignore' },
    );
    await until(() => existsSync(socket), 'swtpm', child).catch((error: unknown) =>
      abandon(error, dir, child),
    );
    return new TestTpm(dir, socket, child);
  }

  /** The value of TPM2TOOLS_TCTI that names this TPM. */
  get tcti(): string {
    return `swtpm:path=${this.socket}`;
  }

  /** The transient objects the TPM holds (tpm2_getcap): a signer that leaks them fills the TPM. */
  transientHandles(): string[] {
    const out = execFileSync('tpm2_getcap', ['handles-transient'], {
      env: { PATH: process.env.PATH, TPM2TOOLS_TCTI: this.tcti },
      encoding: 'utf8',
      timeout: 10_000,
    });
    return out.split('\n').filter((line) => line.trim() !== '');
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
