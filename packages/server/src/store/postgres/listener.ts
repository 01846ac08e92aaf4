// One serving instance's ear on PostgreSQL: LISTEN for invalidations, acknowledge them, hold a lease.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';

export const CHANNEL = 'sekuire_cache';
/** application_name of the LISTEN connection, for pg_stat_activity. */
export const LISTENER_NAME = 'sekuire-server listener';
/** How long a renewed lease lasts; writers stop waiting for an instance whose lease ran out. */
export const LEASE_MS = 3_000;
const HEARTBEAT_MS = 1_000;
/** The instance stops trusting its cache this much before the database thinks its lease ends. */
const LEASE_MARGIN_MS = 500;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;

/**
 * The protocol, so that a revocation is refused by every instance on the very next request after
 * `revoke-key` returns:
 *
 * - A write that changes what a key may do ends its transaction with pg_notify(CHANNEL, epoch),
 *   epoch from a sequence, so PostgreSQL delivers it to every listener once it commits.
 * - On a notification, this instance empties its cache (synchronously), then inserts
 *   (instance, epoch) into sekuire_cache_acks. The writer waits until every instance holding a
 *   lease has acknowledged its epoch.
 * - The instance holds a lease (sekuire_instances.lease_until = now() + 3 s), renewed every
 *   second on the LISTEN connection itself: a renewal that succeeds proves that connection works,
 *   and PostgreSQL delivers notifications on it no later than the end of that renewal. The
 *   instance serves cached answers only while its own view of the lease (measured from before
 *   the renewal was sent, minus a margin) has not run out. So a writer that stops waiting for an
 *   instance whose lease expired never leaves it serving stale entries: that instance has
 *   already stopped trusting its cache.
 * - When the LISTEN connection drops, the cache is emptied and every request reads the database
 *   until LISTEN is back (and the cache is emptied again then): slower, never wrong.
 */
export class CacheListener {
  readonly id = `inst_${randomBytes(8).toString('hex')}`;
  private readonly connection: postgres.Sql;
  private listening = false;
  /** performance.now() until which cached answers may be served. */
  private leaseUntil = 0;
  /** Moves on every disconnect, so a renewal sent before it cannot extend the lease. */
  private epochOfConnection = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnecting = false;
  private closing = false;

  constructor(
    url: string,
    options: postgres.Options<Record<string, postgres.PostgresType>>,
    private readonly forget: () => void,
  ) {
    this.connection = postgres(url, {
      ...options,
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      // A dead peer shows within seconds rather than after the default minute.
      keep_alive: 5,
      connection: { application_name: LISTENER_NAME },
      onnotify: (channel: string, payload: string) => {
        if (channel === CHANNEL) this.invalidated(payload);
      },
      onclose: () => this.lost(),
    } as postgres.Options<Record<string, postgres.PostgresType>>);
  }

  /** True while cached answers may be served. */
  usable(): boolean {
    return this.listening && performance.now() < this.leaseUntil;
  }

  /** Never throws: until LISTEN succeeds, every request reads the database. */
  async start(): Promise<void> {
    this.heartbeat = setInterval(() => void this.renew(), HEARTBEAT_MS);
    this.heartbeat.unref();
    try {
      await this.listen();
    } catch {
      void this.reconnect();
    }
  }

  private async listen(): Promise<void> {
    await this.connection.unsafe(`LISTEN ${CHANNEL}`);
    // Whatever was cached before this connection listened may have missed a notification.
    this.forget();
    this.listening = true;
    await this.renew();
  }

  private invalidated(payload: string): void {
    this.forget();
    // 0: a change made outside sekuire (a trigger); nobody waits for it.
    if (!/^[1-9]\d*$/.test(payload)) return;
    this.connection
      .unsafe('INSERT INTO sekuire_cache_acks (epoch, instance_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        payload,
        this.id,
      ])
      .catch(() => {
        // The writer stops waiting when our lease runs out; we stop trusting the cache then too.
      });
  }

  private async renew(): Promise<void> {
    if (!this.listening || this.closing) return;
    const connection = this.epochOfConnection;
    const sent = performance.now();
    try {
      await this.connection.unsafe(
        `INSERT INTO sekuire_instances (id, pid, host, lease_until)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until`,
        [this.id, process.pid, hostname(), LEASE_MS / 1000],
      );
    } catch {
      return;
    }
    if (this.listening && connection === this.epochOfConnection) {
      this.leaseUntil = sent + LEASE_MS - LEASE_MARGIN_MS;
    }
  }

  private lost(): void {
    this.listening = false;
    this.leaseUntil = 0;
    this.epochOfConnection++;
    this.forget();
    if (!this.closing) void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let delay = RECONNECT_MIN_MS;
    while (!this.closing && !this.listening) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      if (this.closing) break;
      try {
        await this.listen();
      } catch {
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      }
    }
    this.reconnecting = false;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.listening = false;
    clearInterval(this.heartbeat);
    try {
      await this.connection.unsafe('DELETE FROM sekuire_instances WHERE id = $1', [this.id]);
    } catch {
      // The lease runs out by itself.
    }
    await this.connection.end({ timeout: 1 });
  }
}
