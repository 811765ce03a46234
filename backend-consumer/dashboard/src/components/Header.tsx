/** Product and tenant, the location / site / date range pickers, and the tabs. */
import { useEffect, useState } from "preact/hooks";
import { auth } from "../auth.ts";
import { usePage } from "../context.ts";
import { formatRange, isDay, RANGE_LABELS, RANGES, type RangeKey } from "../dates.ts";
import { answeredRange, useStore } from "../hooks.ts";
import type { TopView } from "../state.ts";

export const rangeKey = (scope: unknown, dateRange: unknown): string => JSON.stringify([scope, dateRange]);

const TABS: { view: TopView; label: string }[] = [
  { view: "overview", label: "Overview" },
  { view: "leads", label: "Leads" },
  { view: "forms", label: "Forms" },
  { view: "activity", label: "Team activity" },
  { view: "install", label: "Install" },
];

/** A location user's activity section shows only their own activity: it says so. */
export const activityTitle = (role: "agency" | "location"): string => (role === "agency" ? "Team activity" : "My activity");

export function Header(props: { canSignOut: boolean }) {
  const page = usePage();
  const { me, state, navigate } = page;
  // a user's activity page covers every location they were in: no location to pick there
  const showLocations = me.role === "agency" && !me.sessionLocationId && me.locations.length > 0 && state.view.name !== "activity-user";
  const siteOptions = me.sites.filter((s) => !state.loc || s.locationId === state.loc);
  const groupSites = showLocations && !state.loc && me.locations.length > 1;
  const activeTab: TopView = state.view.name === "lead" ? "leads" : state.view.name === "activity-user" ? "activity" : state.view.name;
  // CRM activity is not about websites: the site picker does not apply to it
  const showSites = activeTab !== "activity";
  const sessionLocation = me.sessionLocationId ? page.locationById.get(me.sessionLocationId) : undefined;

  const answered = useStore(answeredRange);
  const shown = answered && answered.key === rangeKey(page.scope, page.dateRange) ? answered : { range: page.days, timezone: page.timezone };

  return (
    <header class="topbar">
      <div class="topbar-inner">
        <div class="brand-row">
          <span class="brand">
            <span class="brand-mark" aria-hidden="true" />
            Lead Tracker
          </span>
          <span class="tenant" title="Agency">
            {me.tenantName}
            {sessionLocation ? <span class="tenant-location"> · {sessionLocation.name}</span> : null}
          </span>
          <span class="spacer" />
          <span class="user" title={me.email}>
            {me.name ?? me.email}
          </span>
          {props.canSignOut ? (
            <button type="button" class="button button-small" onClick={() => auth.signOut()}>
              Sign out
            </button>
          ) : null}
        </div>

        <div class="controls" role="group" aria-label="What to show">
          {showLocations ? (
            <div class="control">
              <label for="location-switcher">Location</label>
              <select
                id="location-switcher"
                data-testid="location-switcher"
                value={state.loc ?? ""}
                onChange={(e) => navigate({ loc: e.currentTarget.value || null, site: null })}
              >
                <option value="">All locations</option>
                {me.locations.map((l) => (
                  <option key={l.id} value={l.id}>
                    {l.name}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          {showSites ? (
            <div class="control">
              <label for="site-select">Site</label>
              <select
                id="site-select"
                data-testid="site-select"
                value={state.site ?? ""}
                onChange={(e) => {
                  const id = e.currentTarget.value || null;
                  const site = id ? page.siteById.get(id) : undefined;
                  navigate({ site: id, ...(site && showLocations ? { loc: site.locationId } : {}) });
                }}
              >
                <option value="">All sites</option>
                {groupSites
                  ? me.locations.map((l) => {
                      const inLoc = siteOptions.filter((s) => s.locationId === l.id);
                      return inLoc.length ? (
                        <optgroup key={l.id} label={l.name}>
                          {inLoc.map((s) => (
                            <option key={s.id} value={s.id}>
                              {s.name}
                            </option>
                          ))}
                        </optgroup>
                      ) : null;
                    })
                  : siteOptions.map((s) => (
                      <option key={s.id} value={s.id}>
                        {s.name}
                      </option>
                    ))}
              </select>
            </div>
          ) : null}
          <RangePicker />
          <span class="spacer" />
          <p class="range-label" data-testid="date-range">
            <span>{formatRange(shown.range)}</span>
            <span class="muted"> · {shown.timezone}</span>
          </p>
        </div>

        <nav class="tabs" aria-label="Sections">
          {TABS.map((t) => (
            <a
              key={t.view}
              href={page.href({ view: { name: t.view } })}
              class={`tab ${activeTab === t.view ? "tab-active" : ""}`}
              aria-current={activeTab === t.view ? "page" : undefined}
              data-testid={`tab-${t.view}`}
              onClick={(e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                navigate({ view: { name: t.view } });
              }}
            >
              {t.view === "activity" ? activityTitle(me.role) : t.label}
            </a>
          ))}
        </nav>
      </div>
    </header>
  );
}

function RangePicker() {
  const page = usePage();
  const { state, navigate } = page;
  const [choosing, setChoosing] = useState(false);
  const [from, setFrom] = useState(page.days[0]);
  const [to, setTo] = useState(page.days[1]);
  const custom = choosing || state.range === "custom";

  useEffect(() => {
    setFrom(page.days[0]);
    setTo(page.days[1]);
  }, [page.days[0], page.days[1]]);

  const invalid = !isDay(from) || !isDay(to) || from > to;
  return (
    <>
      <div class="control">
        <label for="range-select">Date range</label>
        <select
          id="range-select"
          data-testid="range-select"
          value={custom ? "custom" : state.range}
          onChange={(e) => {
            const value = e.currentTarget.value as RangeKey;
            if (value === "custom") setChoosing(true);
            else {
              setChoosing(false);
              navigate({ range: value, from: null, to: null });
            }
          }}
        >
          {RANGES.map((r) => (
            <option key={r} value={r}>
              {RANGE_LABELS[r]}
            </option>
          ))}
        </select>
      </div>
      {custom ? (
        <form
          class="custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            if (invalid) return;
            setChoosing(false);
            navigate({ range: "custom", from, to });
          }}
        >
          <div class="control">
            <label for="range-from">From</label>
            <input id="range-from" type="date" value={from} max={to} required onInput={(e) => setFrom(e.currentTarget.value)} />
          </div>
          <div class="control">
            <label for="range-to">To</label>
            <input id="range-to" type="date" value={to} min={from} required onInput={(e) => setTo(e.currentTarget.value)} />
          </div>
          <button type="submit" class="button" disabled={invalid}>
            Apply
          </button>
          {choosing && state.range !== "custom" ? (
            <button type="button" class="button button-quiet" onClick={() => setChoosing(false)}>
              Cancel
            </button>
          ) : null}
        </form>
      ) : null}
    </>
  );
}
