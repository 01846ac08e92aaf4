// sekuire_http_requests_total and sekuire_http_request_duration_seconds, counted in plain numbers on the hot path.
import type { Metric, MetricValue, Registry } from 'prom-client';

/** Seconds: a cached status answers in well under a millisecond, a scrypt sign-in takes ~100 ms. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  readonly method: string;
  readonly route: string;
  readonly statuses: Map<number, number>;
  /** Requests per bucket (not cumulative; the last one is +Inf). */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

type Value = MetricValue<string> & { metricName?: string };

/**
 * prom-client's labelled counter and histogram hash their labels on every call; at tens of
 * thousands of requests a second that is measurable. Here a request costs a Map lookup and a few
 * additions, and the series become prom-client metric objects only when scraped.
 */
export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry) {
    const metric = (name: string, help: string, type: 'counter' | 'histogram', values: () => Value[]) => ({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    });
    // The registry reads name, help, type and get(): the shape of prom-client's own metrics.
    const counts = metric(
      'sekuire_http_requests_total',
      'HTTP requests answered, by method, route template and status',
      'counter',
      () => this.counts(),
    );
    const durations = metric(
      'sekuire_http_request_duration_seconds',
      'Time from a request arriving to its answer, by method and route template',
      'histogram',
      () => this.durations(),
    );
    registry.registerMetric(counts as unknown as Metric);
    registry.registerMetric(durations as unknown as Metric);
  }

  /** `route`: from routeLabel, so the label values are the app's route templates only. */
  record(method: string, route: string, status: number, seconds: number): void {
    const id = `${method} ${route}`;
    let found = this.series.get(id);
    if (found === undefined) {
      found = {
        method,
        route,
        statuses: new Map(),
        buckets: new Float64Array(BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      this.series.set(id, found);
    }
    found.statuses.set(status, (found.statuses.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > (BUCKETS[bucket] as number)) bucket++;
    found.buckets[bucket] = (found.buckets[bucket] ?? 0) + 1;
    found.sum += seconds;
    found.count += 1;
  }

  private counts(): Value[] {
    const values: Value[] = [];
    for (const { method, route, statuses } of this.series.values()) {
      for (const [status, count] of statuses)
        values.push({ labels: { method, route, status }, value: count });
    }
    return values;
  }

  private durations(): Value[] {
    const name = 'sekuire_http_request_duration_seconds';
    const values: Value[] = [];
    for (const { method, route, buckets, sum, count } of this.series.values()) {
      let cumulative = 0;
      BUCKETS.forEach((bound, index) => {
        cumulative += buckets[index] ?? 0;
        values.push({
          metricName: `${name}_bucket`,
          labels: { le: bound, method, route },
          value: cumulative,
        });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', method, route }, value: count });
      values.push({ metricName: `${name}_sum`, labels: { method, route }, value: sum });
      values.push({ metricName: `${name}_count`, labels: { method, route }, value: count });
    }
    return values;
  }
}
