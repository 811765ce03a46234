/** The backend's HTTP surface: health, and the local queue push path (admin API arrives with issue B). */
import { Hono } from "hono";
import type { Db } from "mongodb";
import { internalQueueRoutes } from "./internal-queue.ts";

export interface ApiDeps {
  db: Db;
  internalToken: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get("/healthz", async (c) => {
    await deps.db.command({ ping: 1 });
    return c.json({ ok: true });
  });
  app.route("/internal/queue", internalQueueRoutes({ db: deps.db, token: deps.internalToken, log: deps.log }));
  app.notFound((c) => c.json({ error: "not_found", message: "No such route." }, 404));
  app.onError((err, c) => {
    deps.log("unhandled error", { error: err.message });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
