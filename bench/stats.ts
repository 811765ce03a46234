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

/** The median of `xs` (upper median for an even count; not necessarily sorted). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** "median (min–max)" of repeated measurements, each formatted by `fmt`. */
export function spread(xs: number[], fmt: (x: number) => string = (x) => String(Math.round(x))): string {
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}
