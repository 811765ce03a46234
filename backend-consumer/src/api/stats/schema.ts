/**
 * The stats query, modelled on Plausible's Stats API v2: one JSON body names the metrics, the dimensions, the
 * filters, the date range, the order and the page. Every metric and dimension is defined here and in the README
 * ("Statistics"); an unknown one, or one that cannot be answered with the others asked, is a 400 naming the field.
 */
import { z } from "zod";

/** Where each metric is read from: event rollups (`e`), finished-visit rollups (`v`), or the leads collection. */
export const METRICS = {
  visitors: { from: ["e", "v"], doc: "Distinct visitors (HyperLogLog, ±3.25 % standard error; near exact below a few hundred)." },
  visits: { from: ["v"], doc: "Sessions that started in the period and have ended (30 minutes without an event)." },
  pageviews: { from: ["e", "v"], doc: "page_view events (by visit dimensions: the page views of those visits)." },
  views_per_visit: { from: ["v"], doc: "Page views of the visits ÷ visits." },
  bounce_rate: { from: ["v"], doc: "Visits with at most one page view ÷ visits, in %." },
  visit_duration: { from: ["v"], doc: "Mean time from a visit's first event to its last, in seconds (capped at 4 h)." },
  time_on_page: { from: ["e"], doc: "Visible time reported by the SDK's engagement events ÷ page views, in seconds." },
  leads: { from: ["leads"], doc: "Leads created in the period (any status; one per site and email within the dedupe window)." },
  partial_leads: { from: ["leads"], doc: "Leads created in the period that have an email but no submission yet." },
  form_submissions: { from: ["e", "v"], doc: "form_submission events (by visit dimensions: the submissions of those visits)." },
  form_interactions: { from: ["e"], doc: "form_interaction events: an email typed into a form (a partial lead), reported again as the visitor goes on." },
  form_views: { from: ["e"], doc: "By event:form only: page views of the pages the form was used on (interacted with or submitted) in the period." },
  conversion_rate: { from: ["v"], doc: "Visits with at least one form submission ÷ visits, in %." },
} as const;
export type Metric = keyof typeof METRICS;

/** Non-time dimensions: the rollup they live in, and the lead field that answers leads metrics for them (if any). */
export const DIMENSIONS = {
  "event:page": { kind: "e", dim: "page", leads: null, doc: "The page's path." },
  "event:form": { kind: "e", dim: "form", leads: "form", doc: "The form's id." },
  "visit:entry_page": { kind: "v", dim: "entry_page", leads: "entry_page", doc: "Path of the visit's first page." },
  "visit:source": { kind: "v", dim: "source", leads: "source", doc: "utm_source, else the referrer's host (no www.), else Direct / None." },
  "visit:referrer": { kind: "v", dim: "referrer", leads: "referrer", doc: "The referrer's host." },
  "visit:utm_source": { kind: "v", dim: "utm_source", leads: "utm_source", doc: "utm_source of the visit's landing page." },
  "visit:utm_medium": { kind: "v", dim: "utm_medium", leads: "utm_medium", doc: "utm_medium." },
  "visit:utm_campaign": { kind: "v", dim: "utm_campaign", leads: "utm_campaign", doc: "utm_campaign." },
  "visit:country": { kind: "v", dim: "country", leads: null, doc: "ISO country code from the edge's geo lookup." },
  "visit:device": { kind: "v", dim: "device", leads: null, doc: "desktop, mobile or tablet (from the user agent)." },
  "visit:browser": { kind: "v", dim: "browser", leads: null, doc: "Browser name (from the user agent)." },
} as const;
export type Dimension = keyof typeof DIMENSIONS;
export const TIME_DIMENSIONS = ["time:day", "time:week", "time:month"] as const;
export type TimeDimension = (typeof TIME_DIMENSIONS)[number];

export const DATE_RANGES = ["day", "7d", "30d", "month", "6mo", "12mo"] as const;
export const MAX_LIMIT = 1000;
const isoDate = z.iso.date();

export const statsQuerySchema = z.strictObject({
  scope: z
    .union([z.literal("all"), z.strictObject({ locationIds: z.array(z.string().min(1).max(36)).min(1).max(500) }), z.strictObject({ siteIds: z.array(z.string().min(1).max(36)).min(1).max(500) })])
    .default("all")
    .describe('"all" (everything the caller may see), { locationIds } or { siteIds }.'),
  metrics: z.array(z.enum(Object.keys(METRICS) as [Metric, ...Metric[]])).min(1).max(13),
  dimensions: z
    .array(z.enum([...TIME_DIMENSIONS, ...(Object.keys(DIMENSIONS) as Dimension[])]))
    .max(2)
    .default([])
    .describe("At most one time dimension and one other."),
  date_range: z.union([z.enum(DATE_RANGES), z.tuple([isoDate, isoDate])]).describe('A shortcut, or ["YYYY-MM-DD", "YYYY-MM-DD"] (both days included).'),
  filters: z
    .array(z.tuple([z.enum(["is", "is_not", "contains"]), z.enum(Object.keys(DIMENSIONS) as [Dimension, ...Dimension[]]), z.array(z.string().max(512)).min(1).max(50)]))
    .max(5)
    .default([]),
  order_by: z.array(z.tuple([z.string(), z.enum(["asc", "desc"])])).max(3).optional(),
  pagination: z.strictObject({ limit: z.number().int().min(1).max(MAX_LIMIT).default(100), offset: z.number().int().min(0).max(100_000).default(0) }).default({ limit: 100, offset: 0 }),
  timezone: z.string().max(64).optional().describe("Time zone of the date range's shortcuts; default: the scope's (UTC when its sites differ)."),
});
export type StatsQuery = z.output<typeof statsQuerySchema>;

/** A stats query error: 400 with the offending field named. */
export class QueryError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** What a valid query asks for, checked against the rules that cross fields. */
export interface Plan {
  time?: TimeDimension;
  /** The one non-time dimension the query breaks down by or filters on. */
  dimension?: Dimension;
  /** True when rows are broken down by `dimension` (false: it only filters). */
  breakdown: boolean;
  from: string;
  to: string;
}

const pad = (n: number) => String(n).padStart(2, "0");
const dayOf = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;

/** Local "today" in `tz` as a UTC-midnight Date, for calendar arithmetic. */
function todayIn(tz: string, now: Date): Date {
  const [y, m, d] = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(now).split("-").map(Number);
  return new Date(Date.UTC(y!, m! - 1, d!));
}

/** The first and last local day of a date range. */
export function resolveRange(range: StatsQuery["date_range"], tz: string, now = new Date()): { from: string; to: string } {
  if (Array.isArray(range)) {
    if (range[0] > range[1]) throw new QueryError("date_range", "The range ends before it starts.");
    const days = (Date.parse(range[1]) - Date.parse(range[0])) / 86_400_000;
    if (days > 800) throw new QueryError("date_range", "At most 800 days at once.");
    return { from: range[0], to: range[1] };
  }
  const today = todayIn(tz, now);
  const back = (days: number) => dayOf(new Date(today.getTime() - days * 86_400_000));
  const monthsBack = (months: number) => dayOf(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - months + 1, 1)));
  switch (range) {
    case "day":
      return { from: dayOf(today), to: dayOf(today) };
    case "7d":
      return { from: back(6), to: dayOf(today) };
    case "30d":
      return { from: back(29), to: dayOf(today) };
    case "month":
      return { from: monthsBack(1), to: dayOf(today) };
    case "6mo":
      return { from: monthsBack(6), to: dayOf(today) };
    case "12mo":
      return { from: monthsBack(12), to: dayOf(today) };
  }
}

/** Checks what one field cannot: dimensions and filters on one rollup dimension, metrics that can answer it. */
export function planQuery(q: StatsQuery, tz: string, now = new Date()): Plan {
  const time = q.dimensions.find((d): d is TimeDimension => (TIME_DIMENSIONS as readonly string[]).includes(d));
  const others = q.dimensions.filter((d): d is Dimension => d in DIMENSIONS);
  if (q.dimensions.filter((d) => (TIME_DIMENSIONS as readonly string[]).includes(d)).length > 1) throw new QueryError("dimensions", "At most one time dimension.");
  const filtered = [...new Set(q.filters.map((f) => f[1]))];
  const dims = [...new Set([...others, ...filtered])];
  if (dims.length > 1) {
    throw new QueryError(q.filters.length ? "filters" : "dimensions", `Statistics are kept per single dimension: ${dims.join(" and ")} cannot be combined (filter on the dimension you break down by).`);
  }
  const dimension = dims[0];
  for (const [i, metric] of q.metrics.entries()) {
    if (metric === "form_views" && dimension !== "event:form") throw new QueryError(`metrics.${i}`, "form_views is available by event:form only.");
    if (!dimension) continue;
    const def = DIMENSIONS[dimension];
    const sources: readonly string[] = METRICS[metric].from;
    const ok = sources.includes(def.kind) || (sources.includes("leads") && def.leads !== null);
    if (!ok) throw new QueryError(`metrics.${i}`, `${metric} is not available by ${dimension}.`);
  }
  const orderable = new Set<string>([...q.metrics, ...q.dimensions]);
  for (const [i, [field]] of (q.order_by ?? []).entries()) {
    if (!orderable.has(field)) throw new QueryError(`order_by.${i}`, `Order by a metric or dimension of the query, not ${field}.`);
  }
  return { ...(time ? { time } : {}), ...(dimension ? { dimension } : {}), breakdown: others.length > 0, ...resolveRange(q.date_range, tz, now) };
}
