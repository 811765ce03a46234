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
import { auditBase } from "./admin/audited.ts";
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

/** The location an entry concerns: the one location every site belongs to, if there is one. */
const locationOf = (scope: ScopedSite[]): string | null => (new Set(scope.map((s) => s.locationId)).size === 1 ? scope[0]!.locationId : null);

export function registerPrivacyRoutes(app: Hono<AuthEnv>, deps: PrivacyDeps): void {
  const key = (): Buffer => {
    if (!deps.key) throw new ApiError(503, "privacy_not_configured", "Set PRIVACY_HASH_KEY to use the privacy API.");
    return deps.key;
  };
  /** The person a request names, the caller's sites it covers, and the person's keyed hash. */
  const personIn = async (c: Context<AuthEnv>, input: z.output<typeof personSchema>) => {
    const k = key();
    const subject = person(input);
    const scope = await scopedSites(deps.configDb, c.get("principal"), input);
    return { k, subject, scope, hash: subjectHash(k, subject) };
  };
  /** An audit entry about the person, under their hash. */
  const auditPerson = (c: Context<AuthEnv>, scope: ScopedSite[], action: string, hash: string, meta: Record<string, unknown> = { sites: scope.map((s) => s.siteId) }) =>
    writeAudit(deps.configDb, { ...auditBase(c), locationId: locationOf(scope), action, targetType: "person", targetId: hash, meta });

  app.post("/privacy/erase", async (c) => {
    key();
    const p = c.get("principal");
    const { k, subject, scope, hash } = await personIn(c, await readBody(c, personSchema));
    // the request is on record before anything is removed
    await auditPerson(c, scope, "privacy.erase", hash);
    const receipt = await erasePerson({ db: deps.db, key: k, ...(deps.settleMs !== undefined ? { settleMs: deps.settleMs } : {}), ...(deps.leaseMs !== undefined ? { leaseMs: deps.leaseMs } : {}) }, { tenantId: p.tenantId, subject, sites: scope, actor: auditBase(c).actor });
    if (receipt.state === "done") {
      await auditPerson(c, scope, "privacy.erase.done", hash, { receiptId: receipt.receiptId, removed: receipt.removed });
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
    key(); // a 503 naming the variable comes before any 400
    const query = personSchema.safeParse(c.req.query());
    if (!query.success) throw ValidationFailed(toValidationIssues(query.error.issues));
    const { subject, scope, hash } = await personIn(c, query.data);
    await auditPerson(c, scope, "privacy.export", hash);
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
    key();
    const { scope, hash } = await personIn(c, await readBody(c, personSchema));
    await auditPerson(c, scope, "privacy.unsuppress", hash);
    const res = await deps.db.collection<SuppressionDocument>(SUPPRESSIONS).deleteMany({ _id: { $in: scope.map((s) => suppressionId(s.siteId, hash)) } });
    return c.json({ subject: hash, removed: res.deletedCount });
  });
}
