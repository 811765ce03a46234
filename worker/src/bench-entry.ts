/**
 * Benchmark-only entry, never deployed (wrangler.toml's `main` is index.ts): the same app with its four rate
 * limiters in isolate memory instead of the local emulation (a Durable Object that writes SQLite per `limit()`
 * call), for bench/ingest.ts's second figure. Same routes, same limits per key; KV is the real local binding, and
 * so is the queue unless the bench's config sets BENCH_MEMORY_QUEUE (then messages are serialised and dropped, as
 * a measure of what the local queue and its consumer cost).
 */
import { memoryLimiters, MemoryQueue } from "../../bench/memory-bindings.ts";
import { app } from "./app.ts";

const limiters = memoryLimiters() as unknown as Pick<Env, "CLIENT_RATE_LIMITER" | "IP_RATE_LIMITER" | "SITE_RATE_LIMITER" | "LEAD_RATE_LIMITER">;
const queue = new MemoryQueue() as unknown as Queue;

export default {
  fetch: (request, env, ctx) =>
    app.fetch(request, { ...env, ...limiters, ...((env as { BENCH_MEMORY_QUEUE?: string }).BENCH_MEMORY_QUEUE ? { EVENTS: queue } : {}) }, ctx),
} satisfies ExportedHandler<Env>;
