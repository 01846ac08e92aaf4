// The Prometheus metrics of one app (a registry of its own, never prom-client's global one).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ProofRefusal } from '../domain/proofs.js';
import type { Store } from '../store/store.js';
import {
  KEY_CHECK_OUTCOMES,
  type KeyCheckOutcome,
  type Observer,
  PROOF_REFUSALS,
  SIGN_IN_OUTCOMES,
  type SignInOutcome,
} from './observer.js';
import { RequestMetrics } from './request-metrics.js';

/** Seconds: 2–7 ms with every instance alive; up to the 3 s lease when one died without a word. */
const CONFIRM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5];

/**
 * A counter with one label whose values are known: counted in a plain Map (a key check happens
 * on every API request, and prom-client's inc() hashes its labels each time), copied into the
 * prom-client counter when scraped. Every value shows from the first scrape, at 0: a rate()
 * needs the series to exist.
 */
function outcomeCounter<T extends string>(
  registers: Registry[],
  name: string,
  help: string,
  label: string,
  values: readonly T[],
): { add(value: T): void } {
  const counts = new Map<T, number>(values.map((value) => [value, 0]));
  new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      this.reset();
      for (const [value, count] of counts) this.inc({ [label]: value }, count);
    },
  });
  return { add: (value) => counts.set(value, (counts.get(value) ?? 0) + 1) };
}

export class Metrics {
  readonly registry = new Registry();
  readonly observer: Observer;
  private readonly requests: RequestMetrics;

  constructor(store: Store) {
    const registers = [this.registry];
    this.requests = new RequestMetrics(this.registry);
    const keyChecks = outcomeCounter(
      registers,
      'sekuire_key_checks_total',
      'API keys checked, by outcome (valid, unknown, revoked, expired)',
      'outcome',
      KEY_CHECK_OUTCOMES,
    );
    const proofsRefused = outcomeCounter(
      registers,
      'sekuire_proofs_refused_total',
      'Device proofs refused, by reason (the error code answered)',
      'reason',
      PROOF_REFUSALS,
    );
    const signIns = outcomeCounter(
      registers,
      'sekuire_sign_ins_total',
      'Sign-ins through the API or the /login page, by outcome',
      'outcome',
      SIGN_IN_OUTCOMES,
    );
    const revocations = new Histogram({
      name: 'sekuire_revocation_confirm_seconds',
      help: 'Revocations made here (API or dashboard): from the commit until every instance confirmed',
      buckets: CONFIRM_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'sekuire_db_pool_connections',
      help: 'Database connections of this process: max (the pool size) and in_use (work under way)',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = store.connections();
        this.set({ state: 'max' }, counts.max);
        this.set({ state: 'in_use' }, counts.inUse);
      },
    });
    new Gauge({
      name: 'sekuire_listen_up',
      help: 'Whether changes made elsewhere reach this instance at once (PostgreSQL LISTEN; SQLite socket)',
      registers,
      collect() {
        this.set(store.listening() ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
    this.observer = {
      keyChecked: (outcome: KeyCheckOutcome) => keyChecks.add(outcome),
      proofRefused: (reason: ProofRefusal) => proofsRefused.add(reason),
      signedIn: (outcome: SignInOutcome) => signIns.add(outcome),
      revocationConfirmed: (seconds: number) => revocations.observe(seconds),
    };
  }

  /** `route`: from routeLabel. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.record(method, route, status, seconds);
  }

  /** The text a Prometheus scrape reads. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
