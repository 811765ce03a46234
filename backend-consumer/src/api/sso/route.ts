/**
 * `POST /v1/auth/highlevel { encryptedData }`: the dashboard's sign-in from inside the CRM. Answers a session token
 * of at most 15 minutes (the page asks the CRM again before it runs out; no cookies, which browsers block in
 * third-party iframes), or 401 with a named error.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { ConfigDb } from "../../config/db.ts";
import { writeAudit } from "../../audit/audit.ts";
import { requestIdOf } from "../admin/audited.ts";
import { readBody } from "../admin/body.ts";
import { ApiError, DatabaseUnavailable, isDatabaseUnavailable, PayloadTooLarge } from "../admin/errors.ts";
import { mintSession, type SessionKeys } from "../session.ts";
import { signInWithHighLevel, SsoRefused, type SsoIdentity } from "./highlevel.ts";

export interface SsoRouteDeps {
  db: ConfigDb;
  session: SessionKeys;
  /** The app's Shared Secret; without it the route answers 404 `sso_not_configured`. */
  sharedSecret?: string;
  autoCreateTenants?: boolean;
  /** Called after every sign-in (the scope cache must not keep a role the CRM has just changed). */
  onSignIn?: () => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The audit entry of a sign-in through the CRM (the user as provisioned, a role the CRM changed), written in the
 * sign-in's transaction. `via` names another way in than the dashboard (the Custom JS's actor-token exchange).
 */
export async function auditSignIn(tx: Parameters<typeof writeAudit>[0], who: SsoIdentity, requestId: string | null, via?: string): Promise<void> {
  await writeAudit(tx, {
    tenantId: who.tenantId,
    locationId: who.locationId,
    actor: { userId: who.userId, role: who.role },
    action: "auth.sso",
    targetType: "user",
    targetId: who.userId,
    changes: who.provisioned.action === "updated" && who.provisioned.roleBefore !== who.role ? { role: { before: who.provisioned.roleBefore, after: who.role } } : null,
    meta: { provider: "highlevel", ...(via ? { via } : {}), role: who.role, sessionLocationId: who.locationId, provisioned: who.provisioned.action },
    requestId,
  });
}

const exchangeSchema = z.strictObject({ encryptedData: z.string().min(1).max(64 * 1024) });

export function ssoRoutes(deps: SsoRouteDeps): Hono {
  const app = new Hono();
  app.use("*", bodyLimit({ maxSize: 96 * 1024, onError: () => { throw PayloadTooLarge(96 * 1024); } }));
  app.post("/highlevel", async (c) => {
    if (!deps.sharedSecret) throw new ApiError(404, "sso_not_configured", "Single sign-on is not configured (HIGHLEVEL_SHARED_SECRET).");
    const { encryptedData } = await readBody(c, exchangeSchema);
    const sharedSecret = deps.sharedSecret;
    // Provisioning and its audit entry in one transaction: no session, and no user created or changed, without
    // the entry (if the trail cannot take it, the sign-in fails and the page tries again).
    const who = await deps.db.transaction(
      async (tx) => {
        const who = await signInWithHighLevel(tx, encryptedData, { sharedSecret, autoCreateTenants: deps.autoCreateTenants ?? false });
        await auditSignIn(tx, who, requestIdOf(c));
        return who;
      },
      { isolationLevel: "read committed" },
    );
    deps.onSignIn?.();
    const { token, expiresAt } = await mintSession(deps.session, { userId: who.userId, locationId: who.locationId });
    return c.json({
      token,
      expiresAt,
      user: { userId: who.userId, tenantId: who.tenantId, role: who.role, email: who.email, name: who.name, sessionLocationId: who.locationId },
    });
  });
  app.onError((err, c) => {
    if (err instanceof SsoRefused) {
      // which check refused is logged (never the payload); the caller gets the name, not the details of our data
      deps.log?.("sso refused", { error: err.code });
      return c.json({ error: err.code, message: err.message }, 401, { "WWW-Authenticate": 'Bearer realm="dashboard"' });
    }
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    if (isDatabaseUnavailable(err)) return c.json(DatabaseUnavailable(5).toJSON(), 503, { "Retry-After": "5" });
    deps.log?.("sso error", { error: err.message });
    return c.json({ error: "internal_error", message: "Unexpected error." }, 500);
  });
  return app;
}
