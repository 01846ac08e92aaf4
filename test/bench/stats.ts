// Summary statistics of a sample, computed the way hyperfine does (sample standard deviation).

export interface Summary {
  readonly mean: number;
  readonly median: number;
  readonly stddev: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const count = values.length;
  if (count === 0) {
    return {
      mean: Number.NaN,
      median: Number.NaN,
      stddev: Number.NaN,
      min: Number.NaN,
      max: Number.NaN,
      count,
    };
  }
  const mean = values.reduce((sum, value) => sum + value, 0) / count;
  const variance = count > 1 ? values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (count - 1) : 0;
  return {
    mean,
    median: median(values),
    stddev: Math.sqrt(variance),
    min: Math.min(...values),
    max: Math.max(...values),
    count,
  };
}

/** Nearest-rank percentile of an ascending sample (q from 0 to 1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}
