/**
 * Answers a planned stats query from the rollups (never from raw events): the rollup documents of the scope's
 * sites, the range's days and the dimension are read by `_id` (see findRollups) and folded here, summing counters
 * and taking the maximum of each visitor-sketch register; leads metrics come from the leads collection. Weeks and
 * months are folded from days. Plain finds on `_id`: the embedded server answers as MongoDB does, and as fast.
 */
import type { Db } from "mongodb";
import { HLL_REGISTERS, estimate } from "../../rollups/hll.ts";
import { DIRECT, localDay, pagePath, referrerHost, visitSource } from "../../rollups/keys.ts";
import type { RollupDocument } from "../../rollups/store.ts";
import type { LeadDocument } from "../../store/leads.ts";
import { COLLECTIONS } from "../../store/mongo.ts";
import { DIMENSIONS, METRICS, type Metric, type Plan, type StatsQuery } from "./schema.ts";

type Counters = Record<string, number>;
interface Row {
  time?: string;
  value?: string;
  e: Counters;
  v: Counters;
  leads: number;
  partial: number;
  /** Merged sketch of the source visitors are read from. */
  h?: number[];
}

export interface StatsResult {
  results: { dimensions: string[]; metrics: (number | null)[] }[];
  meta: { metrics: Metric[]; dimensions: string[]; date_range: [string, string]; timezone: string; total_rows: number; visitors_standard_error: number };
}

/** Week rows are labelled by their Monday, month rows by their first day. */
export function bucketOf(day: string, time: Plan["time"]): string {
  if (time === "time:month") return `${day.slice(0, 7)}-01`;
  if (time === "time:week") {
    const d = new Date(`${day}T00:00:00Z`);
    const monday = new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * 86_400_000);
    return monday.toISOString().slice(0, 10);
  }
  return day;
}

/** Every bucket label of the range, in order (for charts: empty periods are rows of zeros). */
function allBuckets(from: string, to: string, time: Plan["time"]): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const b = bucketOf(new Date(t).toISOString().slice(0, 10), time);
    if (out.at(-1) !== b) out.push(b);
  }
  return out;
}

const COUNTERS = { e: ["pv", "eng", "sub", "int"], v: ["visits", "bounces", "dur", "pv", "conv", "sub"] } as const;

/**
 * Views of each form (`fv` on the form rows): the page views, in each period, of the pages the form was used on
 * (interacted with or submitted) anywhere in the range, per site. Read from the (form, page) and page rollups.
 */
async function addFormViews(db: Db, siteIds: string[], q: StatsQuery, plan: Plan, rows: Map<string, Row>): Promise<void> {
  const days = daysOf(plan.from, plan.to);
  const [pairs, pages] = await Promise.all([findRollups(db, "e", siteIds, days, "form_page", false), findRollups(db, "e", siteIds, days, "page", false)]);
  const pagesOfForm = new Map<string, Set<string>>(); // form → "site|page"
  for (const d of pairs) {
    const [form, page] = JSON.parse(d.value) as [string, string];
    if (!passesFilters(form, q)) continue;
    let set = pagesOfForm.get(form);
    if (!set) pagesOfForm.set(form, (set = new Set()));
    set.add(`${d.siteId}|${page}`);
  }
  const views = new Map<string, number>(); // "bucket|site|page" → page views
  for (const d of pages) {
    const key = `${plan.time ? bucketOf(d.day, plan.time) : ""}|${d.siteId}|${d.value}`;
    views.set(key, (views.get(key) ?? 0) + Number(d.c?.pv ?? 0));
  }
  const buckets = plan.time ? [...new Set(days.map((d) => bucketOf(d, plan.time)))] : [""];
  for (const [form, sitePages] of pagesOfForm) {
    for (const bucket of buckets) {
      let n = 0;
      for (const sp of sitePages) n += views.get(`${bucket}|${sp}`) ?? 0;
      const value = plan.breakdown ? form : undefined;
      const key = JSON.stringify([plan.time ? bucket : null, value ?? null]);
      let row = rows.get(key);
      if (!row) {
        if (n === 0) continue;
        rows.set(key, (row = { ...(plan.time ? { time: bucket } : {}), ...(value !== undefined ? { value } : {}), e: {}, v: {}, leads: 0, partial: 0 }));
      }
      row.e.fv = (row.e.fv ?? 0) + n;
    }
  }
}

/** Which rollup kinds the metrics need, and which one visitors come from. */
function sources(q: StatsQuery, plan: Plan): { kinds: Set<"e" | "v">; visitorsFrom?: "e" | "v"; leads: boolean } {
  const dimKind = plan.dimension ? DIMENSIONS[plan.dimension].kind : undefined;
  const kinds = new Set<"e" | "v">();
  let visitorsFrom: "e" | "v" | undefined;
  let leads = false;
  for (const m of q.metrics) {
    const from: readonly string[] = METRICS[m].from;
    if (from.includes("leads")) {
      leads = true;
      continue;
    }
    // with a dimension, the dimension's kind; without one, each metric's first source
    const kind = (dimKind && from.includes(dimKind) ? dimKind : from[0]) as "e" | "v";
    kinds.add(kind);
    if (m === "visitors") visitorsFrom = kind;
  }
  return { kinds, visitorsFrom, leads };
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Every local day of the range, in order. */
function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/**
 * The rollup documents of a kind, sites, days and dimension, found by `_id` only: the site totals by their exact
 * ids, dimension values by an anchored pattern on the id. The test server uses an index for nothing else (see
 * store/versioned.ts), and MongoDB walks the `_id` index for both.
 */
async function findRollups(db: Db, kind: "e" | "v", siteIds: string[], days: string[], dim: string, withSketch: boolean): Promise<RollupDocument[]> {
  const rollups = db.collection<RollupDocument>(COLLECTIONS.rollups);
  const projection = { siteId: 1, day: 1, value: 1, c: 1, ...(withSketch ? { h: 1 } : {}) };
  if (dim === "") {
    const ids = siteIds.flatMap((site) => days.map((day) => `${kind}|${site}|${day}||`));
    return rollups.find({ _id: { $in: ids } }, { projection }).toArray() as Promise<RollupDocument[]>;
  }
  const pattern = new RegExp(`^${kind}\\|(${siteIds.map(escapeRegex).join("|")})\\|(${days.join("|")})\\|${escapeRegex(dim)}\\|`);
  return rollups.find({ _id: pattern }, { projection }).toArray() as Promise<RollupDocument[]>;
}

async function fromRollups(db: Db, kind: "e" | "v", siteIds: string[], q: StatsQuery, plan: Plan, withSketch: boolean): Promise<Map<string, Row>> {
  const dim = plan.dimension && DIMENSIONS[plan.dimension].kind === kind ? DIMENSIONS[plan.dimension].dim : "";
  const byValue = dim !== "" && plan.breakdown;
  const docs = await findRollups(db, kind, siteIds, daysOf(plan.from, plan.to), dim, withSketch);
  const rows = new Map<string, Row>();
  for (const d of docs) {
    if (dim && !passesFilters(d.value, q)) continue;
    const time = plan.time ? bucketOf(d.day, plan.time) : undefined;
    const key = JSON.stringify([time ?? null, byValue ? d.value : null]);
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { ...(time ? { time } : {}), ...(byValue ? { value: d.value } : {}), e: {}, v: {}, leads: 0, partial: 0 }));
    for (const c of COUNTERS[kind]) row[kind][c] = (row[kind][c] ?? 0) + Number(d.c?.[c] ?? 0);
    if (withSketch) {
      row.h ??= new Array<number>(HLL_REGISTERS).fill(0);
      for (const [i, r] of Object.entries(d.h ?? {})) if (r > row.h[Number(i)]!) row.h[Number(i)] = r;
    }
  }
  return rows;
}

/** The value a lead has for a leads-capable dimension. */
function leadValue(l: LeadDocument, dimension: keyof typeof DIMENSIONS): string[] {
  switch (DIMENSIONS[dimension].leads) {
    case "form":
      return l.formIds ?? [];
    case "entry_page":
      return l.landingPage ? [pagePath(l.landingPage)] : [];
    case "source":
      return [visitSource(l.utm?.source, l.referrer)];
    case "referrer":
      return referrerHost(l.referrer) ? [referrerHost(l.referrer)] : [];
    case "utm_source":
      return l.utm?.source ? [l.utm.source] : [];
    case "utm_medium":
      return l.utm?.medium ? [l.utm.medium] : [];
    case "utm_campaign":
      return l.utm?.campaign ? [l.utm.campaign] : [];
    default:
      return [];
  }
}

function passesFilters(value: string, q: StatsQuery): boolean {
  return q.filters.every(([op, , values]) =>
    op === "is" ? values.includes(value) : op === "is_not" ? !values.includes(value) : values.some((v) => value.toLowerCase().includes(v.toLowerCase())),
  );
}

/** Leads created in the range (each site's own local days), bucketed like the rollups. Leads are few: read them. */
async function fromLeads(db: Db, timezones: Map<string, string>, q: StatsQuery, plan: Plan, rows: Map<string, Row>): Promise<void> {
  const from = new Date(Date.parse(`${plan.from}T00:00:00Z`) - 15 * 3_600_000);
  const to = new Date(Date.parse(`${plan.to}T00:00:00Z`) + 39 * 3_600_000);
  const leads = await db
    .collection<LeadDocument>(COLLECTIONS.leads)
    .find({ siteId: { $in: [...timezones.keys()] }, createdAt: { $gte: from, $lt: to } }, { projection: { siteId: 1, createdAt: 1, status: 1, formIds: 1, utm: 1, referrer: 1, landingPage: 1 } })
    .toArray();
  for (const l of leads) {
    const day = localDay(l.createdAt, timezones.get(l.siteId));
    if (day < plan.from || day > plan.to) continue;
    const matching = plan.dimension ? leadValue(l, plan.dimension).filter((v) => passesFilters(v, q)) : [undefined];
    // filtered only: a lead counts once if any of its values passes
    const values = plan.breakdown ? matching : matching.length ? [undefined] : [];
    for (const value of values) {
      const time = plan.time ? bucketOf(day, plan.time) : undefined;
      const key = JSON.stringify([time ?? null, value ?? null]);
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { ...(time ? { time } : {}), ...(value !== undefined ? { value } : {}), e: {}, v: {}, leads: 0, partial: 0 }));
      row.leads++;
      if (l.status === "partial") row.partial++;
    }
  }
}

const ratio = (a: number | undefined, b: number | undefined, scale = 1, digits = 1): number | null =>
  b ? Math.round(((a ?? 0) / b) * scale * 10 ** digits) / 10 ** digits : null;

function metricValue(m: Metric, row: Row, dimKind: "e" | "v" | undefined): number | null {
  const e = row.e;
  const v = row.v;
  const visitKind = dimKind === "v";
  switch (m) {
    case "visitors":
      return row.h ? estimate(row.h.map((r, i) => [i, r] as [number, number]).filter(([, r]) => r > 0)) : 0;
    case "visits":
      return v.visits ?? 0;
    case "pageviews":
      return (visitKind ? v.pv : e.pv) ?? 0;
    case "views_per_visit":
      return ratio(v.pv, v.visits, 1, 2);
    case "bounce_rate":
      return ratio(v.bounces, v.visits, 100);
    case "visit_duration":
      return ratio(v.dur, v.visits, 1 / 1000, 0);
    case "time_on_page":
      return ratio(e.eng, e.pv, 1 / 1000);
    case "leads":
      return row.leads;
    case "partial_leads":
      return row.partial;
    case "form_submissions":
      return (visitKind ? v.sub : e.sub) ?? 0;
    case "form_interactions":
      return e.int ?? 0;
    case "form_views":
      return e.fv ?? 0;
    case "conversion_rate":
      return ratio(v.conv, v.visits, 100);
  }
}

export async function runStatsQuery(db: Db, q: StatsQuery, plan: Plan, timezones: Map<string, string>, timezone: string): Promise<StatsResult> {
  const siteIds = [...timezones.keys()];
  const { kinds, visitorsFrom, leads } = sources(q, plan);
  const rows = new Map<string, Row>();
  const merge = (from: Map<string, Row>) => {
    for (const [key, row] of from) {
      const into = rows.get(key);
      if (!into) rows.set(key, row);
      else {
        Object.assign(into.e, row.e);
        Object.assign(into.v, row.v);
        if (row.h) into.h = row.h;
      }
    }
  };
  if (siteIds.length) {
    const fetched = await Promise.all([...kinds].map((k) => fromRollups(db, k, siteIds, q, plan, k === visitorsFrom)));
    for (const f of fetched) merge(f);
    if (leads) await fromLeads(db, timezones, q, plan, rows);
    if (q.metrics.includes("form_views")) await addFormViews(db, siteIds, q, plan, rows);
  }
  // a time series has a row for every period of the range, data or not (what a chart needs)
  if (plan.time && !plan.breakdown) {
    for (const b of allBuckets(plan.from, plan.to, plan.time)) {
      const key = JSON.stringify([b, null]);
      if (!rows.has(key)) rows.set(key, { time: b, e: {}, v: {}, leads: 0, partial: 0 });
    }
  }
  const dimKind = plan.dimension ? DIMENSIONS[plan.dimension].kind : undefined;
  let results = [...rows.values()]
    .filter((r) => !plan.breakdown || r.value !== undefined)
    .map((r) => ({
      dimensions: q.dimensions.map((d) => (d.startsWith("time:") ? r.time! : (r.value ?? DIRECT))),
      metrics: q.metrics.map((m) => metricValue(m, r, dimKind)),
    }));
  const order = q.order_by ?? (plan.time ? [[plan.time, "asc"] as [string, "asc" | "desc"]] : [[q.metrics[0]!, "desc"] as [string, "asc" | "desc"]]);
  results.sort((a, b) => {
    for (const [field, dir] of order) {
      const mi = q.metrics.indexOf(field as Metric);
      const x = mi >= 0 ? (a.metrics[mi] ?? -1) : a.dimensions[q.dimensions.indexOf(field as never)]!;
      const y = mi >= 0 ? (b.metrics[mi] ?? -1) : b.dimensions[q.dimensions.indexOf(field as never)]!;
      if (x !== y) return (x < y ? -1 : 1) * (dir === "asc" ? 1 : -1);
    }
    return JSON.stringify(a.dimensions) < JSON.stringify(b.dimensions) ? -1 : 1;
  });
  const total = results.length;
  results = results.slice(q.pagination.offset, q.pagination.offset + q.pagination.limit);
  return {
    results,
    meta: { metrics: q.metrics, dimensions: q.dimensions, date_range: [plan.from, plan.to], timezone, total_rows: total, visitors_standard_error: 0.0325 },
  };
}
