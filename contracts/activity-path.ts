/**
 * Team activity (issue L): what a CRM route is called, shared by the browser (the Custom JS normalises every path
 * before it is queued) and the edge. A CRM URL carries ids of locations, contacts, conversations, and sometimes an
 * email address or a phone number; none of that may leave the browser, so every id-like segment becomes a
 * placeholder and the query string and fragment are never kept.
 *
 * Zero dependencies on purpose (no zod): this file is bundled into the Custom JS, where every byte counts.
 */

/** What the edge inlines into the Custom JS (`GET /crm/activity.js`). */
export interface ActivityScriptConfig {
  /** The marketplace app's id, passed to the CRM's `exposeSessionDetails`; empty: the script does nothing. */
  appId: string;
  /** The backend's `POST /v1/auth/highlevel/actor`: encrypted session details in, `{ token, expiresAt }` out. */
  tokenUrl: string;
  /** The edge's `POST /v1/activity`. */
  endpoint: string;
  /** Milliseconds without input after which the clock stops. */
  idleMs: number;
  /** Page names, the whole map (`pageNameIn`): the edge inlines DEFAULT_PAGE_NAMES with its configured names over them. */
  pages?: Record<string, string>;
}

/** Longest normalised path kept (the activity event's `path` limit). */
export const MAX_ACTIVITY_PATH = 512;
/** Longest page name (the activity event's `page` limit). */
export const MAX_PAGE_NAME = 64;

const ALNUM_8 = /^[A-Za-z\d]{8,}$/;

/**
 * A segment that names a person or a record rather than a route, after percent-decoding: an email or free text (`@`,
 * whitespace); digits with phone punctuation (numbers, phone numbers, dates); a UUID or other run of 32+ hex digits
 * and dashes; an opaque id — 8+ letters and digits containing both (HighLevel's 20-character ids, Mongo's 24 hex),
 * or 16+ letters of mixed case. All-lower-case words ("opportunities", "conversations"), short versions ("v2") and
 * words joined by `-` or `_` ("smart_list", "funnels-websites") are none of these.
 */
function idLike(segment: string): boolean {
  let s: string;
  try {
    s = decodeURIComponent(segment);
  } catch {
    return true; // broken percent-encoding: not a route name, so not worth the risk
  }
  return (
    /[@\s]/.test(s) ||
    (/^[+\d().-]+$/.test(s) && /\d/.test(s)) ||
    /^[\da-f-]{32,}$/i.test(s) ||
    (ALNUM_8.test(s) && ((/\d/.test(s) && /[A-Za-z]/.test(s)) || (s.length > 15 && /[a-z]/.test(s) && /[A-Z]/.test(s))))
  );
}

/**
 * The route of a CRM page with every id replaced: `/v2/location/ve9EPM428h8vShlRW1KT/contacts/detail/Hj2k…` →
 * `/v2/location/:locationId/contacts/detail/:id`. A hash route (`#/…` or `#!/…`) is the path when present; query
 * strings and fragments are dropped; the segment after `location` is `:locationId`, the one after `detail` and every
 * id-like one (`idLike`) is `:id`; case is kept, a trailing slash trimmed, the result cut to 512 characters.
 */
export function normalisePath(pathname: string, hash?: string): string {
  const route = hash && /^#!?\//.test(hash) ? hash.slice(hash[1] == "!" ? 2 : 1) : pathname;
  const out: string[] = [];
  for (const segment of route.split(/[?#]/)[0]!.split("/")) {
    if (!segment) continue;
    const before = out[out.length - 1];
    out.push(before == "location" ? ":locationId" : before == "detail" || idLike(segment) ? ":id" : segment);
  }
  return ("/" + out.join("/")).slice(0, MAX_ACTIVITY_PATH);
}

/**
 * Page names by route key. A route key is the normalised path after `/v2/location/:locationId/` (or
 * `/location/:locationId/`) for a location's pages, and after `/` (an optional `v2/` dropped) for agency pages.
 * A map key matches a route key equal to it or starting with it and `/`; the longest matching key wins, so
 * `"settings/integrations": "Integrations"` can refine `"settings": "Settings"`. Agency and location pages share
 * the keys (the location is a dimension of its own). A configured map is merged over this one; an empty name there
 * switches a default off.
 */
export const DEFAULT_PAGE_NAMES: Readonly<Record<string, string>> = {
  dashboard: "Dashboard",
  launchpad: "Launchpad",
  conversations: "Conversations",
  calendars: "Calendars",
  contacts: "Contacts",
  opportunities: "Opportunities",
  payments: "Payments",
  marketing: "Marketing",
  emails: "Marketing",
  automation: "Automation",
  workflows: "Automation",
  "funnels-websites": "Sites",
  sites: "Sites",
  memberships: "Memberships",
  reputation: "Reputation",
  reporting: "Reporting",
  "app-marketplace": "App marketplace",
  "media-storage": "Media storage",
  settings: "Settings",
  "custom-page-link": "Custom pages",
  agency_dashboard: "Agency dashboard",
  agency_launchpad: "Agency launchpad",
  accounts: "Sub-accounts",
  prospecting: "Prospecting",
  reselling: "Reselling",
  marketplace: "Marketplace",
  "affiliate-portal": "Affiliate portal",
};

/** The part of a normalised path that page names are keyed by (see DEFAULT_PAGE_NAMES). */
export const routeKey = (path: string): string => path.replace(/^\/(v2\/)?(location\/:locationId(\/|$))?/, "");

/**
 * A readable name for a normalised path: the longest key of `names` (merged over DEFAULT_PAGE_NAMES) matching its
 * route key, else the path itself cut to 64 characters.
 */
export const pageName = (path: string, names?: Record<string, string>): string =>
  pageNameIn(path, { ...DEFAULT_PAGE_NAMES, ...names });

/**
 * `pageName` with `names` as the whole map (no defaults merged): the Custom JS gets the merged map from the edge, so
 * the defaults are not in its code twice.
 */
export function pageNameIn(path: string, names: Record<string, string>): string {
  const route = routeKey(path);
  let best = "";
  for (const key in names) {
    if (key.length > best.length && (route == key || !route.indexOf(key + "/")) && names[key]) best = key;
  }
  return (best ? String(names[best]) : path).slice(0, MAX_PAGE_NAME);
}
