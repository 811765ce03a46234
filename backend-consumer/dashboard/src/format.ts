/** Numbers as the dashboard shows them. */
import type { Metric } from "./stats-meta.ts";

const whole = new Intl.NumberFormat("en-US");
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** 1,234 below ten thousand, then 12.3K, 4.5M. */
export const formatCount = (n: number): string => (Math.abs(n) < 10_000 ? whole.format(Math.round(n)) : compact.format(n));
export const formatExact = (n: number): string => whole.format(n);
/** 1.5K, 10K, 2M (axis labels). */
export const formatCompact = (n: number): string => compact.format(n);

/** Seconds as "45s", "1m 05s", "1h 02m". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export const formatPercent = (n: number): string => `${n >= 10 || n === 0 ? Math.round(n) : n.toFixed(1).replace(/\.0$/, "")}%`;

const PERCENT: readonly Metric[] = ["bounce_rate", "conversion_rate"];
const DURATION: readonly Metric[] = ["visit_duration", "time_on_page"];

/** A metric's value in its unit; "—" when the API has none (null: nothing to divide by). */
export function formatMetric(metric: Metric, value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (PERCENT.includes(metric)) return formatPercent(value);
  if (DURATION.includes(metric)) return formatDuration(value);
  if (metric === "views_per_visit") return value.toFixed(2);
  return formatCount(value);
}

/** Relative change from `previous` to `current`, in whole percent; null when there is nothing to compare with. */
export function change(current: number | null | undefined, previous: number | null | undefined): number | null {
  if (current === null || current === undefined || previous === null || previous === undefined || previous === 0) return null;
  return Math.round(((current - previous) / previous) * 100);
}

let regionNames: Intl.DisplayNames | null | undefined;
/** "US" → "United States" (the code itself when the browser cannot say). */
export function countryName(code: string): string {
  if (regionNames === undefined) {
    try {
      regionNames = new Intl.DisplayNames(["en"], { type: "region" });
    } catch {
      regionNames = null;
    }
  }
  if (!regionNames || !/^[A-Za-z]{2}$/.test(code)) return code;
  try {
    return regionNames.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

export const capitalise = (s: string): string => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

const pad2 = (n: number): string => String(n).padStart(2, "0");

/** Active time as the team activity section shows it: "45 s", "3 min 20 s", "1 h 02 min". */
export function formatSpent(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad2(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad2(Math.floor((s % 3600) / 60))} min`;
}

// "1 day ago" rather than "yesterday": an instant 30 hours back may be two calendar days back
const relative = new Intl.RelativeTimeFormat("en", { numeric: "always" });
const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["minute", 60],
  ["hour", 3600],
  ["day", 86_400],
  ["week", 7 * 86_400],
  ["month", 30 * 86_400],
  ["year", 365 * 86_400],
];

/** "just now", "5 minutes ago", "2 days ago", "3 weeks ago", to the nearest unit (the exact instant goes in a title). */
export function formatAgo(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const secs = Math.max(0, (now - ms) / 1000);
  if (secs < 60) return "just now";
  let unit: Intl.RelativeTimeFormatUnit = "minute";
  let size = 60;
  for (const [u, n] of STEPS) if (secs >= n) [unit, size] = [u, n];
  return relative.format(-Math.round(secs / size), unit);
}
