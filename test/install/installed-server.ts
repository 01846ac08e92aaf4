// Runs the installed `sekuire-server start` and waits for its first line, "Listening on URL".
import { type ChildProcess, spawn } from 'node:child_process';
import type { Prefix } from './prefix.js';

const START_TIMEOUT_MS = 15_000;

export interface InstalledServer {
  readonly url: string;
  /** SIGTERM, then the exit code once it has exited. */
  stop(): Promise<number | null>;
}

export function startInstalledServer(prefix: Prefix, db: string): Promise<InstalledServer> {
  const child = spawn(
    `${prefix.prefix}/bin/sekuire-server`,
    ['start', '--port', '0', '--host', '127.0.0.1', '--db', db],
    {
      cwd: prefix.cwd,
      env: prefix.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new Error(`the installed sekuire-server did not start: ${why}\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    };
    const timer = setTimeout(
      () => fail(`no "Listening on" line within ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`it exited (code ${code}, signal ${signal})`));
    // Reading on after the first line keeps the server from blocking on a full pipe.
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^Listening on (\S+)\r?\n/m.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ url: match[1], stop: () => stop(child) });
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}
