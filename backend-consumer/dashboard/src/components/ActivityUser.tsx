/**
 * One user's CRM activity: totals, time spent over time, their top CRM pages by time spent, and their sessions
 * (newest first) with the pages of each in order. A location user's "My activity" is this page for themselves.
 * A user the caller may not see is a 404 from the API, and the page says "not available": nothing else is shown.
 */
import { activityUser } from "../api.ts";
import { locationZone } from "../activity.ts";
import { usePage } from "../context.ts";
import { formatInstant } from "../dates.ts";
import { capitalise, formatCount, formatSpent } from "../format.ts";
import { useLoad } from "../hooks.ts";
import type { ActivitySession, ActivityUserDetail } from "../types.ts";
import { ActivityKpis, ActivityTrend, LastSeen, NoActivity } from "./ActivityParts.tsx";
import { activityTitle } from "./Header.tsx";
import { Empty, LoadFailed, Loading, Panel } from "./ui.tsx";

export function ActivityUser(props: { id: string }) {
  const page = usePage();
  const self = props.id === page.me.userId;
  const res = useLoad(JSON.stringify(["activity-user", props.id, page.dateRange, page.timezone]), (signal) => activityUser(props.id, page.dateRange, page.timezone, signal));
  const detail = res.data;

  const back =
    page.me.role === "agency" ? (
      <a
        class="back-link"
        href={page.href({ view: { name: "activity" } })}
        onClick={(e) => {
          if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          page.navigate({ view: { name: "activity" } });
        }}
      >
        ← {activityTitle("agency")}
      </a>
    ) : null;

  if (detail === null) {
    return (
      <>
        {back}
        <h1 class="page-title">Activity not available</h1>
        <div class="panel" data-testid="activity-not-available">
          <Empty title="This user's activity is not available to you" icon="inbox">
            The user does not exist, or their activity is not yours to see.{" "}
            {page.me.role === "location" && !self ? (
              <a
                href={page.href({ view: { name: "activity" } })}
                onClick={(e) => {
                  e.preventDefault();
                  page.navigate({ view: { name: "activity" } });
                }}
              >
                Show my activity
              </a>
            ) : null}
          </Empty>
        </div>
      </>
    );
  }
  if (!detail) {
    return (
      <>
        {back}
        <h1 class="page-title">{self && page.me.role === "location" ? activityTitle("location") : "Activity"}</h1>
        {res.error ? (
          <LoadFailed title="Could not load this activity" onRetry={res.reload} />
        ) : (
          <Loading rows={6} />
        )}
      </>
    );
  }

  const { user, totals } = detail;
  const name = user.name || user.email;
  return (
    <>
      {back}
      <div class="lead-head">
        <div>
          <h1 class="page-title" data-testid="activity-user-name">
            {self && page.me.role === "location" ? `${activityTitle("location")} · ${name}` : name}
          </h1>
          <p class="muted">
            {user.name ? `${user.email} · ` : ""}
            {capitalise(user.role)} user · last seen <LastSeen at={totals.last_seen} tz={page.timezone} />
          </p>
        </div>
      </div>
      <ActivityKpis metrics={["sessions", "page_views", "time_spent", "active_days"]} values={totals} loading={res.loading} />
      {totals.sessions === 0 && detail.sessions.length === 0 ? (
        <div class="panel">
          <NoActivity />
        </div>
      ) : (
        <>
          <ActivityTrend
            title="Page views and time spent"
            filters={[["is", "activity:user", [user.id]]]}
            series={[
              { metric: "page_views", label: "Page views", color: "#4f46e5", fill: "rgba(99, 102, 241, 0.10)" },
              { metric: "time_spent", label: "Time spent", color: "#0d9488", fill: "rgba(13, 148, 136, 0.08)" },
            ]}
          />
          <div class="lead-grid">
            <Sessions detail={detail} />
            <TopPages pages={detail.pages} />
          </div>
        </>
      )}
    </>
  );
}

function TopPages(props: { pages: ActivityUserDetail["pages"] }) {
  const most = Math.max(1, ...props.pages.map((p) => p.time_spent));
  return (
    <Panel title="Top CRM pages" testid="activity-top-pages">
      {props.pages.length === 0 ? (
        <p class="muted">No pages in this period.</p>
      ) : (
        <table class="breakdown-table">
          <caption class="sr-only">The user's CRM pages by time spent</caption>
          <thead>
            <tr>
              <th scope="col">Page</th>
              <th scope="col" class="num">
                Views
              </th>
              <th scope="col" class="num">
                Time spent
              </th>
            </tr>
          </thead>
          <tbody>
            {props.pages.map((p) => (
              <tr key={p.page} data-testid="activity-page-row" data-page={p.page}>
                <td class="bar-cell">
                  <span class="bar" style={{ width: `${Math.max(2, (p.time_spent / most) * 100)}%` }} aria-hidden="true" />
                  <span class="bar-label truncate" title={p.page}>
                    {p.page}
                  </span>
                </td>
                <td class="num" data-metric="views">
                  {formatCount(p.views)}
                </td>
                <td class="num" data-metric="time_spent">
                  {formatSpent(p.time_spent)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function Sessions(props: { detail: ActivityUserDetail }) {
  const { sessions } = props.detail;
  return (
    <Panel title="Sessions" testid="activity-sessions">
      {sessions.length === 0 ? (
        <p class="muted">No sessions in this period.</p>
      ) : (
        <>
          <ol class="activity-sessions">
            {sessions.map((s) => (
              <SessionItem key={s.id} session={s} />
            ))}
          </ol>
          {props.detail.totals.sessions > sessions.length ? (
            <p class="muted small panel-foot">
              The latest {sessions.length} of {formatCount(props.detail.totals.sessions)} sessions. Choose a shorter date range for earlier ones.
            </p>
          ) : null}
        </>
      )}
    </Panel>
  );
}

const clock = (iso: string, tz: string): string => formatInstant(iso, tz).split(", ")[1] ?? "";

function SessionItem({ session: s }: { session: ActivitySession }) {
  const page = usePage();
  const tz = locationZone(s.location.id, page);
  const views = `${formatCount(s.page_views)} page ${s.page_views === 1 ? "view" : "views"}`;
  return (
    <li class="activity-session" data-testid="activity-session" data-session-id={s.id}>
      <p class="session-head">
        <strong>
          <time dateTime={s.start}>{formatInstant(s.start, tz)}</time> – <time dateTime={s.end}>{clock(s.end, tz)}</time>
        </strong>
        <span class="muted">
          {" "}
          · {s.location.name} · {views} ·{" "}
        </span>
        <span data-testid="session-time">{formatSpent(s.time_spent)}</span>
      </p>
      <ol class="session-pages">
        {s.pages.map((p, i) => (
          <li key={`${p.at}-${i}`} class="session-page" data-testid="session-page">
            <time class="muted small" dateTime={p.at}>
              {clock(p.at, tz)}
            </time>
            <span class="session-page-name">
              <strong>{p.page}</strong>
              <span class="muted small truncate" title={p.path}>
                {" "}
                {p.path}
              </span>
            </span>
            <span class="small nowrap">{formatSpent(p.time_spent)}</span>
          </li>
        ))}
      </ol>
    </li>
  );
}
