/**
 * Calendar days as "YYYY-MM-DD" strings (a local day of a location's time zone, with no time zone of its own):
 * arithmetic on UTC midnights, formatting in UTC so a day never shifts by the browser's time zone.
 */

export type Interval = "day" | "week" | "month";
const DAY_MS = 86_400_000;

const pad = (n: number): string => String(n).padStart(2, "0");
const utc = (day: string): number => Date.parse(`${day}T00:00:00Z`);
const dayOf = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
};

export const isDay = (s: string | null | undefined): s is string => !!s && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(utc(s)) && dayOf(utc(s)) === s;
export const addDays = (day: string, n: number): string => dayOf(utc(day) + n * DAY_MS);
/** Days from `from` to `to`, both included. */
export const daysIn = (from: string, to: string): number => Math.round((utc(to) - utc(from)) / DAY_MS) + 1;

/** The period of the same length that ends the day before `range` starts. */
export function previousRange(range: [string, string]): [string, string] {
  const n = daysIn(range[0], range[1]);
  return [addDays(range[0], -n), addDays(range[0], -1)];
}

/** The bucket a day falls in: weeks are labelled by their Monday, months by their first day (as the API does). */
export function bucketOf(day: string, interval: Interval): string {
  if (interval === "month") return `${day.slice(0, 7)}-01`;
  if (interval === "week") {
    const t = utc(day);
    return dayOf(t - ((new Date(t).getUTCDay() + 6) % 7) * DAY_MS);
  }
  return day;
}

/** Every bucket of the range, in order. */
export function bucketsOf(from: string, to: string, interval: Interval): string[] {
  const out: string[] = [];
  for (let t = utc(from); t <= utc(to); t += DAY_MS) {
    const b = bucketOf(dayOf(t), interval);
    if (out[out.length - 1] !== b) out.push(b);
  }
  return out;
}

/** Milliseconds `tz` is ahead of UTC at instant `ms`. */
function offsetMs(ms: number, tz: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant local midnight of `day` begins in `tz`, as an ISO string (for the leads API's createdFrom/To). */
export function dayStartIso(day: string, tz: string): string {
  const guess = utc(day);
  let at = guess - offsetMs(guess, tz);
  // across a DST change the offset at the answer may differ from the one at the guess
  at = guess - offsetMs(at, tz);
  return new Date(at).toISOString();
}

/** Today in `tz`. */
export function todayIn(tz: string, now = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

export const RANGES = ["day", "7d", "30d", "month", "6mo", "12mo", "custom"] as const;
export type RangeKey = (typeof RANGES)[number];
export const RANGE_LABELS: Record<RangeKey, string> = {
  day: "Today",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  month: "This month",
  "6mo": "Last 6 months",
  "12mo": "Last 12 months",
  custom: "Custom range",
};

/**
 * The first and last day of a range in `tz`, as the stats API resolves it (schema.ts resolveRange). Used where no
 * stats answer says it (the leads list's default dates); the overview shows the API's own `meta.date_range`.
 */
export function resolveRange(range: RangeKey, custom: [string, string] | null, tz: string, now = new Date()): [string, string] {
  const today = todayIn(tz, now);
  const monthsBack = (months: number): string => {
    const d = new Date(utc(today));
    return dayOf(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - months + 1, 1));
  };
  switch (range) {
    case "day":
      return [today, today];
    case "7d":
      return [addDays(today, -6), today];
    case "30d":
      return [addDays(today, -29), today];
    case "month":
      return [monthsBack(1), today];
    case "6mo":
      return [monthsBack(6), today];
    case "12mo":
      return [monthsBack(12), today];
    case "custom":
      return custom ?? [addDays(today, -29), today];
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const monthOf = (day: string): string => MONTHS[Number(day.slice(5, 7)) - 1] ?? "";
/** "3 Nov". */
const dayMonth = (day: string): string => `${Number(day.slice(8, 10))} ${monthOf(day)}`;

/** "3 Nov 2026". */
export const formatDay = (day: string): string => `${dayMonth(day)} ${day.slice(0, 4)}`;

/** "3 – 30 Nov 2026", "28 Oct – 3 Nov 2026", "1 Dec 2025 – 3 Jan 2026". */
export function formatRange([from, to]: [string, string]): string {
  if (from === to) return formatDay(from);
  const sameYear = from.slice(0, 4) === to.slice(0, 4);
  if (sameYear && from.slice(0, 7) === to.slice(0, 7)) return `${Number(from.slice(8))} – ${formatDay(to)}`;
  return `${sameYear ? dayMonth(from) : formatDay(from)} – ${formatDay(to)}`;
}

/** A bucket's label: "3 Nov", "Week of 3 Nov", "Nov 2026". */
export function formatBucket(day: string, interval: Interval): string {
  if (interval === "month") return `${monthOf(day)} ${day.slice(0, 4)}`;
  if (interval === "week") return `Week of ${dayMonth(day)}`;
  return dayMonth(day);
}

/** An instant shown in a time zone: "3 Nov 2026, 14:05". */
export function formatInstant(iso: string, tz: string | undefined): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  let local = ms;
  try {
    local = ms + (tz ? offsetMs(ms, tz) : -new Date(ms).getTimezoneOffset() * 60_000);
  } catch {
    // an unknown time zone: show UTC
  }
  const d = new Date(local);
  return `${formatDay(dayOf(local))}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}
