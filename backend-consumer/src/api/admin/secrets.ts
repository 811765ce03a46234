/**
 * A site's server secret keys (agency users only): what a server sends events with instead of a browser's Origin.
 * The secret is shown once, when created; only its SHA-256 hash is kept (and compiled into the edge config, which
 * never serves it to browsers). Revoking a key takes effect at the edge with the next config sync.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, asc, eq, isNull } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import type { ConfigDb } from "../../config/db.ts";
import { sites, siteSecrets } from "../../config/schema.ts";
import { createdFields, writeAudit } from "../../audit/audit.ts";
import type { AuthEnv } from "../auth.ts";
import { findSite, requireAgency, siteScope } from "./access.ts";
import { auditBase } from "./audited.ts";
import { NotFound } from "./errors.ts";

export const secretOutSchema = z.object({
  id: z.string(),
  siteId: z.string(),
  prefix: z.string().describe("The secret's first characters, to tell keys apart."),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
});
export const secretCreatedSchema = secretOutSchema.extend({ secret: z.string().describe("Shown once: store it now.") });

const out = (r: typeof siteSecrets.$inferSelect): z.infer<typeof secretOutSchema> => ({
  id: r.id,
  siteId: r.siteId,
  prefix: r.prefix,
  createdAt: r.createdAt.toISOString(),
  revokedAt: r.revokedAt ? r.revokedAt.toISOString() : null,
});

export const hashSecret = (secret: string): string => createHash("sha256").update(secret).digest("hex");

export function registerSecretRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.get("/sites/:siteId/secret-keys", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage secret keys");
    const site = await findSite(db, p, c.req.param("siteId"));
    const rows = await db.select().from(siteSecrets).where(eq(siteSecrets.siteId, site.id)).orderBy(asc(siteSecrets.createdAt), asc(siteSecrets.id));
    return c.json({ items: rows.map(out) });
  });

  app.post("/sites/:siteId/secret-keys", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage secret keys");
    const site = await findSite(db, p, c.req.param("siteId"));
    const secret = `sks_${randomBytes(32).toString("base64url")}`;
    const id = crypto.randomUUID();
    const prefix = secret.slice(0, 12);
    // the trail names the key by its id and prefix; neither the secret nor its hash goes in
    await db.transaction(async (tx) => {
      await writeAudit(tx, { ...auditBase(c), locationId: site.locationId, action: "secret.create", targetType: "secret_key", targetId: id, changes: createdFields({ siteId: site.id, prefix }) });
      await tx.insert(siteSecrets).values({ id, siteId: site.id, hash: hashSecret(secret), prefix });
    });
    const [row] = await db.select().from(siteSecrets).where(eq(siteSecrets.id, id));
    return c.json({ ...out(row!), secret }, 201);
  });

  app.delete("/secret-keys/:secretId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage secret keys");
    const [row] = await db
      .select({ secret: siteSecrets, locationId: sites.locationId })
      .from(siteSecrets)
      .innerJoin(sites, eq(sites.id, siteSecrets.siteId))
      .where(and(eq(siteSecrets.id, c.req.param("secretId")), siteScope(p)))
      .limit(1);
    if (!row) throw NotFound("secret key");
    const revokedAt = new Date();
    await db.transaction(async (tx) => {
      const [current] = await tx.select({ revokedAt: siteSecrets.revokedAt }).from(siteSecrets).where(eq(siteSecrets.id, row.secret.id)).for("update");
      // revoking a revoked key changes nothing, and is not a change to record
      if (!current || current.revokedAt) return;
      await writeAudit(tx, {
        ...auditBase(c),
        locationId: row.locationId,
        action: "secret.revoke",
        targetType: "secret_key",
        targetId: row.secret.id,
        changes: { revokedAt: { before: null, after: revokedAt.toISOString() } },
        meta: { siteId: row.secret.siteId, prefix: row.secret.prefix },
      });
      await tx.update(siteSecrets).set({ revokedAt }).where(and(eq(siteSecrets.id, row.secret.id), isNull(siteSecrets.revokedAt)));
    });
    return c.json({ id: row.secret.id, revoked: true });
  });
}
