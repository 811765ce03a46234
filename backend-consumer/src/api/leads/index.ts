/**
 * The leads API (JWT, scoped like the admin API): list with filters and keyset pagination, one lead with its
 * timeline, owner edits (status override with a reason, notes, tags; each change recorded with who and when),
 * delete, and a streamed CSV/NDJSON export. A lead, location or site the caller may not see is a 404.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Context, Hono } from "hono";
import type { Db } from "mongodb";
import { z } from "zod";
import type { ConfigDb } from "../../config/db.ts";
import { sites } from "../../config/schema.ts";
import { COLLECTIONS } from "../../store/mongo.ts";
import type { LeadDocument } from "../../store/leads.ts";
import type { AuthEnv, Principal } from "../auth.ts";
import { MASK, writeAudit, type FieldChanges } from "../../audit/audit.ts";
import { leadReadAudit, type LeadReadAudit } from "../../audit/reads.ts";
import { auditBase } from "../admin/audited.ts";
import { readBody } from "../admin/body.ts";
import { NotFound, toValidationIssues, ValidationFailed } from "../admin/errors.ts";
import { exportLeads } from "./export.ts";
import { leadOut, type LeadOut } from "./out.ts";
import {
  afterCursor,
  encodeCursor,
  leadExportSchema,
  leadFilter,
  leadListSchema,
  leadSort,
  leadTimelineQuerySchema,
  OVERRIDE_STATUSES,
  queryHash,
  type LeadFilters,
} from "./query.ts";
import { leadTimeline } from "./timeline.ts";
import type { DestinationDirectory } from "../../crm/directory.ts";
import { enqueueDeletedLead, enqueueLeads } from "../../crm/outbox.ts";
import { takesLead } from "../../crm/policy.ts";
import { DELIVERY_STATUS, statusId, type DeliveryStatusDocument } from "../../crm/worker.ts";

export interface LeadSync {
  destinationId: string;
  kind: string;
  name: string;
  /** held: a lead this destination's policy does not take (yet); pending: not delivered in its current version. */
  status: "pending" | "delivered" | "failed" | "dead" | "held";
  externalId: string | null;
  error: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  deliveredVersion: number;
  version: number;
}

export const leadPatchSchema = z
  .strictObject({
    status: z.strictObject({
      value: z.enum(OVERRIDE_STATUSES),
      reason: z.string().trim().min(1).max(1000).describe("Why the owner changed it; kept in the lead's history."),
    }),
    notes: z.string().max(10_000).nullable(),
    tags: z.array(z.string().trim().min(1).max(64)).max(50).refine((t) => new Set(t).size === t.length, "Tags must be unique."),
    acceptConflicts: z.array(z.uuid()).min(1).max(100).describe("Conflicts to accept: their values replace the lead's."),
    dismissConflicts: z.array(z.uuid()).min(1).max(100).describe("Conflicts to drop: the lead keeps its values."),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, { message: "Send at least one field to change." });

/** Query parameters, validated: 400 naming each offending parameter. */
function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw ValidationFailed(toValidationIssues(parsed.error.issues));
  return parsed.data;
}

/** The caller's visible sites with their locations, narrowed by the location and site filters (404 for any not visible). */
async function scopedSites(configDb: ConfigDb, p: Principal, filters: Pick<LeadFilters, "locationId" | "siteId">): Promise<Map<string, string>> {
  const rows = p.siteIds.length
    ? await configDb.select({ id: sites.id, locationId: sites.locationId }).from(sites).where(and(eq(sites.tenantId, p.tenantId), inArray(sites.id, p.siteIds)))
    : [];
  let visible = new Map(rows.map((r) => [r.id, r.locationId]));
  if (filters.locationId) {
    for (const id of filters.locationId) if (!p.locationIds.includes(id)) throw NotFound("location");
    visible = new Map([...visible].filter(([, loc]) => filters.locationId!.includes(loc)));
  }
  if (filters.siteId) {
    for (const id of filters.siteId) if (!visible.has(id) && !p.siteIds.includes(id)) throw NotFound("site");
    visible = new Map([...visible].filter(([id]) => filters.siteId!.includes(id)));
  }
  return visible;
}

/**
 * The location an action on many leads is recorded under: the one location they can come from, else none (the
 * entry is then the tenant's: agency users see it).
 */
function soleLocation(visible: Map<string, string>): string | null {
  const locations = new Set(visible.values());
  return locations.size === 1 ? [...locations][0]! : null;
}

/**
 * Audit trail (audit/): edits, deletes, CRM replays and exports are MongoDB work, so each writes its entry first
 * (it records the request; if it cannot be written, nothing is done and the answer is an error), then acts. An
 * edit records which fields changed and status values only: notes, tags, a reason and accepted values are free
 * text or personal data, which an append-only trail could never erase. Reads are counted, not logged one by one
 * (audit/reads.ts).
 */
export function registerLeadRoutes(app: Hono<AuthEnv>, deps: { db: Db; configDb: ConfigDb; directory?: DestinationDirectory; reads?: LeadReadAudit }): void {
  const reads = deps.reads ?? leadReadAudit(deps.configDb);
  const leads = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  const statuses = deps.db.collection<DeliveryStatusDocument>(DELIVERY_STATUS);

  /** Where the lead stands with each of its site's destinations (CRM sync status). */
  async function syncOf(lead: LeadDocument): Promise<LeadSync[]> {
    const routing = await deps.directory?.forSite(lead.siteId);
    if (!routing?.destinations.length) return [];
    const known = new Map((await statuses.find({ _id: { $in: routing.destinations.map((d) => statusId(lead._id, d.id)) } }).toArray()).map((s) => [s.destinationId, s]));
    const version = (lead as { v?: number }).v ?? 1;
    return routing.destinations.map((d) => {
      const s = known.get(d.id);
      // not delivered yet, and not taken by the destination's policy in its present state (it goes when it qualifies)
      const held = !(s && s.done > 0) && !takesLead(lead, d.policy ?? { policy: "all", minQuality: "medium", sendPartial: d.sendPartial });
      return {
        destinationId: d.id,
        kind: d.kind,
        name: d.name,
        status: held ? "held" : !s ? "pending" : s.status === "delivered" && s.done < version ? "pending" : s.status,
        externalId: s?.externalId ?? null,
        error: s?.status === "delivered" ? null : (s?.lastError ?? null),
        attempts: s?.attempts ?? 0,
        nextAttemptAt: s?.nextAt ? s.nextAt.toISOString() : null,
        deliveredAt: s?.deliveredAt ? s.deliveredAt.toISOString() : null,
        deliveredVersion: s?.done ?? 0,
        version,
      };
    });
  }

  /** The lead if the caller may see its site, else 404. */
  async function findLead(p: Principal, id: string): Promise<{ lead: LeadDocument; locationId: string }> {
    const lead = await leads.findOne({ _id: id });
    if (!lead || !p.siteIds.includes(lead.siteId)) throw NotFound("lead");
    const visible = await scopedSites(deps.configDb, p, {});
    const locationId = visible.get(lead.siteId);
    if (!locationId) throw NotFound("lead");
    return { lead, locationId };
  }

  app.get("/leads", async (c) => {
    const p = c.get("principal");
    const query = readQuery(c, leadListSchema);
    const visible = await scopedSites(deps.configDb, p, query);
    const siteIds = [...visible.keys()];
    const hash = queryHash(query, siteIds);
    let filter = leadFilter(query, siteIds);
    if (query.cursor) {
      const after = afterCursor(query.cursor, hash, query);
      if (!after) throw ValidationFailed([{ path: "cursor", message: "This cursor belongs to another query (or is not a cursor)." }]);
      filter = { $and: [filter, after] };
    }
    const rows = await leads.find(filter).sort(leadSort(query)).limit(query.limit + 1).toArray();
    const page = rows.slice(0, query.limit);
    const items: LeadOut[] = page.map((l) => leadOut(l, visible.get(l.siteId)!, { full: false }));
    // one read per location whose leads the page shows (an empty page: a read of the scope it asked for)
    const byLocation = new Map<string | null, string[]>();
    for (const l of page) {
      const loc = visible.get(l.siteId) ?? null;
      byLocation.set(loc, [...(byLocation.get(loc) ?? []), l._id]);
    }
    if (byLocation.size === 0) byLocation.set(p.sessionLocationId ?? soleLocation(visible), []);
    for (const [loc, ids] of byLocation) reads.record(p, loc, ids, "list");
    return c.json({ items, nextCursor: rows.length > query.limit ? encodeCursor(hash, page.at(-1)!, query) : null });
  });

  // before /leads/:leadId, which would otherwise take "export" for an id
  app.get("/leads/export", async (c) => {
    const p = c.get("principal");
    const query = readQuery(c, leadExportSchema);
    const visible = await scopedSites(deps.configDb, p, query);
    // the filters, without the search text (a name or an email, often)
    const { q, ...filters } = query;
    const locationIds = [...new Set(visible.values())].sort();
    await writeAudit(deps.configDb, {
      ...auditBase(c),
      locationId: soleLocation(visible),
      action: "leads.export",
      targetType: "lead",
      meta: { filters: { ...filters, ...(q ? { q: MASK } : {}) }, locationIds: locationIds.slice(0, 100), sites: visible.size },
    });
    const cursor = leads.find(leadFilter(query, [...visible.keys()])).sort(leadSort(query)).batchSize(500);
    return exportLeads(c, cursor, visible, query.format);
  });

  app.get("/leads/:leadId", async (c) => {
    const p = c.get("principal");
    const { lead, locationId } = await findLead(p, c.req.param("leadId"));
    const timelineQuery = readQuery(c, leadTimelineQuerySchema);
    const timeline = await leadTimeline(deps.db, lead, timelineQuery);
    if (!timeline) throw ValidationFailed([{ path: "cursor", message: "This cursor belongs to another lead (or is not a cursor)." }]);
    reads.record(p, locationId, [lead._id], timelineQuery.cursor ? "timeline" : "detail");
    return c.json({ ...leadOut(lead, locationId, { full: true }), sync: await syncOf(lead), timeline });
  });

  // re-queues the lead for every destination, failed and dead-lettered deliveries included
  app.post("/leads/:leadId/sync", async (c) => {
    const { lead, locationId } = await findLead(c.get("principal"), c.req.param("leadId"));
    await writeAudit(deps.configDb, { ...auditBase(c), locationId, action: "lead.sync", targetType: "lead", targetId: lead._id, meta: { siteId: lead.siteId } });
    await statuses.updateMany({ leadId: lead._id, status: { $in: ["failed", "dead"] } }, { $set: { status: "pending", attempts: 0, nextAt: null, tried: 0, retryable: true } });
    await enqueueLeads(deps.db, [lead._id]);
    return c.json({ id: lead._id, queued: true, sync: await syncOf(lead) }, 202);
  });

  app.patch("/leads/:leadId", async (c) => {
    const p = c.get("principal");
    const { lead, locationId } = await findLead(p, c.req.param("leadId"));
    const body = await readBody(c, leadPatchSchema);
    const at = new Date();
    const changes: { field: string; from: unknown; to: unknown }[] = [];
    const set: Record<string, unknown> = { updatedAt: at };
    if (body.status) {
      const from = lead.statusOverride?.status ?? lead.status;
      set.statusOverride = { status: body.status.value, reason: body.status.reason, by: p.userId, at };
      changes.push({ field: "status", from, to: body.status.value });
    }
    if (body.notes !== undefined) {
      set.notes = body.notes;
      changes.push({ field: "notes", from: lead.notes ?? null, to: body.notes });
    }
    if (body.tags) {
      set.tags = body.tags;
      changes.push({ field: "tags", from: lead.tags ?? [], to: body.tags });
    }
    const settled = new Set([...(body.acceptConflicts ?? []), ...(body.dismissConflicts ?? [])]);
    for (const id of settled) if (!lead.conflicts?.some((k) => k.id === id)) throw ValidationFailed([{ path: "acceptConflicts", message: `No conflict ${id} on this lead.` }]);
    for (const conflict of lead.conflicts ?? []) {
      if (body.acceptConflicts?.includes(conflict.id)) {
        set[conflict.field] = conflict.value;
        changes.push({ field: conflict.field, from: conflict.current, to: conflict.value });
      }
    }
    if (settled.size) set.conflicts = (lead.conflicts ?? []).filter((k) => !settled.has(k.id));
    // the trail: field names, and values only for the status (a fixed vocabulary)
    const audited: FieldChanges = {};
    for (const ch of changes) audited[ch.field] = ch.field === "status" ? { before: ch.from ?? null, after: ch.to } : { before: MASK, after: MASK };
    await writeAudit(deps.configDb, {
      ...auditBase(c),
      locationId,
      action: "lead.update",
      targetType: "lead",
      targetId: lead._id,
      changes: audited,
      meta: { siteId: lead.siteId, ...(body.acceptConflicts?.length ? { acceptedConflicts: body.acceptConflicts.length } : {}), ...(body.dismissConflicts?.length ? { dismissedConflicts: body.dismissConflicts.length } : {}) },
    });
    const entry = { at, by: { userId: p.userId, email: p.email }, changes, ...(body.status ? { reason: body.status.reason } : {}) };
    // a new version: a drain merging into this lead meanwhile reads it again (store/versioned.ts)
    await leads.updateOne({ _id: lead._id }, { $set: set, $inc: { v: 1 }, $push: { history: { $each: [entry], $slice: -500 } } } as never);
    // accepted values are new contact data for the CRMs
    if (body.acceptConflicts?.length) await enqueueLeads(deps.db, [lead._id]);
    const updated = (await leads.findOne({ _id: lead._id }))!;
    return c.json(leadOut(updated, locationId, { full: true }));
  });

  app.delete("/leads/:leadId", async (c) => {
    const { lead, locationId } = await findLead(c.get("principal"), c.req.param("leadId"));
    await writeAudit(deps.configDb, { ...auditBase(c), locationId, action: "lead.delete", targetType: "lead", targetId: lead._id, meta: { siteId: lead.siteId, status: lead.statusOverride?.status ?? lead.status } });
    await leads.deleteOne({ _id: lead._id });
    await deps.db.collection(COLLECTIONS.leadKeys).deleteMany({ leadId: lead._id });
    // destinations that take deletions (the webhook) hear of it
    if (deps.directory) await enqueueDeletedLead(deps.db, lead);
    return c.json({ id: lead._id, deleted: true });
  });
}
