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
import type { AuthEnv } from "../auth.ts";
import { findSite, requireAgency, siteScope } from "./access.ts";
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
    await db.insert(siteSecrets).values({ id, siteId: site.id, hash: hashSecret(secret), prefix: secret.slice(0, 12) });
    const [row] = await db.select().from(siteSecrets).where(eq(siteSecrets.id, id));
    return c.json({ ...out(row!), secret }, 201);
  });

  app.delete("/secret-keys/:secretId", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "manage secret keys");
    const [row] = await db
      .select({ secret: siteSecrets })
      .from(siteSecrets)
      .innerJoin(sites, eq(sites.id, siteSecrets.siteId))
      .where(and(eq(siteSecrets.id, c.req.param("secretId")), siteScope(p)))
      .limit(1);
    if (!row) throw NotFound("secret key");
    await db.update(siteSecrets).set({ revokedAt: new Date() }).where(and(eq(siteSecrets.id, row.secret.id), isNull(siteSecrets.revokedAt)));
    return c.json({ id: row.secret.id, revoked: true });
  });
}
