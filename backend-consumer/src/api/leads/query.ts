/**
 * The leads list's query: filters, sort and an opaque cursor, parsed from the URL and turned into one MongoDB
 * filter. Pagination is keyset on (sort value, _id), so inserts while a client pages never shift or repeat a row;
 * the cursor carries a hash of the query it belongs to, and a cursor from another query is refused.
 */
import { createHash } from "node:crypto";
import type { Filter, Sort } from "mongodb";
import { z } from "zod";
import type { LeadDocument } from "../../store/leads.ts";

export const LEAD_STATUSES = ["identified", "partial", "submitted", "contacted", "qualified", "unqualified", "converted", "spam"] as const;
export const OVERRIDE_STATUSES = LEAD_STATUSES;
export const LEAD_QUALITIES = ["low", "medium", "high"] as const;
export const SORT_FIELDS = { created: "createdAt", updated: "updatedAt", last_interaction: "lastInteractionAt" } as const;
export const MAX_LIMIT = 200;

const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .string()
    .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item).min(1).max(100));
const date = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

/** The filters the list and the export share (query parameters; lists are comma-separated). */
export const leadFiltersSchema = z.strictObject({
  locationId: list(z.string().min(1).max(36)).optional(),
  siteId: list(z.string().min(1).max(36)).optional(),
  status: list(z.enum(LEAD_STATUSES)).optional(),
  quality: list(z.enum(LEAD_QUALITIES)).optional(),
  createdFrom: date.optional(),
  createdTo: date.optional(),
  updatedFrom: date.optional(),
  updatedTo: date.optional(),
  q: z.string().trim().min(1).max(200).optional().describe("Text search on email, first and last name (contains, case-insensitive)."),
  utmSource: z.string().max(512).optional(),
  utmMedium: z.string().max(512).optional(),
  utmCampaign: z.string().max(512).optional(),
  formId: z.string().min(1).max(256).optional(),
});

export const leadListSchema = leadFiltersSchema.extend({
  sort: z.enum(Object.keys(SORT_FIELDS) as [keyof typeof SORT_FIELDS]).default("created"),
  order: z.enum(["desc", "asc"]).default("desc"),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(50),
  cursor: z.string().max(512).optional(),
});

export const leadExportSchema = leadFiltersSchema.extend({
  format: z.enum(["csv", "ndjson"]).default("csv"),
  sort: leadListSchema.shape.sort,
  order: leadListSchema.shape.order,
});

/** A lead's timeline page. */
export const leadTimelineQuerySchema = z.strictObject({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export type LeadFilters = z.output<typeof leadFiltersSchema>;
export type LeadListQuery = z.output<typeof leadListSchema>;

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The MongoDB filter for `filters` within `siteIds` (already narrowed to what the caller may see). */
export function leadFilter(filters: LeadFilters, siteIds: string[]): Filter<LeadDocument> {
  const and: Filter<LeadDocument>[] = [{ siteId: { $in: siteIds } }];
  if (filters.status) {
    // the owner's override wins over the captured status
    and.push({
      $or: [
        { "statusOverride.status": { $in: filters.status } },
        { statusOverride: { $exists: false }, status: { $in: filters.status as LeadDocument["status"][] } },
      ],
    } as Filter<LeadDocument>);
  }
  if (filters.quality) and.push({ quality: { $in: filters.quality } });
  const range = (field: "createdAt" | "updatedAt", from?: Date, to?: Date) => {
    if (from || to) and.push({ [field]: { ...(from ? { $gte: from } : {}), ...(to ? { $lt: to } : {}) } } as Filter<LeadDocument>);
  };
  range("createdAt", filters.createdFrom, filters.createdTo);
  range("updatedAt", filters.updatedFrom, filters.updatedTo);
  if (filters.q) {
    const re = new RegExp(escapeRegex(filters.q), "i");
    and.push({ $or: [{ email: re }, { firstName: re }, { lastName: re }] } as Filter<LeadDocument>);
  }
  if (filters.utmSource) and.push({ "utm.source": filters.utmSource } as Filter<LeadDocument>);
  if (filters.utmMedium) and.push({ "utm.medium": filters.utmMedium } as Filter<LeadDocument>);
  if (filters.utmCampaign) and.push({ "utm.campaign": filters.utmCampaign } as Filter<LeadDocument>);
  if (filters.formId) and.push({ formIds: filters.formId });
  return and.length === 1 ? and[0]! : { $and: and };
}

export function leadSort(query: Pick<LeadListQuery, "sort" | "order">): Sort {
  const dir = query.order === "asc" ? 1 : -1;
  return { [SORT_FIELDS[query.sort]]: dir, _id: dir };
}

interface CursorBody {
  /** Hash of the query the cursor belongs to. */
  h: string;
  /** Sort value of the last row (epoch ms) and its id. */
  v: number;
  i: string;
}

/** A fingerprint of everything that decides the result set and its order (not the limit, not the cursor). */
export function queryHash(query: LeadListQuery, siteIds: string[]): string {
  const { cursor: _c, limit: _l, ...rest } = query;
  return createHash("sha256").update(JSON.stringify([rest, [...siteIds].sort()])).digest("base64url").slice(0, 16);
}

export function encodeCursor(hash: string, last: LeadDocument, query: LeadListQuery): string {
  const value = last[SORT_FIELDS[query.sort]] as Date | undefined;
  const body: CursorBody = { h: hash, v: value ? value.getTime() : 0, i: last._id };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/** The keyset condition after the cursor, or null when the cursor is not one of this query's. */
export function afterCursor(cursor: string, hash: string, query: LeadListQuery): Filter<LeadDocument> | null {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as CursorBody;
  } catch {
    return null;
  }
  if (body?.h !== hash || typeof body.v !== "number" || typeof body.i !== "string") return null;
  const field = SORT_FIELDS[query.sort];
  const op = query.order === "asc" ? "$gt" : "$lt";
  const at = new Date(body.v);
  return { $or: [{ [field]: { [op]: at } }, { [field]: at, _id: { [op]: body.i } }] } as Filter<LeadDocument>;
}
