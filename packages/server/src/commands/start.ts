// `start`: serve the API until SIGTERM or SIGINT, then close the server and the database.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { GitHubKeyList, keyListSource } from '../domain/github-keys.js';
import { DEFAULT_AUDIT_RETENTION_DAYS } from '../domain/retention.js';
import type { InFlight } from '../http/in-flight.js';
import { parseTrustProxy } from '../http/trust-proxy.js';
import type { CommandContext } from './context.js';
import { databaseTarget, withStore } from './database.js';
import { CommandError, UsageError } from './errors.js';
import { collect, parsePort, parsePublicUrl, parseRetentionDays } from './flags.js';
import { type OpsOptions, opsSettings } from './ops-flags.js';
import { startPurgeTimer } from './purge-timer.js';
import { loadSecret } from './secret.js';
import { reportSecret, reportSecretIds } from './secret-notes.js';
import { loadTlsMaterial } from './tls-files.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 5556;
/**
 * In-flight requests get this long after a stop signal before their connections are cut (the
 * port stays open for at most half of it while any is in flight). Kubernetes waits 30 s.
 */
const SHUTDOWN_GRACE_MS = 10_000;

export interface StartOptions extends OpsOptions {
  readonly host?: string;
  readonly port?: string;
  readonly db?: string;
  readonly secretFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly allowSelfRebind?: boolean;
  readonly trustProxy?: string;
  readonly auditRetentionDays?: string;
  readonly publicUrl?: string[];
  readonly secretScanningKeys?: string;
}

export function defineStart(program: Command, ctx: CommandContext): void {
  program
    .command('start')
    .description('Serve the Sekuire API until SIGTERM or SIGINT')
    .option('--host <host>', `address to listen on (env SEKUIRE_SERVER_HOST; default ${DEFAULT_HOST})`)
    .option('--port <port>', `port, 0 for any free one (env SEKUIRE_SERVER_PORT; default ${DEFAULT_PORT})`)
    .option(
      '--db <db>',
      'SQLite file (created if missing) or postgres:// URL shared by several instances (env SEKUIRE_SERVER_DB; default ./sekuire.db)',
    )
    .option('--secret-file <file>', 'server secret, created 0600 if missing (default <db>.secret)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--log-level <level>',
      'JSON request log on stderr: trace, debug, info, warn, error or silent (env SEKUIRE_SERVER_LOG_LEVEL; default info)',
    )
    .option('--metrics', 'serve Prometheus metrics at /metrics on the API port (off by default)')
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics at /metrics on this port instead (same --host)',
    )
    .option(
      '--allow-self-rebind',
      'let `sekuire login --rebind` move a binding at once, by the key alone (test setups only: a stolen key could then move itself)',
    )
    .option(
      '--trust-proxy <spec>',
      'behind a proxy: believe X-Forwarded-For/-Proto/-Host from a hop count (1) or these addresses/CIDRs (127.0.0.1,10.0.0.0/8) (env SEKUIRE_SERVER_TRUST_PROXY; default: ignore them)',
    )
    .option(
      '--public-url <url>',
      'an origin clients reach this server by, e.g. https://sekuire.example.com behind a proxy: device proofs may be addressed to it besides where it listens (repeatable)',
      collect,
    )
    .option(
      '--audit-retention-days <days>',
      'delete audit events older than this; 0 keeps everything (default 365)',
    )
    .option(
      '--secret-scanning-keys <url|file>',
      "GitHub's secret-scanning signing keys (https://api.github.com/meta/public_keys/secret_scanning, or a file of that JSON): leaked keys GitHub reports are revoked (env SEKUIRE_SECRET_SCANNING_KEYS; default: off)",
    )
    .addHelpText(
      'after',
      '\nThe first line on stdout is "Listening on http://HOST:PORT" (https:// with TLS).\n' +
        'SEKUIRE_SERVER_SECRET (at least 32 hex characters; openssl rand -hex 32 makes one) replaces the secret file;\n' +
        'with a postgres:// database give every instance the same one (or the same --secret-file).\n' +
        'Several secrets, newest first and comma-separated, rotate it: sekuire-server rotate-secret --help.\n' +
        'A postgres:// URL may carry pool_max, statement_timeout, sslmode and sslrootcert (docs/SERVER.md).\n' +
        'Remote CLIs send keys only over https: serve on a non-loopback address with --tls-cert and --tls-key\n' +
        '(or behind a TLS proxy).',
    )
    .action((options: StartOptions) => runStart(ctx, options));
}

/** Where a CLI on another machine could reach us (and would refuse plain http). */
function reachableFromOtherMachines(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return !(bare === 'localhost' || bare === '::1' || /^127\./.test(bare));
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeListenFailure(
  error: NodeJS.ErrnoException,
  host: string,
  port: number,
  flag = '--port',
): CommandError {
  switch (error.code) {
    case 'EADDRINUSE':
      // One fix that works wherever the port came from: the flag, or the variable, set to 0.
      return new CommandError(
        `Port ${port} on ${host} is already in use by another program (another sekuire-server, perhaps). To take any free port instead: ${flag === 'SEKUIRE_SERVER_PORT' ? 'SEKUIRE_SERVER_PORT=0' : `${flag} 0`}.`,
      );
    case 'EACCES':
      return new CommandError(`Not allowed to listen on port ${port}. Use a port above 1023 or --port 0.`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CommandError(`Cannot listen on ${host}: no such local address. Check --host.`);
    default:
      return new CommandError(`Cannot listen on ${host}:${port}: ${error.message}`);
  }
}

/** --trust-proxy, else its variable, else nothing trusted; a bad SPEC is a usage error (exit 2). */
function trustedProxies(flag: string | undefined, env: string | undefined) {
  const [text, source] = flag !== undefined ? [flag, '--trust-proxy'] : [env, 'SEKUIRE_SERVER_TRUST_PROXY'];
  if (text === undefined) return undefined;
  const parsed = parseTrustProxy(text, source);
  if ('problem' in parsed) throw new UsageError(parsed.problem);
  return parsed.trust;
}

/**
 * --secret-scanning-keys, else its variable: a URL is fetched when the first report comes (GitHub
 * may be unreachable at start); a file is read now, and one that cannot be used stops the start.
 */
async function secretScanningKeys(
  ctx: CommandContext,
  flag: string | undefined,
): Promise<GitHubKeyList | undefined> {
  const text = flag ?? ctx.env.SEKUIRE_SECRET_SCANNING_KEYS;
  if (text === undefined) return undefined;
  const source = keyListSource(text);
  if ('problem' in source) throw new UsageError(source.problem);
  const keys = new GitHubKeyList(source, ctx.now);
  if ('file' in source) {
    const problem = await keys.load();
    if (problem !== undefined)
      throw new CommandError(`Cannot use the secret-scanning keys in ${source.file}: ${problem}`);
  }
  return keys;
}

async function closeGracefully(app: FastifyInstance, inFlight: InFlight): Promise<void> {
  const force = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  try {
    // Still listening (and /ready answering 503) while requests are in flight: a load balancer
    // that has not seen the 503 yet still gets answers. Then the port closes and the rest finish.
    await inFlight.settled(SHUTDOWN_GRACE_MS / 2);
    await app.close();
  } finally {
    clearTimeout(force);
  }
}

export async function runStart(ctx: CommandContext, options: StartOptions): Promise<void> {
  const host = options.host ?? ctx.env.SEKUIRE_SERVER_HOST ?? DEFAULT_HOST;
  const port =
    options.port !== undefined
      ? parsePort(options.port, '--port')
      : ctx.env.SEKUIRE_SERVER_PORT !== undefined
        ? parsePort(ctx.env.SEKUIRE_SERVER_PORT, 'SEKUIRE_SERVER_PORT')
        : DEFAULT_PORT;
  const target = databaseTarget(options.db, ctx.env);
  const tls = loadTlsMaterial(options.tlsCert, options.tlsKey);
  const trustProxy = trustedProxies(options.trustProxy, ctx.env.SEKUIRE_SERVER_TRUST_PROXY);
  const publicUrls = (options.publicUrl ?? []).map(parsePublicUrl);
  const ops = opsSettings(options, ctx.env);
  const auditRetentionDays =
    options.auditRetentionDays === undefined
      ? DEFAULT_AUDIT_RETENTION_DAYS
      : parseRetentionDays(options.auditRetentionDays);
  const githubKeys = await secretScanningKeys(ctx, options.secretScanningKeys);
  const secret = loadSecret(ctx.env.SEKUIRE_SERVER_SECRET, options.secretFile, target);
  await reportSecret(ctx, secret);
  await reportSecretIds(ctx, secret);

  // Listen for the signal before listening on the port: a stop right after the first line
  // must still close cleanly.
  const stopped = ctx.stopRequested();
  // Fastify and the dashboard load here, for `start` alone: the other commands never serve.
  // Loaded when the server starts, not when the program is built: every other command (and a
  // test that runs one in process) would otherwise pay for Fastify, the dashboard and prom-client.
  const [{ buildApp }, { trackInFlight }, { Metrics }, { serveMetrics }] = await Promise.all([
    import('../http/app.js'),
    import('../http/in-flight.js'),
    import('../http/metrics.js'),
    import('../http/metrics-server.js'),
  ]);
  await withStore(target, {}, async (store) => {
    const watching = await store.watch();
    let stopping = false;
    const metrics = ops.metrics.on === 'off' ? undefined : new Metrics(store);
    const app = await buildApp({
      store,
      secret: secret.secret,
      olderSecrets: secret.older,
      https: tls,
      allowSelfRebind: options.allowSelfRebind === true,
      ...(githubKeys !== undefined && { githubKeys }),
      ...(trustProxy !== undefined && { trustProxy }),
      publicUrls,
      log: { level: ops.logLevel },
      ...(metrics !== undefined && { metrics, serveMetrics: ops.metrics.on === 'main-port' }),
      stopping: () => stopping,
    });
    const inFlight = trackInFlight(app.server);
    try {
      await app.listen({ host, port });
    } catch (error) {
      await app.close().catch(() => undefined);
      const portFrom =
        options.port === undefined && ctx.env.SEKUIRE_SERVER_PORT !== undefined
          ? 'SEKUIRE_SERVER_PORT'
          : '--port';
      throw describeListenFailure(error as NodeJS.ErrnoException, host, port, portFrom);
    }
    let metricsServer: Server | undefined;
    if (metrics !== undefined && ops.metrics.on === 'port') {
      try {
        metricsServer = await serveMetrics(metrics, host, ops.metrics.port);
      } catch (error) {
        await app.close().catch(() => undefined);
        throw describeListenFailure(error as NodeJS.ErrnoException, host, ops.metrics.port, '--metrics-port');
      }
    }
    const address = app.server.address() as AddressInfo;
    const origin = `${tls ? 'https' : 'http'}://${urlHost(host)}:${address.port}`;
    await ctx.stdout.write(`Listening on ${origin}\n`);
    await ctx.stdout.write(`Dashboard: ${origin}/dashboard\n`);
    if (metricsServer !== undefined) {
      const { port } = metricsServer.address() as AddressInfo;
      await ctx.stdout.write(`Metrics: http://${urlHost(host)}:${port}/metrics\n`);
    }
    if (!(await store.read.accounts.anyoneCanSignIn())) {
      await ctx.stdout.write(
        `Nobody can sign in yet. Create a user: sekuire-server create-user --db ${target.includes('://') ? '<db>' : target} --email you@example.com\n`,
      );
    }
    if (watching.note !== undefined) await ctx.stderr.write(`${watching.note}\n`);
    if (options.allowSelfRebind === true) {
      await ctx.stderr.write(
        "Warning: --allow-self-rebind: 'sekuire login --rebind' moves a binding without anyone's approval, so whoever holds a key can move it to their own device. Use it for test setups only.\n",
      );
    }
    if (!tls && reachableFromOtherMachines(host)) {
      await ctx.stderr.write(
        `Note: plain http on ${host} reaches other machines, but their sekuire CLIs refuse to send a key over plain http to a non-loopback host. Serve https with --tls-cert and --tls-key, or put a TLS proxy in front.\n`,
      );
    }
    // Expired rows go in small batches between requests; on PostgreSQL one instance at a time.
    const purges = startPurgeTimer({
      store,
      now: ctx.now,
      auditRetentionDays,
      report: (outcome, durationMs) =>
        app.log.info(
          {
            deleted: outcome.deleted,
            batches: outcome.batches,
            ended: outcome.ended,
            duration_ms: Math.round(durationMs),
          },
          'purge',
        ),
      reportError: (error) => app.log.warn({ err: error }, 'purge failed; the next one tries again'),
    });
    const signal = await stopped;
    stopping = true;
    await ctx.stderr.write(`Received ${signal}, shutting down\n`);
    await purges.stop();
    await closeGracefully(app, inFlight);
    metricsServer?.closeAllConnections();
    await new Promise((resolve) => metricsServer?.close(resolve) ?? resolve(undefined));
  });
}
