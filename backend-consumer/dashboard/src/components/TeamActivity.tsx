/**
 * Team activity, as an agency user sees it: headline figures, active users and time spent over time, and a table of
 * the team's users (sortable; a click opens the user's page). Every figure is the activity read API's answer for
 * the page's range; who is in it is the API's decision (the caller's scope), never the page's.
 */
import { useMemo, useState } from "preact/hooks";
import { activity } from "../api.ts";
import { activityBase, locationName, numberOf, personName, valueOf } from "../activity.ts";
import { usePage } from "../context.ts";
import { capitalise } from "../format.ts";
import { reportError, useLoad } from "../hooks.ts";
import type { ActivitySortKey } from "../state.ts";
import type { ActivityAnswer, ActivityMetric } from "../types.ts";
import { ActivityKpis, ActivityTrend, formatActivity, LastSeen, NoActivity } from "./ActivityParts.tsx";
import { activityTitle } from "./Header.tsx";
import { announce, LoadFailed, Loading, Panel } from "./ui.tsx";

const KPIS: ActivityMetric[] = ["active_users", "sessions", "page_views", "time_spent"];
const COLUMNS: { metric: ActivitySortKey; label: string }[] = [
  { metric: "last_seen", label: "Last seen" },
  { metric: "active_days", label: "Active days" },
  { metric: "sessions", label: "Sessions" },
  { metric: "page_views", label: "Page views" },
  { metric: "time_spent", label: "Time spent" },
];
const ROW_METRICS: ActivityMetric[] = COLUMNS.map((c) => c.metric);
const PAGE_SIZE = 200;

export function TeamActivity() {
  const page = usePage();
  const base = activityBase(page);
  const totals = useLoad(JSON.stringify(["activity-kpis", base]), (signal) => activity({ ...base, metrics: KPIS }, signal));
  const row = totals.data?.results[0];
  const values = totals.data ? Object.fromEntries(KPIS.map((m) => [m, valueOf(row, KPIS, m)])) : undefined;
  return (
    <>
      <h1 class="page-title">{activityTitle(page.me.role)}</h1>
      <p class="muted lead-text">What your team does inside the CRM: the pages they open and the time they actively spend there.</p>
      <ActivityKpis metrics={KPIS} values={values} loading={totals.loading} />
      <ActivityTrend
        title="Active users and time spent"
        series={[
          { metric: "active_users", label: "Active users", color: "#4f46e5", fill: "rgba(99, 102, 241, 0.10)" },
          { metric: "time_spent", label: "Time spent", color: "#0d9488", fill: "rgba(13, 148, 136, 0.08)" },
        ]}
      />
      <UsersTable />
    </>
  );
}

interface MoreRows {
  key: string;
  rows: ActivityAnswer["results"];
  users: ActivityAnswer["meta"]["users"];
  loading: boolean;
}

function UsersTable() {
  const page = usePage();
  const base = activityBase(page);
  const sort = page.state.sort;
  const key = JSON.stringify(["activity-users", base, sort]);
  const ask = (offset: number, signal?: AbortSignal): Promise<ActivityAnswer> =>
    activity({ ...base, metrics: ROW_METRICS, dimensions: ["activity:user"], order_by: [[sort.by, sort.dir]], pagination: { limit: PAGE_SIZE, offset } }, signal);
  const first = useLoad(key, (signal) => ask(0, signal));
  // where each user was active (their busiest location first)
  const places = useLoad(JSON.stringify(["activity-user-locations", base]), (signal) =>
    activity({ ...base, metrics: ["time_spent"], dimensions: ["activity:user", "activity:location"], order_by: [["time_spent", "desc"]], pagination: { limit: 1000 } }, signal),
  );
  const [more, setMore] = useState<MoreRows>({ key: "", rows: [], users: {}, loading: false });
  const extra = more.key === key ? more : { key, rows: [], users: {}, loading: false };
  const rows = [...(first.data?.results ?? []), ...extra.rows];
  const total = first.data?.meta.total_rows ?? 0;

  const locationsOf = useMemo(() => {
    const out = new Map<string, string[]>();
    for (const r of places.data?.results ?? []) {
      const [user, loc] = r.dimensions;
      if (!user || !loc) continue;
      out.set(user, [...(out.get(user) ?? []), locationName(loc, places.data, page)]);
    }
    return out;
  }, [places.data, page.locationById]);

  const loadMore = async (): Promise<void> => {
    setMore({ ...extra, loading: true });
    try {
      const next = await ask(rows.length);
      setMore({ key, rows: [...extra.rows, ...next.results], users: { ...extra.users, ...next.meta.users }, loading: false });
      announce(`${next.results.length} more users loaded`);
    } catch (err) {
      reportError(err);
      setMore({ ...extra, loading: false });
    }
  };

  const people = { ...(first.data?.meta.users ?? {}), ...extra.users };
  return (
    <Panel title="Users" busy={first.loading} testid="activity-users">
      {first.loading && !first.data ? (
        <Loading rows={5} />
      ) : first.error ? (
        <LoadFailed title="Could not load the team's activity" onRetry={first.reload} />
      ) : rows.length === 0 ? (
        <NoActivity />
      ) : (
        <>
          <div class="table-scroll">
            <table class={`data-table activity-table ${first.loading ? "stale" : ""}`}>
              <caption class="sr-only">Users active in the CRM in this period. Sorted by {COLUMNS.find((c) => c.metric === sort.by)?.label.toLowerCase()}, {sort.dir === "desc" ? "descending" : "ascending"}.</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Location</th>
                  <th scope="col">Role</th>
                  {COLUMNS.map((c) => (
                    <SortHeader key={c.metric} metric={c.metric} label={c.label} />
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => {
                  const id = r.dimensions[0] ?? "";
                  const person = people[id];
                  const locs = locationsOf.get(id) ?? [];
                  const open = (): void => page.navigate({ view: { name: "activity-user", id } });
                  return (
                    <tr key={id} class="clickable" data-testid="activity-user-row" data-user-id={id} onClick={open}>
                      <th scope="row">
                        <a
                          href={page.href({ view: { name: "activity-user", id } })}
                          onClick={(e) => {
                            if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                            e.preventDefault();
                            e.stopPropagation();
                            open();
                          }}
                        >
                          {personName(person, id)}
                        </a>
                        {person?.name ? <span class="muted small block">{person.email}</span> : null}
                      </th>
                      <td class="truncate-cell" title={locs.join(", ")} data-testid="activity-user-location">
                        {locs[0] ?? <span class="muted">—</span>}
                        {locs.length > 1 ? <span class="muted small"> +{locs.length - 1}</span> : null}
                      </td>
                      <td>{person ? capitalise(person.role) : "—"}</td>
                      {COLUMNS.map((c) => {
                        const v = valueOf(r, ROW_METRICS, c.metric);
                        return (
                          <td key={c.metric} class="num nowrap" data-metric={c.metric} data-value={v ?? ""}>
                            {c.metric === "last_seen" ? <LastSeen at={typeof v === "string" ? v : null} tz={page.timezone} /> : formatActivity(c.metric, numberOf(v))}
                          </td>
                        );
                      })}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <div class="panel-foot">
            <span class="muted small" aria-live="polite">
              {rows.length} of {total} {total === 1 ? "user" : "users"} shown
            </span>
            {rows.length < total ? (
              <button type="button" class="button" data-testid="activity-users-more" onClick={() => void loadMore()} disabled={extra.loading}>
                {extra.loading ? "Loading…" : "Load more"}
              </button>
            ) : null}
          </div>
        </>
      )}
    </Panel>
  );
}

/** A column header that sorts the table by its metric (a second click turns the order round). */
function SortHeader(props: { metric: ActivitySortKey; label: string }) {
  const page = usePage();
  const sort = page.state.sort;
  const active = sort.by === props.metric;
  const next = active ? { by: props.metric, dir: sort.dir === "desc" ? ("asc" as const) : ("desc" as const) } : { by: props.metric, dir: "desc" as const };
  return (
    <th scope="col" class="num" aria-sort={active ? (sort.dir === "desc" ? "descending" : "ascending") : undefined}>
      <button type="button" class={`sort-button ${active ? "sort-active" : ""}`} data-testid={`sort-${props.metric}`} onClick={() => page.navigate({ sort: next })}>
        {props.label}
        <span aria-hidden="true" class="sort-arrow">
          {active ? (sort.dir === "desc" ? "↓" : "↑") : "↕"}
        </span>
      </button>
    </th>
  );
}
