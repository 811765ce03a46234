/**
 * The local push path: the dev-only consumer Worker (worker/dev-sidecar) hands each queue batch to these routes
 * and acks or retries each message by the answer. Production uses the HTTP pull client instead; both call
 * `processBatch`. Guarded by a shared token because it writes to the database.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Db } from "mongodb";
import { storeQueueDeadLetters } from "../drain/dead-letter-queue.ts";
import { processBatch } from "../drain/process-batch.ts";
import type { Metrics } from "../ops/metrics.ts";

const batchSchema = z.object({
  queue: z.string(),
  messages: z.array(z.object({ id: z.string().min(1), body: z.unknown(), attempts: z.number().int().positive() })),
});

export function internalQueueRoutes(deps: { db: Db; token: string; log: (msg: string, f?: Record<string, unknown>) => void; metrics?: Metrics }) {
  const app = new Hono();
  // Counters since start: what an operator (or a test) reads to know the queue has been drained.
  const stats = { batches: 0, acked: 0, retried: 0, deadLettered: 0 };
  app.use("*", async function requireToken(c, next) {
    if (c.req.header("authorization") !== `Bearer ${deps.token}`) return c.json({ error: "unauthorized" }, 401);
    await next();
  });

  app.post("/batch", async (c) => {
    const parsed = batchSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: "invalid_batch", message: parsed.error.message }, 400);
    const started = performance.now();
    const outcomes = await processBatch(parsed.data.messages, { db: deps.db, queue: parsed.data.queue, log: deps.log });
    const ms = Math.round(performance.now() - started);
    if (ms > 1000) deps.log("slow batch", { messages: parsed.data.messages.length, ms });
    stats.batches++;
    deps.metrics?.recordOutcomes(parsed.data.queue, outcomes);
    for (const o of outcomes) {
      stats[o.action === "ack" ? "acked" : "retried"]++;
      if (o.action === "ack" && o.deadLettered) stats.deadLettered++;
    }
    return c.json({ outcomes });
  });

  app.post("/dead-letter", async (c) => {
    const parsed = batchSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: "invalid_batch", message: parsed.error.message }, 400);
    const outcomes = await storeQueueDeadLetters(parsed.data.messages, { db: deps.db, queue: parsed.data.queue });
    deps.metrics?.recordOutcomes(parsed.data.queue, outcomes.map((o) => ({ ...o, deadLettered: "queue" })));
    stats.deadLettered += parsed.data.messages.length;
    deps.log("dead-lettered", { count: parsed.data.messages.length, queue: parsed.data.queue });
    return c.json({ outcomes });
  });
  app.get("/stats", (c) => c.json(stats));
  return app;
}
