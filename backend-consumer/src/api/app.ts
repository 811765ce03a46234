/**
 * The backend's HTTP surface: liveness (/healthz), readiness (/readyz), metrics, the dashboard, the admin and read
 * APIs (config plane), and, for the local dev queue only, the queue push path. One log line per request, with a
 * request id (Cloudflare's cf-ray when the request came through Cloudflare) echoed in `x-request-id`.
 */
import { randomUUID } from "node:crypto";
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
import { actorRoutes } from "../activity/actor-route.ts";
import type { ActorKeys } from "../activity/token.ts";
import type { SuppressionFilter } from "../privacy/suppression.ts";
import { internalQueueRoutes } from "./internal-queue.ts";
import { mountOpenApi } from "./openapi.ts";
import type { Log } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";

export interface ApiDeps {
  db: Db;
  /** MariaDB; without it the admin API is not served. */
  configDb: ConfigDb | null;
  /** Token of the local queue push; the route is mounted only with `localQueueConsumer`. */
  internalToken?: string;
  /** Mount /internal/queue, where the local dev sidecar pushes batches (never in production). */
  localQueueConsumer?: boolean;
  /** What /readyz checks: each part's name, whether it is fine, and why not. */
  readiness?: () => Promise<ReadinessPart[]>;
  auth: AuthOptions;
  /** Single sign-on from the CRM's Custom Page (needs `auth.session` to mint session tokens). */
  sso?: { sharedSecret?: string; autoCreateTenants: boolean };
  /** Team activity: the keys that sign actor tokens (ACTIVITY_SIGNING_KEY); without them the exchange answers 404. */
  activity?: { keys?: ActorKeys };
  /** The edge's public URL (install snippets). */
  edgeUrl?: string;
  /** CRM delivery: destinations and sync status in the API, and the HighLevel install callback. */
  crm?: CrmAdminDeps & { connections: ConnectionStore };
  /** The privacy API's key (PRIVACY_HASH_KEY) and the drain's suppression check. */
  privacy?: { key: Buffer | null; suppression?: SuppressionFilter; settleMs?: number; leaseMs?: number };
  /** Origins allowed to frame the dashboard (the CRM's), besides its own. */
  frameAncestors?: string[];
  log: Log;
  metrics: Metrics;
}

export interface ReadinessPart {
  name: string;
  ok: boolean;
  detail?: string;
}

const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/** The CRM's app origins that open Custom Pages (HighLevel's app and its white-label domain). */
export const DEFAULT_FRAME_ANCESTORS = ["https://app.gohighlevel.com", "https://*.gohighlevel.com", "https://*.leadconnectorhq.com"];

export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.use("*", async function requestLog(c, next) {
    const id = (c.req.header("cf-ray") ?? c.req.header("x-request-id") ?? randomUUID()).slice(0, 64);
    const started = performance.now();
    c.header("x-request-id", id);
    await next();
    const status = c.res.status;
    deps.log("request", {
      reqId: id,
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round(performance.now() - started),
      level: status >= 500 ? "error" : QUIET.has(c.req.path) ? "debug" : "info",
    });
  });
  app.get("/readyz", async (c) => {
    const parts: ReadinessPart[] = [];
    try {
      await deps.db.command({ ping: 1 });
      parts.push({ name: "mongodb", ok: true });
    } catch (err) {
      parts.push({ name: "mongodb", ok: false, detail: err instanceof Error ? err.message : String(err) });
    }
    if (deps.readiness) parts.push(...(await deps.readiness()));
    const failing = parts.filter((p) => !p.ok).map((p) => p.name);
    return c.json({ ready: failing.length === 0, ...(failing.length ? { failing } : {}), parts }, failing.length ? 503 : 200);
  });
  app.get("/healthz", async (c) => {
    await deps.db.command({ ping: 1 });
    return c.json({ ok: true });
  });
  app.get("/metrics", async (c) => {
    c.header("content-type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });
  if (deps.localQueueConsumer) {
    if (!deps.internalToken) throw new Error("the local queue push needs an internal token");
    app.route("/internal/queue", internalQueueRoutes({ db: deps.db, token: deps.internalToken, log: deps.log, metrics: deps.metrics, ...(deps.privacy?.suppression ? { suppression: deps.privacy.suppression } : {}) }));
  }
  mountOpenApi(app, { serverUrl: "/v1" });
  app.route("/", dashboardRoutes({ frameAncestors: deps.frameAncestors ?? DEFAULT_FRAME_ANCESTORS }));
  // The admin API owns everything under /v1 (its auth and its JSON 404), so it is mounted last.
  if (deps.configDb) {
    const scopes = new ScopeResolver(deps.configDb);
    // before the admin API, whose auth guards everything else under /v1
    if (deps.auth.session) {
      app.route("/v1/auth", ssoRoutes({ db: deps.configDb, session: deps.auth.session, ...deps.sso, onSignIn: () => scopes.invalidate(), log: deps.log }));
    }
    // the CRM's Custom JS trades the CRM's session details for an actor token (any origin: see actor-route.ts)
    app.route(
      "/v1/auth/highlevel/actor",
      actorRoutes({ db: deps.configDb, ...deps.sso, ...(deps.activity?.keys ? { keys: deps.activity.keys } : {}), onSignIn: () => scopes.invalidate(), log: deps.log }),
    );
    if (deps.crm) {
      const { directory } = deps.crm;
      app.route("/v1/integrations", integrationRoutes({ connections: deps.crm.connections, log: deps.log, onConnected: () => directory.invalidate() }));
    }
    app.route("/v1", createAdminApi({ db: deps.configDb, mongo: deps.db, auth: deps.auth, scopes, edgeUrl: deps.edgeUrl ?? "", log: deps.log, ...(deps.crm ? { crm: deps.crm } : {}), ...(deps.privacy ? { privacy: deps.privacy } : {}) }));
  }
  app.notFound((c) => c.json({ error: "not_found", message: "No such route." }, 404));
  app.onError((err, c) => {
    deps.log("unhandled error", { error: err.message, path: c.req.path, requestId: c.res.headers.get("x-request-id") ?? undefined, level: "error" });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
