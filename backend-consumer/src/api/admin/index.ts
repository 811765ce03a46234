/**
 * The admin API of the config plane: REST CRUD over sites, forms, fields, field mappings and users, behind bearer
 * JWT auth, all JSON. The caller mounts it under `/v1`. Writes go to MariaDB only; the change-capture triggers
 * record each one in `config_changes` for the KV sync.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Db } from "mongodb";
import type { ConfigDb } from "../../config/db.ts";
import { requireAuth, type AuthEnv, type AuthOptions } from "../auth.ts";
import { ScopeResolver } from "../scope.ts";
import {
  ApiError,
  DatabaseUnavailable,
  isDatabaseUnavailable,
  isMissingParent,
  isRefusedValue,
  NotFound,
  PayloadTooLarge,
  RouteNotFound,
  ValidationFailed,
} from "./errors.ts";
import { registerAuditRoutes } from "./audit-log.ts";
import { registerFieldRoutes } from "./fields.ts";
import { registerFormRoutes } from "./forms.ts";
import { registerDestinationRoutes, type CrmAdminDeps } from "./destinations.ts";
import { registerInstallRoute } from "./install.ts";
import { registerLocationRoutes } from "./locations.ts";
import { registerMeRoute } from "./me.ts";
import { registerLeadRoutes } from "../leads/index.ts";
import { registerStatsRoutes } from "../stats/index.ts";
import { registerActivityRoutes } from "../activity.ts";
import { registerPrivacyRoutes } from "../privacy.ts";
import { registerMappingRoutes } from "./mappings.ts";
import { registerRotateKeyRoutes } from "./rotate-key.ts";
import { registerSecretRoutes } from "./secrets.ts";
import { registerSiteRoutes } from "./sites.ts";
import { registerUserRoutes } from "./users.ts";

export interface AdminApiDeps {
  db: ConfigDb;
  auth: AuthOptions;
  /** MongoDB, for the read API (leads, stats); without it only the config plane is served. */
  mongo?: Db;
  /** Where scopes come from; one per process (shared with the read API) so that writes here clear its cache. */
  scopes?: ScopeResolver;
  /** CRM delivery (destinations, sync status); without it those routes are not served. */
  crm?: CrmAdminDeps;
  /** The edge's public URL, for the install snippet `GET /v1/me` hands the dashboard. */
  edgeUrl?: string;
  /** The privacy API's keyed-hash key (PRIVACY_HASH_KEY) and the erase's settle wait. */
  privacy?: { key: Buffer | null; settleMs?: number; leaseMs?: number };
  /** Largest accepted request body; 413 `payload_too_large` above it. Default 64 KiB. */
  maxBodyBytes?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export function createAdminApi(deps: AdminApiDeps): Hono<AuthEnv> {
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = deps.log ?? ((msg, fields) => console.error(msg, fields ?? {}));
  const app = new Hono<AuthEnv>();

  const scopes = deps.scopes ?? new ScopeResolver(deps.db);
  app.use("*", requireAuth(deps.auth, scopes));
  // A write may change who sees what (users, locations, sites): the next request reads scopes afresh.
  app.use("*", async function freshScopesAfterWrites(c, next) {
    await next();
    if (c.req.method !== "GET") scopes.invalidate();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw PayloadTooLarge(maxBodyBytes);
      },
    }),
  );
  registerMeRoute(app, deps.db, { edgeUrl: deps.edgeUrl ?? "" });
  registerLocationRoutes(app, deps.db);
  registerSiteRoutes(app, deps.db);
  registerRotateKeyRoutes(app, deps.db);
  registerSecretRoutes(app, deps.db);
  registerFormRoutes(app, deps.db);
  registerFieldRoutes(app, deps.db);
  registerMappingRoutes(app, deps.db);
  registerUserRoutes(app, deps.db);
  registerAuditRoutes(app, deps.db);
  if (deps.crm) registerDestinationRoutes(app, deps.db, { ...deps.crm, ...(deps.mongo ? { mongo: deps.mongo } : {}) });
  if (deps.mongo) {
    registerLeadRoutes(app, { db: deps.mongo, configDb: deps.db, ...(deps.crm ? { directory: deps.crm.directory } : {}) });
    registerStatsRoutes(app, { db: deps.mongo, configDb: deps.db });
    registerActivityRoutes(app, { db: deps.mongo, configDb: deps.db });
    registerInstallRoute(app, deps.db, deps.mongo);
    registerPrivacyRoutes(app, { db: deps.mongo, configDb: deps.db, key: deps.privacy?.key ?? null, ...(deps.privacy?.settleMs !== undefined ? { settleMs: deps.privacy.settleMs } : {}), ...(deps.privacy?.leaseMs !== undefined ? { leaseMs: deps.privacy.leaseMs } : {}) });
  }
  // A catch-all of its own, so an unknown route under the mount point is a JSON 404 whatever the parent does.
  app.all("*", () => {
    throw RouteNotFound();
  });
  app.notFound((c) => c.json(RouteNotFound().toJSON(), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    if (isDatabaseUnavailable(err)) {
      log("admin api: MariaDB unreachable", { error: err.message, path: c.req.path });
      c.header("Retry-After", "5");
      return c.json(DatabaseUnavailable(5).toJSON(), 503);
    }
    // The parent row vanished between the ownership check and the insert (a concurrent delete).
    if (isMissingParent(err)) return c.json(NotFound().toJSON(), 404);
    // A safety net behind the zod schemas and readBody's checks: a value the database refuses is bad input.
    if (isRefusedValue(err)) {
      log("admin api: database refused a value that passed validation", { error: err.message, path: c.req.path });
      return c.json(ValidationFailed([{ path: "", message: "The database refused a value in this body." }]).toJSON(), 400);
    }
    log("admin api error", { error: err.message, method: c.req.method, path: c.req.path });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
