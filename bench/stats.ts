/** Shared helpers for benchmarks: percentiles and the result shape each benchmark returns. */

export interface BenchResult {
  name: string;
  lines: string[];
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}
