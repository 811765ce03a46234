/**
 * `POST /v1/auth/highlevel/actor { encryptedData }`: the CRM's Custom JS trades the CRM's session details (encrypted
 * with the app's Shared Secret, as for the dashboard's sign-in) for a one-hour actor token that the edge's
 * POST /v1/activity accepts. The script runs on the CRM's origin and posts text/plain (no CORS preflight), so the
 * route answers any origin, without credentials: the encrypted payload is what authenticates. Sign-in, mapping and
 * provisioning are the dashboard's (api/sso/highlevel.ts); the audit trail records only a sign-in that created or
 * changed the user, not every hourly renewal.
 */
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { DEFAULT_RETENTION_DAYS, type Actor } from "#contracts";
import type { ConfigDb } from "../config/db.ts";
import { locations, sites } from "../config/schema.ts";
import { requestIdOf } from "../api/admin/audited.ts";
import { readBody } from "../api/admin/body.ts";
import { ApiError, DatabaseUnavailable, isDatabaseUnavailable, PayloadTooLarge } from "../api/admin/errors.ts";
import { signInWithHighLevel, SsoRefused, type SsoDb, type SsoIdentity } from "../api/sso/highlevel.ts";
import { auditSignIn } from "../api/sso/route.ts";
import { mintActorToken, type ActorKeys } from "./token.ts";

export interface ActorRouteDeps {
  db: ConfigDb;
  /** ACTIVITY_SIGNING_KEY's keys; without them (or the shared secret) the route answers 404 activity_not_configured. */
  keys?: ActorKeys;
  sharedSecret?: string;
  autoCreateTenants?: boolean;
  /** Called after a sign-in that created or changed a user (the scope cache must not keep the old role). */
  onSignIn?: () => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const exchangeSchema = z.strictObject({ encryptedData: z.string().min(1).max(64 * 1024) });

const CORS = { "Access-Control-Allow-Origin": "*", Vary: "Origin" } as const;

/** Days the tenant's activity is kept: the longest retention of its sites (the default when it has none). */
export async function tenantRetentionDays(db: SsoDb, tenantId: string): Promise<number> {
  const rows = await db.select({ settings: sites.settings }).from(sites).where(eq(sites.tenantId, tenantId));
  const days = rows.map((r) => {
    const s = typeof r.settings === "string" ? (JSON.parse(r.settings) as { retentionDays?: unknown }) : r.settings;
    return typeof s?.retentionDays === "number" ? s.retentionDays : DEFAULT_RETENTION_DAYS;
  });
  return Math.min(3650, days.length ? Math.max(...days) : DEFAULT_RETENTION_DAYS);
}

/** The actor a sign-in makes: the location's time zone when the page is inside one, else UTC. */
async function actorOf(db: SsoDb, who: SsoIdentity): Promise<Actor> {
  const [loc] = who.locationId
    ? await db.select({ tz: locations.timezone }).from(locations).where(and(eq(locations.tenantId, who.tenantId), eq(locations.id, who.locationId))).limit(1)
    : [];
  return {
    userId: who.userId,
    tenantId: who.tenantId,
    locationId: who.locationId,
    role: who.role,
    timezone: loc?.tz ?? "UTC",
    retentionDays: await tenantRetentionDays(db, who.tenantId),
  };
}

export function actorRoutes(deps: ActorRouteDeps): Hono {
  const app = new Hono();
  app.use("*", async function cors(c, next) {
    await next();
    for (const [k, v] of Object.entries(CORS)) c.res.headers.set(k, v);
  });
  app.options("/", (c) => c.body(null, 204, { "Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400" }));
  app.use("*", bodyLimit({ maxSize: 96 * 1024, onError: () => { throw PayloadTooLarge(96 * 1024); } }));
  app.post("/", async (c) => {
    if (!deps.keys || !deps.sharedSecret) throw new ApiError(404, "activity_not_configured", "Team activity is not configured (ACTIVITY_SIGNING_KEY, HIGHLEVEL_SHARED_SECRET).");
    const { encryptedData } = await readBody(c, exchangeSchema);
    const { keys, sharedSecret } = deps;
    const { who, actor } = await deps.db.transaction(
      async (tx) => {
        const who = await signInWithHighLevel(tx, encryptedData, { sharedSecret, autoCreateTenants: deps.autoCreateTenants ?? false });
        if (who.provisioned.action !== "none") {
          await auditSignIn(tx, who, requestIdOf(c), "activity");
        }
        return { who, actor: await actorOf(tx, who) };
      },
      { isolationLevel: "read committed" },
    );
    if (who.provisioned.action !== "none") deps.onSignIn?.();
    return c.json(await mintActorToken(keys, actor));
  });
  app.onError((err, c) => {
    if (err instanceof SsoRefused) {
      deps.log?.("activity actor refused", { error: err.code });
      return c.json({ error: err.code, message: err.message }, 401);
    }
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    if (isDatabaseUnavailable(err)) return c.json(DatabaseUnavailable(5).toJSON(), 503, { "Retry-After": "5" });
    deps.log?.("activity actor error", { error: err.message });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
