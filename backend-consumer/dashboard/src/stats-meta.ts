/**
 * What the stats API can answer, mirrored from backend-consumer/src/api/stats/schema.ts (the browser bundle cannot
 * import it: it pulls in zod). backend-consumer/src/api/dashboard.test.ts holds the two equal, so a metric added to
 * the API without being added here (or a rule changed there) fails a test instead of showing wrong numbers.
 *
 * The API keeps statistics per single dimension: a query may break down by one dimension and filter on that same
 * one only, and each metric comes from one kind of rollup (`e` events, `v` finished visits) or from the leads.
 */

export const METRIC_SOURCES = {
  visitors: ["e", "v"],
  visits: ["v"],
  pageviews: ["e", "v"],
  views_per_visit: ["v"],
  bounce_rate: ["v"],
  visit_duration: ["v"],
  time_on_page: ["e"],
  leads: ["leads"],
  partial_leads: ["leads"],
  form_submissions: ["e", "v"],
  conversion_rate: ["v"],
  form_views: ["e"],
  form_interactions: ["e"],
} as const satisfies Record<string, readonly ("e" | "v" | "leads")[]>;
export type Metric = keyof typeof METRIC_SOURCES;

/** Metrics the API answers by one dimension only (not in totals either). */
export const METRIC_ONLY_BY: Partial<Record<Metric, Dimension>> = {
  form_views: "event:form",
};

export const DIMENSION_KINDS = {
  "event:page": { kind: "e", leads: false },
  "event:form": { kind: "e", leads: true },
  "visit:entry_page": { kind: "v", leads: true },
  "visit:source": { kind: "v", leads: true },
  "visit:referrer": { kind: "v", leads: true },
  "visit:utm_source": { kind: "v", leads: true },
  "visit:utm_medium": { kind: "v", leads: true },
  "visit:utm_campaign": { kind: "v", leads: true },
  "visit:country": { kind: "v", leads: false },
  "visit:device": { kind: "v", leads: false },
  "visit:browser": { kind: "v", leads: false },
} as const satisfies Record<string, { kind: "e" | "v"; leads: boolean }>;
export type Dimension = keyof typeof DIMENSION_KINDS;

export const isDimension = (s: string): s is Dimension => Object.prototype.hasOwnProperty.call(DIMENSION_KINDS, s);

/** True when `metric` can be asked for while breaking down by or filtering on `dimension` (none: totals). */
export function metricAnswers(metric: Metric, dimension: Dimension | null): boolean {
  const only = METRIC_ONLY_BY[metric];
  if (only) return dimension === only;
  if (dimension === null) return true;
  const def = DIMENSION_KINDS[dimension];
  const from: readonly string[] = METRIC_SOURCES[metric];
  return from.includes(def.kind) || (from.includes("leads") && def.leads);
}

export const DIMENSION_LABELS: Record<Dimension, string> = {
  "event:page": "Page",
  "event:form": "Form",
  "visit:entry_page": "Entry page",
  "visit:source": "Source",
  "visit:referrer": "Referrer",
  "visit:utm_source": "UTM source",
  "visit:utm_medium": "UTM medium",
  "visit:utm_campaign": "UTM campaign",
  "visit:country": "Country",
  "visit:device": "Device",
  "visit:browser": "Browser",
};

export const METRIC_LABELS: Record<Metric, string> = {
  visitors: "Visitors",
  visits: "Visits",
  pageviews: "Pageviews",
  views_per_visit: "Views per visit",
  bounce_rate: "Bounce rate",
  visit_duration: "Visit duration",
  time_on_page: "Time on page",
  leads: "Leads",
  partial_leads: "Partial leads",
  form_submissions: "Submissions",
  conversion_rate: "Conversion rate",
  form_views: "Form views",
  form_interactions: "Interactions",
};
