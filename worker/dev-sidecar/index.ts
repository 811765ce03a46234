/**
 * Dev-only sidecar Worker, never deployed. It runs first in the local `wrangler dev` session, so it owns the port:
 * - `/client/v4/...`: the local KV REST API the backend's config sync writes through (kv-rest.ts);
 * - every other request is forwarded unchanged to the edge Worker through a service binding;
 * - it consumes the local queue and its dead-letter queue for the backend (queue.ts).
 */
import { kvRest } from "./kv-rest.ts";
import type { DevSidecarEnv } from "./env.ts";
import { handBatch } from "./queue.ts";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    if (new URL(request.url).pathname.startsWith("/client/v4/")) return kvRest.fetch(request, env, ctx);
    return env.EDGE.fetch(request);
  },
  queue: (batch, env) => handBatch(batch, env),
} satisfies ExportedHandler<DevSidecarEnv>;
