/** Sites: an agency manages every site of its tenant; a location user reads and updates only its own sites. */
import { randomBytes } from "node:crypto";
import { asc, eq, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import type { ConfigDb } from "../../config/db.ts";
import { configQuarantine, locations, sites, users } from "../../config/schema.ts";
import { createdFields, deletedFields, diffFields, writeAudit, type AuditActor } from "../../audit/audit.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { findLocation, findSite, requireAgency, siteScope } from "./access.ts";
import { auditBase, type Tx } from "./audited.ts";
import { readBody } from "./body.ts";
import { Conflict, Forbidden, isDuplicateKey, NotFound, ValidationFailed } from "./errors.ts";
import { jsonValue, siteOut, type SiteSync } from "./rows.ts";
import { siteCreateSchema, sitePatchSchema } from "./schemas.ts";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh public site key: `sk_` + 24 lower-case base32 characters (120 random bits). Keys are lower-case everywhere. */
export function generateSiteKey(): string {
  const bytes = randomBytes(15);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `sk_${out}`;
}

const SITE_KEY_TAKEN = () => Conflict("That site key has been issued before: a key belongs to one site forever.", "siteKey");

/** A new site's allowlist: its domain over https, with and without `www.`. */
export function defaultOrigins(domain: string): string[] {
  const bare = domain.replace(/^www\./, "");
  return [`https://${bare}`, `https://www.${bare}`];
}

/** A key taken now, or ever (the site_keys tombstones, or the sites' own unique index). */
const keyTaken = (err: unknown): boolean => isDuplicateKey(err, "site_key") || isDuplicateKey(err, "PRIMARY");

/** The sites as the API shows them, each with its sync state (quarantined by the KV sync, and why). */
async function withSync(db: ConfigDb, rows: (typeof sites.$inferSelect)[]) {
  const keys = rows.map((r) => r.siteKey);
  const held = keys.length ? await db.select().from(configQuarantine).where(inArray(configQuarantine.siteKey, keys)) : [];
  const byKey = new Map(held.map((q): [string, SiteSync] => [q.siteKey, { state: "quarantined", reason: q.reason, since: q.since.toISOString() }]));
  return rows.map((r) => siteOut(r, byKey.get(r.siteKey)));
}

/** A location given for a new or moved site must be one of the tenant's (400 otherwise). */
async function checkLocation(db: ConfigDb, p: Principal, locationId: string): Promise<void> {
  await findLocation(db, p, locationId).catch(() => {
    throw ValidationFailed([{ path: "locationId", message: "No such location in this tenant." }]);
  });
}

/**
 * The location a new site goes to when none is given: the tenant's first; a tenant without locations yet gets
 * one (created, and audited, in the site's transaction).
 */
async function defaultLocation(tx: Tx, p: Principal, audit: { actor: AuditActor; requestId: string | null }): Promise<string> {
  const [first] = await tx.select({ id: locations.id }).from(locations).where(eq(locations.tenantId, p.tenantId)).orderBy(asc(locations.createdAt), asc(locations.id)).limit(1);
  if (first) return first.id;
  const id = crypto.randomUUID();
  const values = { id, tenantId: p.tenantId, name: "Default location" };
  await writeAudit(tx, { ...audit, tenantId: p.tenantId, locationId: id, action: "location.create", targetType: "location", targetId: id, changes: createdFields({ name: values.name }), meta: { reason: "first site" } });
  await tx.insert(locations).values(values);
  return id;
}

/** A site row as the API and the audit trail show its fields (JSON columns parsed). */
const siteFields = (r: typeof sites.$inferSelect): Record<string, unknown> => ({
  ...r,
  allowedOrigins: jsonValue(r.allowedOrigins),
  settings: jsonValue(r.settings),
});

/** Who may send data, and how long it is kept: agency decisions. Location users keep forms, fields and mappings. */
export const SECURITY_FIELDS = ["siteKey", "active", "allowedOrigins", "locationId"] as const;
export const SECURITY_SETTINGS = ["retentionDays", "consentMode", "respectDoNotTrack", "debug"] as const;

/** The security fields a patch would change on `site` (a field sent with its current value changes nothing). */
export function securityChanges(site: typeof sites.$inferSelect, body: Record<string, unknown>): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const changed: string[] = SECURITY_FIELDS.filter((f) => f in body && !same(body[f], f === "allowedOrigins" ? jsonValue(site.allowedOrigins) : site[f]));
  if ("settings" in body) {
    const before = (jsonValue(site.settings) ?? {}) as Record<string, unknown>;
    const after = (body.settings ?? {}) as Record<string, unknown>;
    for (const k of SECURITY_SETTINGS) if (!same(before[k], after[k])) changed.push(`settings.${k}`);
  }
  return changed;
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
    if (body.locationId) await checkLocation(db, p, body.locationId);
    // origins enforced from the start: the site's own domain, unless the agency says otherwise
    const allowedOrigins = body.allowedOrigins ?? defaultOrigins(body.domain);
    const base = auditBase(c);
    try {
      await db.transaction(async (tx) => {
        const locationId = body.locationId ?? (await defaultLocation(tx, p, base));
        const values = { ...body, allowedOrigins, id, tenantId: p.tenantId, locationId, siteKey: body.siteKey ?? generateSiteKey() };
        const { id: _id, tenantId: _tenant, ...shown } = values;
        await writeAudit(tx, { ...base, locationId, action: "site.create", targetType: "site", targetId: id, changes: createdFields(shown) });
        await tx.insert(sites).values(values);
      });
    } catch (err) {
      if (keyTaken(err)) throw SITE_KEY_TAKEN();
      throw err;
    }
    return c.json(await one(await findSite(db, p, id)), 201);
  });

  app.get("/sites/:siteId", async (c) => c.json(await one(await findSite(db, c.get("principal"), c.req.param("siteId")))));

  app.patch("/sites/:siteId", async (c) => {
    const p = c.get("principal");
    const site = await findSite(db, p, c.req.param("siteId"));
    const body = await readBody(c, sitePatchSchema);
    if (p.role !== "agency") {
      const changed = securityChanges(site, body);
      if (changed.length) throw Forbidden(`Only agency users may change ${changed.join(", ")}.`, { fields: changed });
    }
    if (body.locationId !== undefined && body.locationId !== site.locationId) await checkLocation(db, p, body.locationId);
    try {
      await db.transaction(async (tx) => {
        const [before] = await tx.select().from(sites).where(eq(sites.id, site.id)).for("update");
        if (!before) throw NotFound("site");
        // a moved site's entry goes with it: the location it belongs to after the change (the move is in `changes`)
        const locationId = body.locationId ?? before.locationId;
        await writeAudit(tx, { ...auditBase(c), locationId, action: "site.update", targetType: "site", targetId: site.id, changes: diffFields(siteFields(before), body) });
        await tx.update(sites).set(body).where(eq(sites.id, site.id));
      });
    } catch (err) {
      if (keyTaken(err)) throw SITE_KEY_TAKEN();
      throw err;
    }
    return c.json(await one(await findSite(db, p, site.id)));
  });

  app.delete("/sites/:siteId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "delete sites");
    const site = await findSite(db, p, c.req.param("siteId"));
    const base = auditBase(c);
    await db.transaction(async (tx) => {
      const identity = { name: site.name, domain: site.domain, siteKey: site.siteKey };
      await writeAudit(tx, { ...base, locationId: site.locationId, action: "site.delete", targetType: "site", targetId: site.id, changes: deletedFields(identity) });
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
