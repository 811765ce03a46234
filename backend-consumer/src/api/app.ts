/** The backend's HTTP surface: health, the admin API (config plane), and the local queue push path. */
import { Hono } from "hono";
import type { Db } from "mongodb";
import type { ConfigDb } from "../config/db.ts";
import { createAdminApi } from "./admin.ts";
import type { AuthOptions } from "./auth.ts";
import { internalQueueRoutes } from "./internal-queue.ts";
import { mountOpenApi } from "./openapi.ts";
import type { Metrics } from "../ops/metrics.ts";

export interface ApiDeps {
  db: Db;
  /** MariaDB; without it the admin API is not served. */
  configDb: ConfigDb | null;
  internalToken: string;
  auth: AuthOptions;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  metrics: Metrics;
}

export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get("/healthz", async (c) => {
    await deps.db.command({ ping: 1 });
    return c.json({ ok: true });
  });
  app.get("/metrics", async (c) => {
    c.header("content-type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });
  app.route("/internal/queue", internalQueueRoutes({ db: deps.db, token: deps.internalToken, log: deps.log, metrics: deps.metrics }));
  mountOpenApi(app, { serverUrl: "/v1" });
  // The admin API owns everything under /v1 (its auth and its JSON 404), so it is mounted last.
  if (deps.configDb) app.route("/v1", createAdminApi({ db: deps.configDb, mongo: deps.db, auth: deps.auth, log: deps.log }));
  app.notFound((c) => c.json({ error: "not_found", message: "No such route." }, 404));
  app.onError((err, c) => {
    deps.log("unhandled error", { error: err.message });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
