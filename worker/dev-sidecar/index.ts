/**
 * Dev-only sidecar Worker, never deployed. It runs first in the local `wrangler dev` session, so it owns the port:
 * - `/client/v4/...`: the local KV REST API the backend's config sync writes through (kv-rest.ts);
 * - `POST /__dev/enqueue`: puts raw messages on the local events queue, past the edge's checks (for tests of what
 *   the drain does with input the edge would refuse; guarded by the run's internal token);
 * - every other request is forwarded unchanged to the edge Worker through a service binding;
 * - it consumes the local queue and its dead-letter queue for the backend (queue.ts).
 */
import { kvRest } from "./kv-rest.ts";
import type { DevSidecarEnv } from "./env.ts";
import { enqueue, handBatch } from "./queue.ts";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/client/v4/")) return kvRest.fetch(request, env, ctx);
    if (path === "/__dev/enqueue") return enqueue(request, env);
    return env.EDGE.fetch(request);
  },
  queue: (batch, env) => handBatch(batch, env),
} satisfies ExportedHandler<DevSidecarEnv>;
