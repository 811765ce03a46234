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

/**
 * Each body travels as the JSON text it was sent as, as the pull API gives it in production: one message the
 * runtime cannot serialise again (too deep, say) then costs only itself, and the backend stores its dead letters
 * as they came. Such a message is sent as a note the backend cannot parse, so it is dead-lettered at once.
 */
export function bodyText(body: unknown): string {
  try {
    return typeof body === "string" ? body : (JSON.stringify(body) ?? "null");
  } catch (err) {
    return `[unserialisable body: ${String(err)}]`;
  }
}

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
        messages: batch.messages.map((m) => ({ id: m.id, body: bodyText(m.body), attempts: m.attempts })),
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

/**
 * `POST /__dev/enqueue { messages: [...] }`: each message goes on the events queue as it is (JSON content type),
 * skipping every check the edge makes. Only with the run's internal token.
 */
export async function enqueue(request: Request, env: DevSidecarEnv): Promise<Response> {
  if (request.method !== "POST" || request.headers.get("authorization") !== `Bearer ${env.INTERNAL_TOKEN}`) {
    return Response.json({ error: "unauthorized" }, { status: 401 });
  }
  const { messages } = (await request.json()) as { messages: unknown[] };
  // sendBatch takes at most 100 messages and 256 KB at once
  let batch: { body: unknown; contentType: "json" }[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = JSON.stringify(body).length;
    if (batch.length === 100 || (batch.length > 0 && bytes + size > 200 * 1024)) {
      await env.EVENTS.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ body, contentType: "json" });
    bytes += size;
  }
  if (batch.length > 0) await env.EVENTS.sendBatch(batch);
  return Response.json({ enqueued: messages.length });
}
