/**
 * `POST /v1/stats/query` (JWT, scoped): the scope is checked against the caller (an agency user may ask for any of
 * its tenant's locations or sites, or all; a location user only for its own), then the query is answered from the
 * rollups. Anything outside the caller's scope is a 404; a query that cannot be answered is a 400 naming the field.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import type { Db } from "mongodb";
import type { ConfigDb } from "../../config/db.ts";
import { locations, sites } from "../../config/schema.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { readBody } from "../admin/body.ts";
import { NotFound, ValidationFailed } from "../admin/errors.ts";
import { isTimeZone } from "../admin/rows.ts";
import { runStatsQuery } from "./run.ts";
import { planQuery, QueryError, statsQuerySchema, type StatsQuery } from "./schema.ts";

/** The scope's sites with their time zones (a site's own, else its location's). */
async function scopeSites(configDb: ConfigDb, p: Principal, scope: StatsQuery["scope"]): Promise<Map<string, string>> {
  if (scope !== "all" && "locationIds" in scope) for (const id of scope.locationIds) if (!p.locationIds.includes(id)) throw NotFound("location");
  if (scope !== "all" && "siteIds" in scope) for (const id of scope.siteIds) if (!p.siteIds.includes(id)) throw NotFound("site");
  if (p.siteIds.length === 0) return new Map();
  const rows = await configDb
    .select({ id: sites.id, locationId: sites.locationId, own: sites.timezone, inherited: locations.timezone })
    .from(sites)
    .innerJoin(locations, eq(locations.id, sites.locationId))
    .where(and(eq(sites.tenantId, p.tenantId), inArray(sites.id, p.siteIds)));
  const chosen = rows.filter((r) =>
    scope === "all" ? true : "locationIds" in scope ? scope.locationIds.includes(r.locationId) : scope.siteIds.includes(r.id),
  );
  return new Map(chosen.map((r) => [r.id, r.own ?? r.inherited]));
}

export function registerStatsRoutes(app: Hono<AuthEnv>, deps: { db: Db; configDb: ConfigDb }): void {
  app.post("/stats/query", async (c) => {
    const q = await readBody(c, statsQuerySchema);
    const timezones = await scopeSites(deps.configDb, c.get("principal"), q.scope);
    if (q.timezone && !isTimeZone(q.timezone)) throw ValidationFailed([{ path: "timezone", message: "Expected an IANA time zone." }]);
    const zones = [...new Set(timezones.values())];
    const timezone = q.timezone ?? (zones.length === 1 ? zones[0]! : "UTC");
    let plan;
    try {
      plan = planQuery(q, timezone);
    } catch (err) {
      if (err instanceof QueryError) throw ValidationFailed([{ path: err.path, message: err.message }]);
      throw err;
    }
    return c.json(await runStatsQuery(deps.db, q, plan, timezones, timezone));
  });
}
