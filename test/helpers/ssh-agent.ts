// OpenSSH's ssh-agent on a temporary socket, with throwaway keys made by ssh-keygen: the agent store's tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { abandon, until } from './daemon.js';

export interface AgentKey {
  readonly path: string;
  /** As `ssh-keygen -lf` prints it (the same as `ssh-add -l`): SHA256:… */
  readonly fingerprint: string;
  /** The private key file as ssh-keygen wrote it: what must never appear anywhere else. */
  readonly privateText: string;
}

export class TestAgent {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly process: ChildProcess,
  ) {}

  /** `ssh-agent -D -a socket`: in the foreground, so its PID is the child's. */
  static async start(): Promise<TestAgent> {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-agent-'));
    const socket = join(dir, 'agent.sock');
    const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    await until(() => existsSync(socket), 'ssh-agent', child).catch((error: unknown) =>
      abandon(error, dir, child),
    );
    return new TestAgent(dir, socket, child);
  }

  get pid(): number {
    return this.process.pid as number;
  }

  private run(command: string, args: readonly string[]): string {
    return execFileSync(command, args, {
      env: { PATH: process.env.PATH, SSH_AUTH_SOCK: this.socket },
      encoding: 'utf8',
    });
  }

  /** A new key (ecdsa P-256 unless told), added to the agent. */
  addKey(name: string, type: 'ecdsa' | 'ed25519' = 'ecdsa'): AgentKey {
    const path = join(this.dir, name);
    this.run('ssh-keygen', [
      '-q',
      '-t',
      type,
      ...(type === 'ecdsa' ? ['-b', '256'] : []),
      '-N',
      '',
      '-C',
      name,
      '-f',
      path,
    ]);
    this.run('ssh-add', ['-q', path]);
    const fingerprint = this.run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`]).split(
      ' ',
    )[1] as string;
    return { path, fingerprint, privateText: readFileSync(path, 'utf8') };
  }

  removeKey(key: AgentKey): void {
    this.run('ssh-add', ['-q', '-d', `${key.path}.pub`]);
  }

  /** What `ssh-add -l` lists. */
  list(): string {
    return this.run('ssh-add', ['-l']);
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.pid, signal);
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

/** Agents for one test file: each started through the function returned, all stopped after the file. */
export function useAgents(): () => Promise<TestAgent> {
  const agents: TestAgent[] = [];
  afterAll(async () => {
    for (const agent of agents.splice(0)) await agent.stop();
  });
  return async () => {
    const agent = await TestAgent.start();
    agents.push(agent);
    return agent;
  };
}
