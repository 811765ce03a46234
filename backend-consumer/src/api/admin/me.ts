/**
 * `GET /v1/me`: who the caller is and everything it may see (its locations and sites), in one answer: what the
 * dashboard needs to draw its switchers, and nothing outside the caller's scope.
 */
import { asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { locations, sites, tenants, users } from "../../config/schema.ts";
import type { AuthEnv } from "../auth.ts";
import { locationScope, siteScope } from "./access.ts";

export function registerMeRoute(app: Hono<AuthEnv>, db: ConfigDb, opts: { edgeUrl: string }): void {
  app.get("/me", async (c) => {
    const p = c.get("principal");
    const [[tenant], [user], locs, siteRows] = await Promise.all([
      db.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, p.tenantId)).limit(1),
      db.select({ name: users.name }).from(users).where(eq(users.id, p.userId)).limit(1),
      db.select().from(locations).where(locationScope(p)).orderBy(asc(locations.name), asc(locations.id)),
      db.select().from(sites).where(siteScope(p)).orderBy(asc(sites.name), asc(sites.id)),
    ]);
    return c.json({
      userId: p.userId,
      tenantId: p.tenantId,
      tenantName: tenant?.name ?? null,
      role: p.role,
      email: p.email,
      name: user?.name ?? null,
      sessionLocationId: p.sessionLocationId ?? null,
      edgeUrl: opts.edgeUrl,
      locations: locs.map((l) => ({ id: l.id, name: l.name, timezone: l.timezone })),
      sites: siteRows.map((s) => ({ id: s.id, name: s.name, domain: s.domain, siteKey: s.siteKey, locationId: s.locationId, timezone: s.timezone ?? null, active: s.active })),
    });
  });
}
