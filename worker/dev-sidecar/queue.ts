/**
 * Local push path for the queue. Cloudflare's HTTP pull consumers are not emulated locally (workers-sdk #9665), so
 * in local runs this consumes "tracker-events" with the queue's real semantics (batching, retries, max_retries,
 * dead-letter queue), hands each batch to the backend's `processBatch` over HTTP, and acks or retries every
 * message by the backend's per-message answer.
 */
import type { DevSidecarEnv } from "./env.ts";

/**
 * A hand-off that has not answered by then is given up and retried. Without it, a request to a backend that died
 * mid-request can hang, and the local queue delivers nothing else meanwhile. A full batch takes a few seconds.
 */
export const HANDOFF_TIMEOUT_MS = 30_000;

type Outcome = { id: string; action: "ack" } | { id: string; action: "retry"; delaySeconds?: number };

/** Hands one batch to the backend and settles each message by its answer. `fetcher` is the runtime's fetch. */
export async function handBatch(batch: MessageBatch, env: DevSidecarEnv, fetcher: typeof fetch = fetch): Promise<void> {
  const path = batch.queue === env.DEAD_LETTER_QUEUE ? "dead-letter" : "batch";
  let outcomes: Outcome[];
  try {
    const res = await fetcher(`${env.BACKEND_URL}/internal/queue/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${env.INTERNAL_TOKEN}` },
      body: JSON.stringify({
        queue: batch.queue,
        messages: batch.messages.map((m) => ({ id: m.id, body: m.body, attempts: m.attempts })),
      }),
      signal: AbortSignal.timeout(HANDOFF_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`backend answered ${res.status}`);
    outcomes = ((await res.json()) as { outcomes: Outcome[] }).outcomes;
  } catch (err) {
    // Backend down or failing: nothing was confirmed, so everything comes back later.
    console.warn(`dev-sidecar: ${batch.queue} batch of ${batch.messages.length} retried: ${String(err)}`);
    batch.retryAll({ delaySeconds: 2 });
    return;
  }
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  for (const message of batch.messages) {
    const outcome = byId.get(message.id);
    if (outcome?.action === "ack") message.ack();
    else message.retry({ delaySeconds: outcome?.action === "retry" ? (outcome.delaySeconds ?? 0) : 2 });
  }
}
