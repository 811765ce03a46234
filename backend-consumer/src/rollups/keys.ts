/**
 * Where a contribution goes: the site's local day (its IANA time zone), the rollup document's id, and the
 * dimension values read off events and sessions (a page's path, a visit's source).
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Recent answers per zone and quarter hour: every zone's offset is a whole number of quarter hours. */
const recent = new Map<string, string>();
const QUARTER_HOUR = 900_000;

/** "YYYY-MM-DD" of `at` in time zone `tz` (UTC when the zone is unknown). */
export function localDay(at: Date | number, tz = "UTC"): string {
  const ms = typeof at === "number" ? at : at.getTime();
  const key = `${tz}|${Math.floor(ms / QUARTER_HOUR)}`;
  const hit = recent.get(key);
  if (hit) return hit;
  const day = formatDay(ms, tz);
  if (recent.size > 10_000) recent.clear();
  recent.set(key, day);
  return day;
}

function formatDay(at: number, tz: string): string {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    } catch {
      f = new Intl.DateTimeFormat("en-CA", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit" });
    }
    formatters.set(tz, f);
  }
  return f.format(at);
}

/** Rollups per site and local day, of events (`e`) or of finished visits (`v`). */
export type RollupKind = "e" | "v";

/** Event dimensions ("" is the site's total). */
export const EVENT_DIMS = ["", "page", "form", "form_page"] as const;
/** Visit dimensions ("" is the site's total). */
export const VISIT_DIMS = ["", "entry_page", "source", "referrer", "utm_source", "utm_medium", "utm_campaign", "country", "device", "browser"] as const;
export type EventDim = (typeof EVENT_DIMS)[number];
export type VisitDim = (typeof VISIT_DIMS)[number];

const MAX_VALUE = 512;

export function rollupId(kind: RollupKind, siteId: string, day: string, dim: string, value: string): string {
  return `${kind}|${siteId}|${day}|${dim}|${value}`;
}

export const clip = (value: string): string => value.slice(0, MAX_VALUE);

const paths = new Map<string, string>();

/** The path of a page URL (what the page dimension groups by), or the URL itself when it does not parse. */
export function pagePath(url: string | undefined, path?: string): string {
  if (path) return clip(path);
  if (!url) return "(unknown)";
  let p = paths.get(url);
  if (p === undefined) {
    try {
      p = clip(new URL(url).pathname);
    } catch {
      p = clip(url);
    }
    if (paths.size > 10_000) paths.clear();
    paths.set(url, p);
  }
  return p;
}

/** A referrer's host without `www.`, or "" for none. */
export function referrerHost(referrer: string | undefined): string {
  if (!referrer) return "";
  try {
    return clip(new URL(referrer).hostname.replace(/^www\./, ""));
  } catch {
    return "";
  }
}

export const DIRECT = "Direct / None";

/** A visit's source: its utm_source, else its referrer's host, else Direct / None. */
export function visitSource(utmSource: string | undefined, referrer: string | undefined): string {
  return utmSource ? clip(utmSource) : referrerHost(referrer) || DIRECT;
}
