/** Sites: an agency manages every site of its tenant; a location user reads and updates only its own sites. */
import { randomBytes } from "node:crypto";
import { asc, eq, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { configQuarantine, locations, sites, users } from "../../config/schema.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { findLocation, findSite, requireAgency, siteScope } from "./access.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, ValidationFailed } from "./errors.ts";
import { jsonValue, siteOut, type SiteSync } from "./rows.ts";
import { siteCreateSchema, sitePatchSchema } from "./schemas.ts";

/** A fresh public site key: `sk_` + 20 url-safe characters (120 random bits). */
export function generateSiteKey(): string {
  return `sk_${randomBytes(15).toString("base64url")}`;
}

const SITE_KEY_TAKEN = () => Conflict("That site key is already in use.", "siteKey");

/** The sites as the API shows them, each with its sync state (quarantined by the KV sync, and why). */
async function withSync(db: ConfigDb, rows: (typeof sites.$inferSelect)[]) {
  const keys = rows.map((r) => r.siteKey);
  const held = keys.length ? await db.select().from(configQuarantine).where(inArray(configQuarantine.siteKey, keys)) : [];
  const byKey = new Map(held.map((q): [string, SiteSync] => [q.siteKey, { state: "quarantined", reason: q.reason, since: q.since.toISOString() }]));
  return rows.map((r) => siteOut(r, byKey.get(r.siteKey)));
}

/** The location a new or moved site goes to: one of the tenant's (400 otherwise), or the tenant's first. */
async function targetLocation(db: ConfigDb, p: Principal, locationId: string | undefined): Promise<string> {
  if (locationId) {
    await findLocation(db, p, locationId).catch(() => {
      throw ValidationFailed([{ path: "locationId", message: "No such location in this tenant." }]);
    });
    return locationId;
  }
  const [first] = await db.select({ id: locations.id }).from(locations).where(eq(locations.tenantId, p.tenantId)).orderBy(asc(locations.createdAt), asc(locations.id)).limit(1);
  if (first) return first.id;
  // a tenant without locations yet: its first site gets one
  const id = crypto.randomUUID();
  await db.insert(locations).values({ id, tenantId: p.tenantId, name: "Default location" });
  return id;
}

export function registerSiteRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  const one = async (row: typeof sites.$inferSelect) => (await withSync(db, [row]))[0]!;

  app.get("/sites", async (c) => {
    const rows = await db.select().from(sites).where(siteScope(c.get("principal"))).orderBy(asc(sites.createdAt), asc(sites.id));
    return c.json({ items: await withSync(db, rows) });
  });

  app.post("/sites", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "create sites");
    const body = await readBody(c, siteCreateSchema);
    const id = crypto.randomUUID();
    const locationId = await targetLocation(db, p, body.locationId);
    try {
      await db.insert(sites).values({ ...body, id, tenantId: p.tenantId, locationId, siteKey: body.siteKey ?? generateSiteKey() });
    } catch (err) {
      if (isDuplicateKey(err, "site_key")) throw SITE_KEY_TAKEN();
      throw err;
    }
    return c.json(await one(await findSite(db, p, id)), 201);
  });

  app.get("/sites/:siteId", async (c) => c.json(await one(await findSite(db, c.get("principal"), c.req.param("siteId")))));

  app.patch("/sites/:siteId", async (c) => {
    const p = c.get("principal");
    const site = await findSite(db, p, c.req.param("siteId"));
    const body = await readBody(c, sitePatchSchema);
    if (body.locationId !== undefined && body.locationId !== site.locationId) {
      // who may see the site (and its data) follows its location: an agency decision
      requireAgency(p, "move sites between locations");
      await targetLocation(db, p, body.locationId);
    }
    try {
      await db.update(sites).set(body).where(eq(sites.id, site.id));
    } catch (err) {
      if (isDuplicateKey(err, "site_key")) throw SITE_KEY_TAKEN();
      throw err;
    }
    return c.json(await one(await findSite(db, p, site.id)));
  });

  app.delete("/sites/:siteId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "delete sites");
    const site = await findSite(db, p, c.req.param("siteId"));
    await db.transaction(async (tx) => {
      // Forms, fields and mappings go by cascade; location users' grants are JSON lists, pruned here.
      await tx.delete(sites).where(eq(sites.id, site.id));
      const holders = await tx.select({ id: users.id, allowedSites: users.allowedSites }).from(users).where(eq(users.tenantId, site.tenantId));
      for (const user of holders) {
        const allowed = jsonValue(user.allowedSites);
        if (!allowed.includes(site.id)) continue;
        await tx.update(users).set({ allowedSites: allowed.filter((id) => id !== site.id) }).where(eq(users.id, user.id));
      }
    });
    return c.json({ id: site.id, deleted: true });
  });
}
