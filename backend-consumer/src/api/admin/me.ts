/**
 * `GET /v1/me`: who the caller is and everything it may see (its locations and sites), in one answer: what the
 * dashboard needs to draw its switchers, and nothing outside the caller's scope.
 */
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { locations, sites, tenants, users } from "../../config/schema.ts";
import type { AuthEnv } from "../auth.ts";
import { locationScope, siteScope } from "./access.ts";

export const meOutSchema = z.object({
  userId: z.string(),
  tenantId: z.string(),
  tenantName: z.string().nullable(),
  role: z.enum(["agency", "location"]),
  email: z.string(),
  name: z.string().nullable(),
  sessionLocationId: z.string().nullable().describe("Set when the session is scoped to one location (the CRM page was opened inside it)."),
  edgeUrl: z.string().describe("The edge's public URL, for install snippets."),
  locations: z.array(z.object({ id: z.string(), name: z.string(), timezone: z.string() })),
  sites: z.array(z.object({ id: z.string(), name: z.string(), domain: z.string(), siteKey: z.string(), locationId: z.string(), timezone: z.string().nullable(), active: z.boolean() })),
});

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
