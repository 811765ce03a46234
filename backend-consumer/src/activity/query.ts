/**
 * The team activity query (`POST /v1/activity/query`), shaped like the stats query: metrics, up to two dimensions
 * (at most one time:*), filters, a date range, order and page. Answered from the team documents (one per tenant and
 * local day, activity/store.ts), folded here under the caller's scope: an agency user sees its whole tenant, a
 * session narrowed to a location only that location's activity, a location user only its own activity.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "mongodb";
import { z } from "zod";
import type { ConfigDb } from "../config/db.ts";
import { locations, users } from "../config/schema.ts";
import type { Principal } from "../api/scope.ts";
import { bucketOf } from "../api/stats/run.ts";
import { DATE_RANGES, QueryError, resolveRange } from "../api/stats/schema.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { AGENCY, parseBrief, teamDocId, userKey, type TeamEntry } from "./days.ts";
import { findByIds, type ActivityTeamDocument } from "./store.ts";

/** Every metric, defined (the README's "Team activity" table says the same). */
export const ACTIVITY_METRICS = {
  active_users: "Distinct users with any activity.",
  sessions: "Distinct activity sessions (a session ends after 30 minutes without activity).",
  page_views: "Page views (route changes of the CRM).",
  time_spent: "Active time in seconds (time with the tab visible and the user not idle), rounded.",
  active_days: "Distinct local days with activity.",
  last_seen: "ISO time of the latest event, or null.",
} as const;
export type ActivityMetric = keyof typeof ACTIVITY_METRICS;

export const ACTIVITY_DIMENSIONS = {
  "activity:user": "Our user id.",
  "activity:location": 'Our location id, or "agency" for agency-level CRM pages.',
  "activity:page": 'The page name ("Contacts"), else the normalised path.',
} as const;
export type ActivityDimension = keyof typeof ACTIVITY_DIMENSIONS;
export const ACTIVITY_TIME_DIMENSIONS = ["time:day", "time:week", "time:month"] as const;
type TimeDimension = (typeof ACTIVITY_TIME_DIMENSIONS)[number];

const metricNames = Object.keys(ACTIVITY_METRICS) as [ActivityMetric, ...ActivityMetric[]];
const dimensionNames = Object.keys(ACTIVITY_DIMENSIONS) as [ActivityDimension, ...ActivityDimension[]];
const isoDate = z.iso.date();
export const activityDateRangeSchema = z.union([z.enum(DATE_RANGES), z.tuple([isoDate, isoDate])]);

export const activityQuerySchema = z.strictObject({
  metrics: z.array(z.enum(metricNames)).min(1).max(6),
  dimensions: z.array(z.enum([...ACTIVITY_TIME_DIMENSIONS, ...dimensionNames])).max(2).default([]).describe("At most one time dimension."),
  date_range: activityDateRangeSchema.describe('A shortcut, or ["YYYY-MM-DD", "YYYY-MM-DD"] (both days included).'),
  filters: z
    .array(z.tuple([z.enum(["is", "is_not"]), z.enum(dimensionNames), z.array(z.string().max(512)).min(1).max(100)]))
    .max(5)
    .default([]),
  order_by: z.array(z.tuple([z.string(), z.enum(["asc", "desc"])])).max(3).optional(),
  pagination: z.strictObject({ limit: z.number().int().min(1).max(1000).default(100), offset: z.number().int().min(0).max(100_000).default(0) }).default({ limit: 100, offset: 0 }),
  timezone: z.string().max(64).optional().describe("Time zone of the date range's shortcuts; default: the session's location's, else UTC."),
});
export type ActivityQuery = z.output<typeof activityQuerySchema>;

export interface ActivityAnswer {
  results: { dimensions: string[]; metrics: (number | string | null)[] }[];
  meta: {
    total_rows: number;
    users: Record<string, { name: string | null; email: string; role: "agency" | "location" }>;
    locations: Record<string, { name: string }>;
  };
}

/** MongoDB for the activity; MariaDB for names (and time zones). Without it, names are null and zones UTC. */
export interface ActivityReadDeps {
  db: Db;
  configDb?: ConfigDb;
}

/** The name of the "agency" location value. */
export const AGENCY_NAME = "Agency";

/** Every local day of the range, in order. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/** The time zone a caller's date shortcuts are read in: its session's location's, else UTC. */
export async function scopeTimezone(deps: ActivityReadDeps, p: Principal): Promise<string> {
  const only = p.sessionLocationId ?? (p.role === "location" && p.locationIds.length === 1 ? p.locationIds[0] : undefined);
  if (!only || !deps.configDb) return "UTC";
  const [row] = await deps.configDb.select({ tz: locations.timezone }).from(locations).where(and(eq(locations.id, only), eq(locations.tenantId, p.tenantId))).limit(1);
  return row?.tz ?? "UTC";
}

/** One activity cell as folded: a user's (location[, page]) on a day. */
export interface FoldCell {
  user: string;
  role: "agency" | "location";
  day: string;
  loc: string;
  page?: string;
  pv: number;
  ms: number;
  s: string[];
  z: number;
}

/** What the caller may see of a cell (the tenant is already the document's). */
export function visible(p: Principal, cell: Pick<FoldCell, "user" | "loc">): boolean {
  if (p.role === "location") return cell.user === p.userId;
  return p.sessionLocationId ? cell.loc === p.sessionLocationId : true;
}

/**
 * The team documents' cells of the range, per location or per page, for the given users only when `only` is set.
 * `brief`: the location entries without session keys (cells with empty `s`), for questions that do not count
 * sessions; a document written before briefs existed is read whole.
 */
export async function readTeamCells(db: Db, tenantId: string, days: string[], pages: boolean, only?: string[], brief = false): Promise<FoldCell[]> {
  if (only && only.length === 0) return [];
  const name = pages ? COLLECTIONS.activityTeamPages : COLLECTIONS.activityTeam;
  const ids = days.map((d) => teamDocId(tenantId, d));
  const whole = (): Record<string, 1> => {
    const p: Record<string, 1> = { day: 1 };
    if (only) for (const id of only) p[`u.${userKey(id)}`] = 1;
    else p.u = 1;
    return p;
  };
  const out: FoldCell[] = [];
  let docs: ActivityTeamDocument[];
  if (brief && !pages) {
    docs = await findByIds<ActivityTeamDocument>(db, name, ids, { day: 1, b: 1 });
    // a day no user was copied to since briefs exist has none: it is read whole
    const old = docs.filter((d) => d.b === undefined).map((d) => d._id);
    const wanted = only ? new Set(only) : null;
    for (const doc of docs) {
      if (doc.b === undefined) continue;
      for (const line of doc.b ? doc.b.split("\n") : []) {
        if (wanted && !wanted.has(line.slice(0, line.indexOf("|")))) continue;
        const e = parseBrief(line);
        for (const [loc, pv, ms, s, z] of e.c!) out.push({ user: e.id, role: e.role, day: doc.day, loc, pv, ms, s, z });
      }
    }
    docs = old.length ? await findByIds<ActivityTeamDocument>(db, name, old, whole()) : [];
  } else docs = await findByIds<ActivityTeamDocument>(db, name, ids, whole());
  for (const doc of docs) {
    for (const json of Object.values(doc.u ?? {})) {
      const e = JSON.parse(json) as TeamEntry;
      for (const [loc, pv, ms, s, z] of e.c ?? []) out.push({ user: e.id, role: e.role, day: doc.day, loc, pv, ms, s, z });
      for (const [loc, page, pv, ms, s, z] of e.p ?? []) out.push({ user: e.id, role: e.role, day: doc.day, loc, page, pv, ms, s, z });
    }
  }
  return out;
}

interface Acc {
  users: Set<string>;
  sessions: Set<string>;
  pv: number;
  ms: number;
  days: Set<string>;
  z: number;
}
const emptyAcc = (): Acc => ({ users: new Set(), sessions: new Set(), pv: 0, ms: 0, days: new Set(), z: 0 });

/** Which of the accumulator's sets the query's metrics read (a set not read is not filled: the fold's main cost). */
interface Needs {
  users: boolean;
  sessions: boolean;
  days: boolean;
}

function add(acc: Acc, c: FoldCell, needs: Needs): void {
  if (needs.users) acc.users.add(c.user);
  if (needs.sessions) for (const s of c.s) acc.sessions.add(`${c.user}|${s}`);
  acc.pv += c.pv;
  acc.ms += c.ms;
  if (needs.days) acc.days.add(c.day);
  if (c.z > acc.z) acc.z = c.z;
}

function metricValue(m: ActivityMetric, a: Acc): number | string | null {
  switch (m) {
    case "active_users":
      return a.users.size;
    case "sessions":
      return a.sessions.size;
    case "page_views":
      return a.pv;
    case "time_spent":
      return Math.round(a.ms / 1000);
    case "active_days":
      return a.days.size;
    case "last_seen":
      return a.z ? new Date(a.z).toISOString() : null;
  }
}

function timeLabel(day: string, time: TimeDimension): string {
  return time === "time:month" ? day.slice(0, 7) : bucketOf(day, time);
}

function valueOf(c: FoldCell, dim: ActivityDimension): string {
  return dim === "activity:user" ? c.user : dim === "activity:location" ? c.loc : (c.page ?? "");
}

/** The cross-field checks: one time dimension, no dimension twice, order by a field of the query. */
export function checkQuery(q: ActivityQuery): void {
  if (q.dimensions.filter((d) => d.startsWith("time:")).length > 1) throw new QueryError("dimensions", "At most one time dimension.");
  if (new Set(q.dimensions).size !== q.dimensions.length) throw new QueryError("dimensions", "A dimension is named twice.");
  const orderable = new Set<string>([...q.metrics, ...q.dimensions]);
  for (const [i, [field]] of (q.order_by ?? []).entries()) {
    if (!orderable.has(field)) throw new QueryError(`order_by.${i}`, `Order by a metric or dimension of the query, not ${field}.`);
  }
}

/**
 * Answers a query for `principal` (QueryError for a query that cannot be answered). `now` fixes "today" for the
 * date shortcuts (tests, benchmarks).
 */
export async function runActivityQuery(deps: ActivityReadDeps, principal: Principal, q: ActivityQuery, now = new Date()): Promise<ActivityAnswer> {
  checkQuery(q);
  const tz = q.timezone ?? (await scopeTimezone(deps, principal));
  const { from, to } = resolveRange(q.date_range, tz, now);
  const time = q.dimensions.find((d): d is TimeDimension => d.startsWith("time:"));
  const dims = q.dimensions.filter((d): d is ActivityDimension => d in ACTIVITY_DIMENSIONS);
  const pages = dims.includes("activity:page") || q.filters.some((f) => f[1] === "activity:page");
  let only = principal.role === "location" ? [principal.userId] : undefined;
  for (const [op, dim, values] of q.filters) if (op === "is" && dim === "activity:user") only = (only ?? values).filter((u) => values.includes(u));
  const cells = await readTeamCells(deps.db, principal.tenantId, daysBetween(from, to), pages, only, !q.metrics.includes("sessions"));

  const needs: Needs = {
    users: q.metrics.includes("active_users"),
    sessions: q.metrics.includes("sessions"),
    days: q.metrics.includes("active_days"),
  };
  // a day's period label once per day, not once per cell (a week's label parses a date)
  const labelsOfDay = new Map<string, string>();
  const label = (day: string, t: TimeDimension): string => {
    let l = labelsOfDay.get(day);
    if (l === undefined) labelsOfDay.set(day, (l = timeLabel(day, t)));
    return l;
  };
  const groups = new Map<string, { dims: string[]; acc: Acc }>();
  for (const c of cells) {
    if (!visible(principal, c)) continue;
    if (q.filters.length && !q.filters.every(([op, dim, values]) => values.includes(valueOf(c, dim)) === (op === "is"))) continue;
    const labels = q.dimensions.map((d) => (d.startsWith("time:") ? label(c.day, d as TimeDimension) : valueOf(c, d as ActivityDimension)));
    const key = labels.join("\u0000");
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { dims: labels, acc: emptyAcc() }));
    add(g.acc, c, needs);
  }
  // a time series has a row for every period (what a chart needs); totals always have their one row
  if (time && dims.length === 0) {
    for (const day of daysBetween(from, to)) {
      const l = label(day, time);
      if (!groups.has(l)) groups.set(l, { dims: [l], acc: emptyAcc() });
    }
  }
  if (q.dimensions.length === 0 && groups.size === 0) groups.set("", { dims: [], acc: emptyAcc() });

  let results = [...groups.values()].map((g) => ({ dimensions: g.dims, metrics: q.metrics.map((m) => metricValue(m, g.acc)) }));
  const order = q.order_by ?? (time ? [[time, "asc"] as [string, "asc" | "desc"]] : [[q.metrics[0]!, "desc"] as [string, "asc" | "desc"]]);
  results.sort((a, b) => {
    for (const [field, dir] of order) {
      const mi = q.metrics.indexOf(field as ActivityMetric);
      const x = mi >= 0 ? (a.metrics[mi] ?? "") : a.dimensions[q.dimensions.indexOf(field as never)]!;
      const y = mi >= 0 ? (b.metrics[mi] ?? "") : b.dimensions[q.dimensions.indexOf(field as never)]!;
      if (x !== y) return (x < y ? -1 : 1) * (dir === "asc" ? 1 : -1);
    }
    return JSON.stringify(a.dimensions) < JSON.stringify(b.dimensions) ? -1 : 1;
  });
  const total = results.length;
  results = results.slice(q.pagination.offset, q.pagination.offset + q.pagination.limit);
  const ui = q.dimensions.indexOf("activity:user");
  const li = q.dimensions.indexOf("activity:location");
  const roles = new Map(cells.map((c) => [c.user, c.role]));
  const meta = await names(deps, principal.tenantId, ui >= 0 ? results.map((r) => r.dimensions[ui]!) : [], li >= 0 ? results.map((r) => r.dimensions[li]!) : [], roles);
  return { results, meta: { total_rows: total, ...meta } };
}

/** Names of the users and locations that appear in an answer, from MariaDB (within the tenant). */
export async function names(
  deps: ActivityReadDeps,
  tenantId: string,
  userIds: string[],
  locationIds: string[],
  roles: Map<string, "agency" | "location"> = new Map(),
): Promise<Pick<ActivityAnswer["meta"], "users" | "locations">> {
  const uIds = [...new Set(userIds)];
  const lIds = [...new Set(locationIds)].filter((l) => l !== AGENCY);
  const [uRows, lRows] = deps.configDb
    ? await Promise.all([
        uIds.length ? deps.configDb.select({ id: users.id, name: users.name, email: users.email, role: users.role }).from(users).where(and(eq(users.tenantId, tenantId), inArray(users.id, uIds))) : [],
        lIds.length ? deps.configDb.select({ id: locations.id, name: locations.name }).from(locations).where(and(eq(locations.tenantId, tenantId), inArray(locations.id, lIds))) : [],
      ])
    : [[], []];
  const usersOut: ActivityAnswer["meta"]["users"] = {};
  // a user removed since keeps its activity until retention: named by what the activity says
  for (const id of uIds) usersOut[id] = { name: null, email: "", role: roles.get(id) ?? "location" };
  for (const u of uRows) usersOut[u.id] = { name: u.name ?? null, email: u.email, role: u.role };
  const locationsOut: ActivityAnswer["meta"]["locations"] = {};
  for (const id of locationIds) locationsOut[id] = { name: id === AGENCY ? AGENCY_NAME : "(removed location)" };
  for (const l of lRows) locationsOut[l.id] = { name: l.name };
  return { users: usersOut, locations: locationsOut };
}
