/**
 * The local push path: the dev-only consumer Worker (worker/dev-sidecar) hands each queue batch to these routes
 * and acks or retries each message by the answer. Production uses the HTTP pull client instead; both call
 * `processBatch`. Guarded by a shared token because it writes to the database.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Db } from "mongodb";
import { storeQueueDeadLetters } from "../drain/dead-letter-queue.ts";
import { createHash, timingSafeEqual } from "node:crypto";
import { processBatch } from "../drain/process-batch.ts";
import type { Log } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { SuppressionFilter } from "../privacy/suppression.ts";

const batchSchema = z.object({
  queue: z.string(),
  messages: z.array(z.object({ id: z.string().min(1), body: z.unknown(), attempts: z.number().int().positive() })),
});

/** Events in a batch, as far as its bodies are readable (malformed ones count none). */
export function countEvents(messages: { body: unknown }[]): number {
  let n = 0;
  for (const m of messages) {
    const body = typeof m.body === "string" ? (() => { try { return JSON.parse(m.body as string) as unknown; } catch { return null; } })() : m.body;
    const events = (body as { events?: unknown } | null)?.events;
    if (Array.isArray(events)) n += events.length;
  }
  return n;
}

export function internalQueueRoutes(deps: { db: Db; token: string; log: Log; metrics?: Metrics; suppression?: SuppressionFilter }) {
  const app = new Hono();
  // Counters since start: what an operator (or a test) reads to know the queue has been drained.
  const stats = { batches: 0, acked: 0, retried: 0, deadLettered: 0 };
  // compared in constant time (as digests, so lengths do not leak either)
  const expected = createHash("sha256").update(`Bearer ${deps.token}`).digest();
  app.use("*", async function requireToken(c, next) {
    const given = createHash("sha256").update(c.req.header("authorization") ?? "").digest();
    if (!timingSafeEqual(given, expected)) return c.json({ error: "unauthorized" }, 401);
    await next();
  });

  app.post("/batch", async (c) => {
    const parsed = batchSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: "invalid_batch", message: parsed.error.message }, 400);
    const started = performance.now();
    const outcomes = await processBatch(parsed.data.messages, { db: deps.db, queue: parsed.data.queue, log: deps.log, ...(deps.suppression ? { suppression: deps.suppression } : {}) });
    const ms = Math.round(performance.now() - started);
    if (ms > 1000) deps.log("slow batch", { messages: parsed.data.messages.length, ms, level: "warn" });
    deps.metrics?.recordBatch(parsed.data.queue, ms / 1000, countEvents(parsed.data.messages));
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
