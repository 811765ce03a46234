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
