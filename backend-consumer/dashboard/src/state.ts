/**
 * The dashboard's state lives in the query string, so any view can be bookmarked, shared and reached with the
 * browser's back and forward buttons. Parsing never throws: an unknown value falls back to the default, and
 * serialising leaves defaults out so URLs stay short.
 */
import { isDay, RANGES, type Interval, type RangeKey } from "./dates.ts";
import { isDimension, type Dimension } from "./stats-meta.ts";

export type View = { name: "overview" | "leads" | "forms" | "install" | "activity" } | { name: "lead"; id: string } | { name: "activity-user"; id: string };
export type TopView = "overview" | "leads" | "forms" | "install" | "activity";

/** Columns the team activity table sorts by (the activity API's metrics). */
export const ACTIVITY_SORTS = ["time_spent", "last_seen", "active_days", "sessions", "page_views"] as const;
export type ActivitySortKey = (typeof ACTIVITY_SORTS)[number];
export interface ActivitySort {
  by: ActivitySortKey;
  dir: "asc" | "desc";
}
export const DEFAULT_ACTIVITY_SORT: ActivitySort = { by: "time_spent", dir: "desc" };

export interface LeadFilters {
  status: string | null;
  quality: string | null;
  source: string | null;
  form: string | null;
  q: string | null;
  createdFrom: string | null;
  createdTo: string | null;
}

export interface UrlState {
  loc: string | null;
  site: string | null;
  range: RangeKey;
  /** Both set when range is "custom". */
  from: string | null;
  to: string | null;
  interval: Interval;
  filter: { dim: Dimension; value: string } | null;
  view: View;
  leads: LeadFilters;
  /** The team activity table's order: `sort=last_seen` (descending), `sort=sessions:asc`. */
  sort: ActivitySort;
}

export const DEFAULT_RANGE: RangeKey = "30d";
const INTERVALS: readonly Interval[] = ["day", "week", "month"];
const TOP_VIEWS: readonly TopView[] = ["overview", "leads", "forms", "install", "activity"];

/** The interval a range opens with: days up to a month, months beyond. */
export function defaultInterval(range: RangeKey, from: string | null = null, to: string | null = null): Interval {
  if (range === "6mo" || range === "12mo") return "month";
  if (range === "custom" && from && to) {
    const days = (Date.parse(to) - Date.parse(from)) / 86_400_000;
    if (days > 180) return "month";
    if (days > 60) return "week";
  }
  return "day";
}

export const EMPTY_LEAD_FILTERS: LeadFilters = { status: null, quality: null, source: null, form: null, q: null, createdFrom: null, createdTo: null };

export function parseState(search: string): UrlState {
  const p = new URLSearchParams(search);
  const text = (key: string, max = 200): string | null => {
    const v = p.get(key);
    return v && v.length <= max ? v : null;
  };
  let range = (RANGES as readonly string[]).includes(p.get("range") ?? "") ? (p.get("range") as RangeKey) : DEFAULT_RANGE;
  let from = isDay(p.get("from")) ? p.get("from") : null;
  let to = isDay(p.get("to")) ? p.get("to") : null;
  if (range === "custom" && (!from || !to || from > to)) range = DEFAULT_RANGE;
  if (range !== "custom") from = to = null;
  const intervalParam = p.get("interval") as Interval | null;
  const interval = intervalParam && INTERVALS.includes(intervalParam) ? intervalParam : defaultInterval(range, from, to);

  let filter: UrlState["filter"] = null;
  const rawFilter = p.get("filter");
  if (rawFilter) {
    const cut = rawFilter.indexOf(":", rawFilter.indexOf(":") + 1);
    const dim = cut > 0 ? rawFilter.slice(0, cut) : "";
    const value = cut > 0 ? rawFilter.slice(cut + 1) : "";
    if (isDimension(dim) && value.length > 0 && value.length <= 512) filter = { dim, value };
  }

  let view: View = { name: "overview" };
  const rawView = p.get("view") ?? "";
  if (rawView.startsWith("lead/") && rawView.length > 5 && rawView.length < 100) view = { name: "lead", id: rawView.slice(5) };
  else if (rawView.startsWith("activity/") && rawView.length > 9 && rawView.length < 100) view = { name: "activity-user", id: rawView.slice(9) };
  else if ((TOP_VIEWS as readonly string[]).includes(rawView)) view = { name: rawView as TopView };

  const leads: LeadFilters = {
    status: text("status", 40),
    quality: text("quality", 40),
    source: text("source", 512),
    form: text("form", 256),
    q: text("q"),
    createdFrom: isDay(p.get("created_from")) ? p.get("created_from") : null,
    createdTo: isDay(p.get("created_to")) ? p.get("created_to") : null,
  };
  return { loc: text("loc", 36), site: text("site", 36), range, from, to, interval, filter, view, leads, sort: parseSort(p.get("sort")) };
}

function parseSort(raw: string | null): ActivitySort {
  const [by, dir] = (raw ?? "").split(":");
  if (!(ACTIVITY_SORTS as readonly string[]).includes(by ?? "") || (dir !== undefined && dir !== "asc" && dir !== "desc")) return DEFAULT_ACTIVITY_SORT;
  return { by: by as ActivitySortKey, dir: dir ?? "desc" };
}

export function serializeState(s: UrlState): string {
  const p = new URLSearchParams();
  if (s.view.name !== "overview") p.set("view", s.view.name === "lead" ? `lead/${s.view.id}` : s.view.name === "activity-user" ? `activity/${s.view.id}` : s.view.name);
  if (s.loc) p.set("loc", s.loc);
  if (s.site) p.set("site", s.site);
  if (s.range !== DEFAULT_RANGE) p.set("range", s.range);
  if (s.range === "custom" && s.from && s.to) {
    p.set("from", s.from);
    p.set("to", s.to);
  }
  if (s.interval !== defaultInterval(s.range, s.from, s.to)) p.set("interval", s.interval);
  if (s.filter) p.set("filter", `${s.filter.dim}:${s.filter.value}`);
  const l = s.leads;
  if (l.status) p.set("status", l.status);
  if (l.quality) p.set("quality", l.quality);
  if (l.source) p.set("source", l.source);
  if (l.form) p.set("form", l.form);
  if (l.q) p.set("q", l.q);
  if (l.createdFrom) p.set("created_from", l.createdFrom);
  if (l.createdTo) p.set("created_to", l.createdTo);
  if (s.sort.by !== DEFAULT_ACTIVITY_SORT.by || s.sort.dir !== DEFAULT_ACTIVITY_SORT.dir) p.set("sort", s.sort.dir === "desc" ? s.sort.by : `${s.sort.by}:asc`);
  // ":" and "/" need no escaping in a query string: keep "filter=visit:source:google" and "view=lead/<id>" readable
  const out = p.toString().replace(/%3A/gi, ":").replace(/%2F/gi, "/");
  return out ? `?${out}` : "";
}


/** A change to the state; a new range resets the interval to that range's default unless one is given. */
export function applyPatch(s: UrlState, patch: Partial<UrlState>): UrlState {
  const next = { ...s, ...patch };
  if (("range" in patch || "from" in patch) && !("interval" in patch)) next.interval = defaultInterval(next.range, next.from, next.to);
  if (next.range !== "custom") next.from = next.to = null;
  return next;
}
