/** What every screen needs: who is signed in, the page's state from the URL, and what it resolves to. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { resolveRange } from "./dates.ts";
import type { UrlState } from "./state.ts";
import type { StatsFilter, Location, Me, Scope, Site } from "./types.ts";
import { DIMENSION_LABELS, type Dimension } from "./stats-meta.ts";

export interface Page {
  me: Me;
  state: UrlState;
  navigate: (patch: Partial<UrlState>, opts?: { replace?: boolean }) => void;
  /** The URL `patch` would lead to (for real links that open in a new tab too). */
  href: (patch: Partial<UrlState>) => string;
  /** The stats/leads scope the header's location and site select. */
  scope: Scope;
  /** The sites of the scope. */
  sites: Site[];
  /** The time zone the scope's dates are in (the API's rule: its sites' zone, UTC when they differ). */
  timezone: string;
  /** The stats API's date_range for the page's range. */
  dateRange: string | [string, string];
  /** The range's days as the browser works them out (the overview shows the API's own answer). */
  days: [string, string];
  /** The page's filter as a stats filter, and its dimension. */
  filter: StatsFilter | null;
  filterDim: Dimension | null;
  /** True when the agency's "All locations" is chosen (the comparison table shows). */
  allLocations: boolean;
  locationById: Map<string, Location>;
  siteById: Map<string, Site>;
}

export const PageContext = createContext<Page | null>(null);

export function usePage(): Page {
  const page = useContext(PageContext);
  if (!page) throw new Error("usePage outside the dashboard");
  return page;
}

export const siteTimezone = (site: Site, locations: Map<string, Location>): string => site.timezone ?? locations.get(site.locationId)?.timezone ?? "UTC";

/** Keeps the URL's location and site to what the user may see (and to the session's location, when it has one). */
export function normalise(state: UrlState, me: Me): UrlState {
  let { loc, site } = state;
  if (me.sessionLocationId) loc = me.sessionLocationId;
  if (loc && !me.locations.some((l) => l.id === loc)) loc = null;
  if (me.role !== "agency" && !me.sessionLocationId) loc = null;
  const s = site ? me.sites.find((x) => x.id === site) : undefined;
  if (!s || (loc && s.locationId !== loc)) site = null;
  if (loc === state.loc && site === state.site) return state;
  return { ...state, loc, site };
}

export function derivePage(me: Me, state: UrlState, navigate: Page["navigate"], href: Page["href"]): Page {
  const locationById = new Map(me.locations.map((l) => [l.id, l]));
  const siteById = new Map(me.sites.map((s) => [s.id, s]));
  const scope: Scope = state.site ? { siteIds: [state.site] } : state.loc ? { locationIds: [state.loc] } : "all";
  const sites = me.sites.filter((s) => (state.site ? s.id === state.site : state.loc ? s.locationId === state.loc : true));
  const zones = [...new Set(sites.map((s) => siteTimezone(s, locationById)))];
  const timezone = zones.length === 1 ? zones[0]! : zones.length === 0 && state.loc ? (locationById.get(state.loc)?.timezone ?? "UTC") : "UTC";
  const custom: [string, string] | null = state.range === "custom" && state.from && state.to ? [state.from, state.to] : null;
  const dateRange = custom ?? (state.range === "custom" ? "30d" : state.range);
  const filter: StatsFilter | null = state.filter ? ["is", state.filter.dim, [state.filter.value]] : null;
  return {
    me,
    state,
    navigate,
    href,
    scope,
    sites,
    timezone,
    dateRange,
    days: resolveRange(state.range, custom, timezone),
    filter,
    filterDim: state.filter?.dim ?? null,
    allLocations: me.role === "agency" && !me.sessionLocationId && !state.loc && !state.site,
    locationById,
    siteById,
  };
}

export const dimensionLabel = (d: Dimension): string => DIMENSION_LABELS[d];
