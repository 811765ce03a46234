/** Test helpers around a running local stack. */
import type { Stack } from "../lib/stack.ts";

export interface QueueStats {
  batches: number;
  acked: number;
  retried: number;
  deadLettered: number;
}

/** The backend's queue counters (local push path) since the backend process started. */
export async function queueStats(stack: Stack): Promise<QueueStats> {
  const res = await fetch(`${stack.backend.url}/internal/queue/stats`, { headers: { authorization: `Bearer ${stack.internalToken}` } });
  if (!res.ok) throw new Error(`stats answered ${res.status}`);
  return (await res.json()) as QueueStats;
}

/** The sum of a Prometheus counter's series (every label set) on the backend's /metrics, as a scraper sees it. */
export async function metricTotal(stack: Stack, name: string): Promise<number> {
  const text = await (await fetch(`${stack.backend.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m?.[1] === name) total += Number(m[3]);
  }
  return total;
}
