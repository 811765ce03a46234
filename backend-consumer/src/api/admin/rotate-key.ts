/**
 * Site key rotation. `POST /v1/sites/:siteId/rotate-key` issues a new public key; the old one keeps working at the
 * edge (loader, config, ingest) for a grace period the caller chooses, then stops by the edge's own clock. Changing
 * a site's key is a security action: agency users only (403 to location users before anything is looked up, as for
 * every agency-only route), and a site outside the caller's scope is a 404.
 *
 * How it reaches the edge: the new key is written to `sites.site_key` (the 0007 triggers retire the old key in
 * `site_keys`, the 0001 triggers record a change for both keys) and the old key's `site_keys.grace_until` is set in
 * the same transaction (the 0014 trigger records that too). The KV sync then writes the site's config under both
 * keys, the old one marked `validUntil`, and deletes it after the grace end.
 *
 * `GET /v1/sites/:siteId/site-keys`: the current key and the rotated-out keys still in their grace period, for
 * anyone who may see the site (the dashboard's install tab says until when an old snippet keeps working).
 */
import { and, asc, eq, gt, ne } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { z } from "zod";
import { writeAudit } from "../../audit/audit.ts";
import type { ConfigDb } from "../../config/db.ts";
import { siteKeys, sites } from "../../config/schema.ts";
import type { AuthEnv } from "../auth.ts";
import { findSite, requireAgency } from "./access.ts";
import { auditBase } from "./audited.ts";
import { readBody } from "./body.ts";
import { Conflict, isDuplicateKey, NotFound } from "./errors.ts";
import { generateSiteKey } from "./sites.ts";

const DAY_S = 86_400;
/** An old key keeps working this long unless the caller says otherwise: a week to update every page. */
export const DEFAULT_GRACE_SECONDS = 7 * DAY_S;
/** The longest grace period: a leaked key must not stay usable for months. */
export const MAX_GRACE_SECONDS = 90 * DAY_S;

export const rotateKeySchema = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_GRACE_SECONDS)
    .default(DEFAULT_GRACE_SECONDS)
    .describe(`How long the old key keeps working at the edge, in seconds: 0 (stops now) to ${MAX_GRACE_SECONDS} (90 days). Default ${DEFAULT_GRACE_SECONDS} (7 days).`),
});

export const keyRotatedSchema = z.object({
  siteId: z.string(),
  siteKey: z.string().describe("The new key: the one to put in the snippet."),
  oldSiteKey: z.string().describe("The key it replaces."),
  oldKeyValidUntil: z.iso.datetime().describe("When the old key stops working at the edge (its grace period ends)."),
  graceSeconds: z.number().int(),
});

export const siteKeysOutSchema = z.object({
  siteId: z.string(),
  siteKey: z.string().describe("The current key."),
  inGrace: z
    .array(z.object({ siteKey: z.string(), retiredAt: z.iso.datetime().nullable(), validUntil: z.iso.datetime() }))
    .describe("Rotated-out keys that still work at the edge, the soonest to stop first."),
});

/** Pure: when an old key rotated out at `now` stops. */
export const graceEnd = (now: Date, graceSeconds: number): Date => new Date(now.getTime() + graceSeconds * 1000);

/** The body is optional: none (or an empty one) means the default grace period. */
async function readRotation(c: Context<AuthEnv>): Promise<z.output<typeof rotateKeySchema>> {
  if ((await c.req.text()).trim() === "") return rotateKeySchema.parse({});
  return readBody(c, rotateKeySchema);
}

export function registerRotateKeyRoutes(app: Hono<AuthEnv>, db: ConfigDb): void {
  app.post("/sites/:siteId/rotate-key", async (c) => {
    const p = c.get("principal");
    requireAgency(p, "rotate site keys");
    const site = await findSite(db, p, c.req.param("siteId"));
    const { graceSeconds } = await readRotation(c);
    const siteKey = generateSiteKey();
    let rotated: { oldSiteKey: string; validUntil: Date };
    try {
      rotated = await db.transaction(async (tx) => {
        // the key as it is now, held until commit: two rotations at once give the second the first's new key
        const [row] = await tx.select({ siteKey: sites.siteKey }).from(sites).where(eq(sites.id, site.id)).for("update");
        if (!row) throw NotFound("site");
        const validUntil = graceEnd(new Date(), graceSeconds);
        // the entry first, in the same transaction (audited.ts): it commits with the rotation or not at all
        await writeAudit(tx, {
          ...auditBase(c),
          locationId: site.locationId,
          action: "site.rotate_key",
          targetType: "site",
          targetId: site.id,
          changes: { siteKey: { before: row.siteKey, after: siteKey } },
          meta: { graceSeconds, oldKeyValidUntil: validUntil.toISOString() },
        });
        await tx.update(sites).set({ siteKey }).where(eq(sites.id, site.id));
        await tx.update(siteKeys).set({ graceUntil: validUntil }).where(eq(siteKeys.siteKey, row.siteKey));
        return { oldSiteKey: row.siteKey, validUntil };
      });
    } catch (err) {
      // 120 random bits: a collision with any key ever issued is not going to happen, but it would be refused
      if (isDuplicateKey(err)) throw Conflict("The generated key has been issued before; try again.", "siteKey");
      throw err;
    }
    return c.json({ siteId: site.id, siteKey, oldSiteKey: rotated.oldSiteKey, oldKeyValidUntil: rotated.validUntil.toISOString(), graceSeconds });
  });

  app.get("/sites/:siteId/site-keys", async (c) => {
    const site = await findSite(db, c.get("principal"), c.req.param("siteId"));
    const rows = await db
      .select()
      .from(siteKeys)
      .where(and(eq(siteKeys.siteId, site.id), gt(siteKeys.graceUntil, new Date()), ne(siteKeys.siteKey, site.siteKey)))
      .orderBy(asc(siteKeys.graceUntil), asc(siteKeys.siteKey));
    return c.json({
      siteId: site.id,
      siteKey: site.siteKey,
      inGrace: rows.map((r) => ({ siteKey: r.siteKey, retiredAt: r.retiredAt?.toISOString() ?? null, validUntil: r.graceUntil!.toISOString() })),
    });
  });
}
