/**
 * The privacy API (JWT, scoped like the leads API: a location user acts on its locations' sites only, and a site or
 * location the caller cannot see is a 404):
 *
 *   POST   /privacy/erase                     { email | visitorId, locationId?, siteId? } → the receipt
 *   GET    /privacy/erase/:receiptId          the receipt as it stands
 *   GET    /privacy/export?email=|visitorId=   everything held about the person, streamed JSON
 *   GET    /privacy/suppressions              suppression entries (hashes only)
 *   DELETE /privacy/suppressions              { email | visitorId, locationId?, siteId? }: events make leads again
 *
 * Every erase, export and suppression removal is in the audit trail under the person's keyed hash, never the value.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Context, Hono } from "hono";
import type { Db } from "mongodb";
import { z } from "zod";
import { writeAudit } from "../audit/audit.ts";
import type { ConfigDb } from "../config/db.ts";
import { locations, sites } from "../config/schema.ts";
import { erasePerson, PRIVACY_REQUESTS, receiptOf, type EraseRequestDocument } from "../privacy/erase.ts";
import { exportPerson } from "../privacy/export.ts";
import { subjectHash, subjectOf, subjectQuerySchema } from "../privacy/subject.ts";
import { SUPPRESSIONS, suppressionId, type SuppressionDocument } from "../privacy/suppression.ts";
import { readBody } from "./admin/body.ts";
import { ApiError, NotFound, toValidationIssues, ValidationFailed } from "./admin/errors.ts";
import type { AuthEnv, Principal } from "./auth.ts";

export interface PrivacyDeps {
  db: Db;
  configDb: ConfigDb;
  /** PRIVACY_HASH_KEY; without it the routes answer 503 naming the variable. */
  key: Buffer | null;
  /** The erase's settle wait (twice the drain's suppression cache). */
  settleMs?: number;
  /** How long this backend holds an erase it runs. */
  leaseMs?: number;
}

const scopeFields = {
  locationId: z.uuid().optional().describe("Only this location's sites (default: every site the caller may see)."),
  siteId: z.uuid().optional().describe("Only this site."),
};
export const privacyScopeSchema = z.strictObject(scopeFields);
export const privacyPersonSchema = z.strictObject({
  email: z.string().max(320).optional().describe("The person's email (case and spaces do not matter)."),
  visitorId: z.string().max(128).optional().describe("Or the SDK's visitor id (lt_vid)."),
  ...scopeFields,
});
const personSchema = privacyPersonSchema;
const removedSchema = z.object({
  events: z.number(),
  sessions: z.number(),
  leads: z.number(),
  leadKeys: z.number(),
  deadLetters: z.number(),
  crmErasures: z.number().describe("Erasures queued to the CRMs (one per lead; every destination holding the contact gets it)."),
  suppressions: z.number(),
});
export const eraseReceiptSchema = z.object({
  receiptId: z.string(),
  state: z.enum(["running", "done"]),
  subject: z.string().describe("The person's keyed hash (never the email)."),
  sites: z.array(z.string()),
  removed: removedSchema,
  crm: z.enum(["queued", "none"]),
  suppressed: z.boolean(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export const suppressionOutSchema = z.object({ id: z.string(), siteId: z.string(), locationId: z.string(), subject: z.string(), receiptId: z.string(), at: z.string() });

interface ScopedSite {
  siteId: string;
  locationId: string;
  suppress: boolean;
}

/** The caller's sites (narrowed to a location or site, 404 when not visible), with their locations' suppression setting. */
async function scopedSites(configDb: ConfigDb, p: Principal, filters: { locationId?: string | undefined; siteId?: string | undefined }): Promise<ScopedSite[]> {
  if (filters.locationId && !p.locationIds.includes(filters.locationId)) throw NotFound("location");
  if (filters.siteId && !p.siteIds.includes(filters.siteId)) throw NotFound("site");
  if (p.siteIds.length === 0) return [];
  const rows = await configDb
    .select({ siteId: sites.id, locationId: sites.locationId, suppress: locations.suppressErased })
    .from(sites)
    .innerJoin(locations, eq(locations.id, sites.locationId))
    .where(and(eq(sites.tenantId, p.tenantId), inArray(sites.id, p.siteIds)));
  return rows.filter((r) => (!filters.locationId || r.locationId === filters.locationId) && (!filters.siteId || r.siteId === filters.siteId));
}

function person(input: Record<string, unknown>) {
  const parsed = subjectQuerySchema.safeParse({ email: input.email, visitorId: input.visitorId });
  if (!parsed.success) throw ValidationFailed(toValidationIssues(parsed.error.issues));
  return subjectOf(parsed.data);
}

const actorOf = (p: Principal) => ({ userId: p.userId, role: p.role });
const requestIdOf = (c: Context): string | null => c.res.headers.get("x-request-id") ?? c.req.header("cf-ray") ?? null;
/** The location an entry concerns: the one location every site belongs to, if there is one. */
const locationOf = (scope: ScopedSite[]): string | null => (new Set(scope.map((s) => s.locationId)).size === 1 ? scope[0]!.locationId : null);

export function registerPrivacyRoutes(app: Hono<AuthEnv>, deps: PrivacyDeps): void {
  const key = (): Buffer => {
    if (!deps.key) throw new ApiError(503, "privacy_not_configured", "Set PRIVACY_HASH_KEY to use the privacy API.");
    return deps.key;
  };

  app.post("/privacy/erase", async (c) => {
    const k = key();
    const p = c.get("principal");
    const body = await readBody(c, personSchema);
    const subject = person(body);
    const scope = await scopedSites(deps.configDb, p, body);
    const hash = subjectHash(k, subject);
    // the request is on record before anything is removed
    await writeAudit(deps.configDb, {
      tenantId: p.tenantId,
      locationId: locationOf(scope),
      actor: actorOf(p),
      action: "privacy.erase",
      targetType: "person",
      targetId: hash,
      meta: { sites: scope.map((s) => s.siteId) },
      requestId: requestIdOf(c),
    });
    const receipt = await erasePerson({ db: deps.db, key: k, ...(deps.settleMs !== undefined ? { settleMs: deps.settleMs } : {}), ...(deps.leaseMs !== undefined ? { leaseMs: deps.leaseMs } : {}) }, { tenantId: p.tenantId, subject, sites: scope, actor: actorOf(p) });
    if (receipt.state === "done") {
      await writeAudit(deps.configDb, {
        tenantId: p.tenantId,
        locationId: locationOf(scope),
        actor: actorOf(p),
        action: "privacy.erase.done",
        targetType: "person",
        targetId: hash,
        meta: { receiptId: receipt.receiptId, removed: receipt.removed },
        requestId: requestIdOf(c),
      });
    }
    return c.json(receipt, receipt.state === "done" ? 200 : 202);
  });

  app.get("/privacy/erase/:receiptId", async (c) => {
    const p = c.get("principal");
    const request = await deps.db.collection<EraseRequestDocument>(PRIVACY_REQUESTS).findOne({ _id: c.req.param("receiptId"), tenantId: p.tenantId });
    // a receipt is the caller's to see when every site it covers is
    if (!request || !request.sites.every((s) => p.siteIds.includes(s.siteId))) throw NotFound("receipt");
    return c.json(receiptOf(request));
  });

  app.get("/privacy/export", async (c) => {
    const k = key();
    const p = c.get("principal");
    const query = personSchema.safeParse(c.req.query());
    if (!query.success) throw ValidationFailed(toValidationIssues(query.error.issues));
    const subject = person(query.data);
    const scope = await scopedSites(deps.configDb, p, query.data);
    const hash = subjectHash(k, subject);
    await writeAudit(deps.configDb, {
      tenantId: p.tenantId,
      locationId: locationOf(scope),
      actor: actorOf(p),
      action: "privacy.export",
      targetType: "person",
      targetId: hash,
      meta: { sites: scope.map((s) => s.siteId) },
      requestId: requestIdOf(c),
    });
    const stream = await exportPerson(deps.db, subject, hash, scope.map((s) => s.siteId));
    return c.body(stream, 200, { "content-type": "application/json; charset=utf-8", "content-disposition": 'attachment; filename="person.json"', "cache-control": "no-store" });
  });

  app.get("/privacy/suppressions", async (c) => {
    const p = c.get("principal");
    const query = privacyScopeSchema.safeParse(c.req.query());
    if (!query.success) throw ValidationFailed(toValidationIssues(query.error.issues));
    const scope = await scopedSites(deps.configDb, p, query.data);
    const docs = await deps.db
      .collection<SuppressionDocument>(SUPPRESSIONS)
      .find({ siteId: { $in: scope.map((s) => s.siteId) } })
      .sort({ at: -1 })
      .limit(500)
      .toArray();
    return c.json({ items: docs.map((d) => ({ id: d._id, siteId: d.siteId, locationId: d.locationId, subject: d.hash, receiptId: d.receiptId, at: d.at.toISOString() })) });
  });

  app.delete("/privacy/suppressions", async (c) => {
    const k = key();
    const p = c.get("principal");
    const body = await readBody(c, personSchema);
    const subject = person(body);
    const scope = await scopedSites(deps.configDb, p, body);
    const hash = subjectHash(k, subject);
    await writeAudit(deps.configDb, {
      tenantId: p.tenantId,
      locationId: locationOf(scope),
      actor: actorOf(p),
      action: "privacy.unsuppress",
      targetType: "person",
      targetId: hash,
      meta: { sites: scope.map((s) => s.siteId) },
      requestId: requestIdOf(c),
    });
    const res = await deps.db.collection<SuppressionDocument>(SUPPRESSIONS).deleteMany({ _id: { $in: scope.map((s) => suppressionId(s.siteId, hash)) } });
    return c.json({ subject: hash, removed: res.deletedCount });
  });
}
