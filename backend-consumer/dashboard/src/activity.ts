/**
 * What the team activity screens share: the read API's questions for the page's state (range, time zone, the
 * agency's location filter) and how its answers read (a metric by name, a person's or a location's name).
 */
import type { Page } from "./context.ts";
import type { ActivityAnswer, ActivityFilter, ActivityMetric, ActivityPerson, ActivityQuery } from "./types.ts";

/**
 * Date range, time zone and filters of every activity question on the page. The API narrows by the caller's
 * scope itself (a location user: their own events; a session inside a location: that location); only an agency
 * user at the agency level has a location switcher, and its choice is a filter.
 */
export function activityBase(page: Page): Pick<ActivityQuery, "date_range" | "timezone" | "filters"> {
  const { me, state } = page;
  const filters: ActivityFilter[] = me.role === "agency" && !me.sessionLocationId && state.loc ? [["is", "activity:location", [state.loc]]] : [];
  return { date_range: page.dateRange, timezone: page.timezone, filters };
}

/** The value of `metric` in a row of an answer to a question that asked `metrics`. */
export function valueOf(row: ActivityAnswer["results"][number] | undefined, metrics: ActivityMetric[], metric: ActivityMetric): number | string | null {
  const i = metrics.indexOf(metric);
  return row && i >= 0 ? (row.metrics[i] ?? null) : null;
}

export const numberOf = (v: number | string | null): number => (typeof v === "number" ? v : 0);

export const personName = (p: ActivityPerson | undefined, fallback: string): string => p?.name || p?.email || fallback;

/** A location id of an answer as a name: the answer's own names first, then the signed-in user's locations. */
export function locationName(id: string, answer: ActivityAnswer | undefined, page: Page): string {
  return answer?.meta.locations[id]?.name ?? page.locationById.get(id)?.name ?? (id === "agency" ? "Agency" : id);
}

/** The time zone a location's activity is shown in (agency-level pages: the page's). */
export const locationZone = (id: string, page: Page): string => page.locationById.get(id)?.timezone ?? page.timezone;

/** A time bucket of the API ("YYYY-MM" for months) as the chart's bucket ("YYYY-MM-01"). */
export const bucketKey = (value: string): string => (/^\d{4}-\d{2}$/.test(value) ? `${value}-01` : value);
