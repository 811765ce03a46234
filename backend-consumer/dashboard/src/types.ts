/** The API's answers, as the dashboard reads them (see backend-consumer/src/api/leads/out.ts, timeline.ts, stats/). */
import type { Dimension, Metric } from "./stats-meta.ts";

export interface Location {
  id: string;
  name: string;
  timezone: string;
}

export interface Site {
  id: string;
  name: string;
  domain: string;
  siteKey: string;
  locationId: string;
  timezone: string | null;
}

export interface Me {
  userId: string;
  tenantId: string;
  tenantName: string;
  role: "agency" | "location";
  email: string;
  name: string | null;
  sessionLocationId: string | null;
  locations: Location[];
  sites: Site[];
  /** Origin of the edge Worker that serves the site loaders (`<edgeUrl>/s/<siteKey>.js`). */
  edgeUrl?: string;
}

export interface AuthAnswer {
  token: string;
  expiresAt: string;
  user: { userId: string; tenantId: string; role: string; email: string; name: string | null; sessionLocationId: string | null };
}

export type Scope = "all" | { locationIds: string[] } | { siteIds: string[] };
export type StatsFilter = ["is" | "is_not" | "contains", Dimension, string[]];
export type TimeDimension = "time:day" | "time:week" | "time:month";

export interface StatsQuery {
  scope: Scope;
  metrics: Metric[];
  dimensions?: (Dimension | TimeDimension)[];
  date_range: string | [string, string];
  filters?: StatsFilter[];
  order_by?: [string, "asc" | "desc"][];
  pagination?: { limit: number; offset?: number };
  timezone?: string;
}

export interface StatsAnswer {
  results: { dimensions: string[]; metrics: (number | null)[] }[];
  meta: { date_range: [string, string]; timezone: string; total_rows?: number; metrics?: string[]; dimensions?: string[] };
}

export interface Lead {
  id: string;
  siteId: string;
  locationId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  company: string | null;
  status: string;
  capturedStatus: string;
  statusOverride: { status: string; reason: string; by: string; at: string } | null;
  quality: string;
  formIds: string[];
  utm: Record<string, string> | null;
  referrer: string | null;
  landingPage: string | null;
  tags: string[];
  notes: string | null;
  submittedAt: string | null;
  lastInteractionAt: string;
  createdAt: string;
  updatedAt: string;
  fields?: Record<string, string>;
  traits?: Record<string, unknown>;
  clickIds?: Record<string, string>;
  conflicts?: { id: string; field: string; value: unknown; current: unknown; at: string; visitorId: string }[];
  submissions?: { at: string; visitorId: string; formId: string | null; fields: Record<string, string> }[];
  history?: { at: string; by: { userId: string; email: string }; changes: { field: string; from: unknown; to: unknown }[]; reason?: string }[];
  /** CRM delivery per destination of the lead's site (GET /v1/leads/:id). */
  sync?: {
    destinationId: string;
    kind: string;
    name: string;
    status: "pending" | "delivered" | "failed" | "dead" | "held";
    externalId: string | null;
    error: string | null;
    attempts: number;
    nextAttemptAt: string | null;
    deliveredAt: string | null;
  }[];
}

export interface TimelineItem {
  id: string;
  type: string;
  at: string;
  sessionId: string;
  page: { url: string; title?: string } | null;
  timeOnPageMs?: number;
  form?: { formId: string; name?: string; fields: Record<string, string> };
  name?: string;
}

export interface LeadDetail extends Lead {
  timeline: { items: TimelineItem[]; nextCursor: string | null };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Form {
  id: string;
  siteId: string;
  name: string;
}

/** `GET /v1/sites/:id/site-keys`: the current key, and rotated-out keys that still work until their grace end. */
export interface SiteKeys {
  siteId: string;
  siteKey: string;
  inGrace: { siteKey: string; retiredAt: string | null; validUntil: string }[];
}

export interface InstallStatus {
  siteId: string;
  lastEventAt: string | null;
  eventsLast15m: number;
  installed: boolean;
}

export const LEAD_STATUSES = ["identified", "partial", "submitted", "contacted", "qualified", "unqualified", "converted", "spam"] as const;
export const LEAD_QUALITIES = ["low", "medium", "high"] as const;

// ---- team activity (POST /v1/activity/query, GET /v1/activity/users/:id) --------------------------------------

export type ActivityMetric = "active_users" | "sessions" | "page_views" | "time_spent" | "active_days" | "last_seen";
export type ActivityDimension = "activity:user" | "activity:location" | "activity:page" | TimeDimension;
export type ActivityFilter = ["is" | "is_not", "activity:user" | "activity:location" | "activity:page", string[]];

export interface ActivityQuery {
  metrics: ActivityMetric[];
  dimensions?: ActivityDimension[];
  date_range: string | [string, string];
  filters?: ActivityFilter[];
  order_by?: [ActivityMetric | ActivityDimension, "asc" | "desc"][];
  pagination?: { limit: number; offset?: number };
  timezone?: string;
}

export interface ActivityPerson {
  name: string | null;
  email: string;
  role: "agency" | "location";
}

export interface ActivityAnswer {
  /** `last_seen` is an ISO timestamp (or null); every other metric a number. */
  results: { dimensions: string[]; metrics: (number | string | null)[] }[];
  /** Names of every user and location id in the results (`"agency"`: agency-level CRM pages). */
  meta: { total_rows: number; users: Record<string, ActivityPerson>; locations: Record<string, { name: string }> };
}

export interface ActivitySession {
  id: string;
  start: string;
  end: string;
  location: { id: string; name: string };
  page_views: number;
  time_spent: number;
  pages: { page: string; path: string; at: string; time_spent: number }[];
}

export interface ActivityUserDetail {
  user: { id: string } & ActivityPerson;
  totals: { sessions: number; page_views: number; time_spent: number; active_days: number; last_seen: string | null };
  /** Top pages by time spent (at most 20). */
  pages: { page: string; views: number; time_spent: number }[];
  /** Newest first (at most 50). */
  sessions: ActivitySession[];
}
