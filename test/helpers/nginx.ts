// Debian's nginx in front of sekuire-server instances: TLS ends at nginx, on 127.0.0.1, in a temp directory.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;

export interface Nginx {
  /** `https://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** `host:port` of each instance; requests go round-robin among them. */
  readonly upstreams: readonly string[];
  /** The port nginx listens on (instances started before it name it in --public-url); a free one by default. */
  readonly port?: number;
  /** PEM files of the certificate nginx serves. */
  readonly cert: string;
  readonly key: string;
}

/** nginx from PATH, else where Debian puts it (/usr/sbin is not in every user's PATH). */
export function findNginx(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin']) {
    if (dir !== '' && existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The proxy a self-hoster would run (docs/SERVER.md, "Behind a proxy"): X-Forwarded-For appended
 * to, X-Forwarded-Proto and -Host set (never passed on as the client wrote them), and Host as the
 * client sent it, port included ($host would drop the port). One worker: round-robin is then one
 * sequence, so requests alternate between the instances whoever sends them.
 */
function config(dir: string, port: number, options: NginxOptions): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream sekuire {
${options.upstreams.map((upstream) => `    server ${upstream};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${options.cert};
    ssl_certificate_key ${options.key};
    location / {
      proxy_pass http://sekuire;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // SIGQUIT: finish the requests in flight, then exit (nginx's graceful shutdown).
    child.kill('SIGQUIT');
  });
}

/** Starts nginx in the foreground on a free port of 127.0.0.1; stop() ends it (by its PID) and removes its directory. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const nginx = findNginx();
  if (nginx === undefined) throw new Error('nginx is not installed: run bash scripts/test-deps.sh');
  const dir = mkdtempSync(join(tmpdir(), 'sekuire-nginx-'));
  // As root, nginx's workers run as an unprivileged user: they must reach the temp paths in here.
  chmodSync(dir, 0o711);
  const port = options.port ?? (await freePort());
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config(dir, port, options));
  // -e: the log for start-up errors, before the configuration names its own (else /var/log/nginx).
  const args = ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')];
  try {
    await run(nginx, [...args, '-t', '-q']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx refused its configuration: ${(error as { stderr?: string }).stderr ?? error}`);
  }
  const child = spawn(nginx, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  // A guard against a hang while nginx binds its port, not a measure of anything.
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start listening on 127.0.0.1:${port}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `https://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop,
  };
}
