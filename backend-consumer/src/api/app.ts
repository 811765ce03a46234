/** The backend's HTTP surface: health, the admin API (config plane), and the local queue push path. */
import { Hono } from "hono";
import type { Db } from "mongodb";
import type { ConfigDb } from "../config/db.ts";
import { createAdminApi } from "./admin.ts";
import type { AuthOptions } from "./auth.ts";
import type { CrmAdminDeps } from "./admin/destinations.ts";
import type { ConnectionStore } from "../crm/connections.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { integrationRoutes } from "./integrations.ts";
import { ScopeResolver } from "./scope.ts";
import { ssoRoutes } from "./sso/route.ts";
import { internalQueueRoutes } from "./internal-queue.ts";
import { mountOpenApi } from "./openapi.ts";
import type { Metrics } from "../ops/metrics.ts";

export interface ApiDeps {
  db: Db;
  /** MariaDB; without it the admin API is not served. */
  configDb: ConfigDb | null;
  internalToken: string;
  auth: AuthOptions;
  /** Single sign-on from the CRM's Custom Page (needs `auth.session` to mint session tokens). */
  sso?: { sharedSecret?: string; autoCreateTenants: boolean };
  /** The edge's public URL (install snippets). */
  edgeUrl?: string;
  /** CRM delivery: destinations and sync status in the API, and the HighLevel install callback. */
  crm?: CrmAdminDeps & { connections: ConnectionStore };
  /** Origins allowed to frame the dashboard (the CRM's), besides its own. */
  frameAncestors?: string[];
  log: (msg: string, fields?: Record<string, unknown>) => void;
  metrics: Metrics;
}

/** The CRM's app origins that open Custom Pages (HighLevel's app and its white-label domain). */
export const DEFAULT_FRAME_ANCESTORS = ["https://app.gohighlevel.com", "https://*.gohighlevel.com", "https://*.leadconnectorhq.com"];

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
  app.route("/", dashboardRoutes({ frameAncestors: deps.frameAncestors ?? DEFAULT_FRAME_ANCESTORS }));
  // The admin API owns everything under /v1 (its auth and its JSON 404), so it is mounted last.
  if (deps.configDb) {
    const scopes = new ScopeResolver(deps.configDb);
    // before the admin API, whose auth guards everything else under /v1
    if (deps.auth.session) {
      app.route("/v1/auth", ssoRoutes({ db: deps.configDb, session: deps.auth.session, ...deps.sso, onSignIn: () => scopes.invalidate(), log: deps.log }));
    }
    if (deps.crm) {
      const { directory } = deps.crm;
      app.route("/v1/integrations", integrationRoutes({ connections: deps.crm.connections, log: deps.log, onConnected: () => directory.invalidate() }));
    }
    app.route("/v1", createAdminApi({ db: deps.configDb, mongo: deps.db, auth: deps.auth, scopes, edgeUrl: deps.edgeUrl ?? "", log: deps.log, ...(deps.crm ? { crm: deps.crm } : {}) }));
  }
  app.notFound((c) => c.json({ error: "not_found", message: "No such route." }, 404));
  app.onError((err, c) => {
    deps.log("unhandled error", { error: err.message });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
