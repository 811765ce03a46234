/** Pieces of the team activity screens: headline figures, the trend charts, last seen, the empty state. */
import { useMemo } from "preact/hooks";
import { activity } from "../api.ts";
import { activityBase, bucketKey, numberOf, valueOf } from "../activity.ts";
import { usePage } from "../context.ts";
import { bucketsOf, formatInstant } from "../dates.ts";
import { formatAgo, formatCount, formatSpent } from "../format.ts";
import { useLoad } from "../hooks.ts";
import type { ActivityFilter, ActivityMetric } from "../types.ts";
import { Chart, type Series } from "./Chart.tsx";
import { Empty, IntervalSwitch, LoadFailed, Loading, Panel } from "./ui.tsx";

export const ACTIVITY_LABELS: Record<ActivityMetric, string> = {
  active_users: "Active users",
  sessions: "Sessions",
  page_views: "Page views",
  time_spent: "Time spent",
  active_days: "Active days",
  last_seen: "Last seen",
};

/** A metric's value as the section shows it. */
export function formatActivity(metric: ActivityMetric, value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (metric === "time_spent") return formatSpent(Number(value));
  if (metric === "last_seen") return typeof value === "string" ? formatAgo(value) : "—";
  return formatCount(Number(value));
}

/** "5 minutes ago", with the exact instant in the title. */
export function LastSeen(props: { at: string | null; tz: string }) {
  if (!props.at) return <span class="muted">—</span>;
  return (
    <time dateTime={props.at} title={formatInstant(props.at, props.tz)}>
      {formatAgo(props.at)}
    </time>
  );
}

export function NoActivity() {
  return (
    <Empty title="No CRM activity in this period" icon="chart">
      Is the Custom JS installed? See “Team activity” in the README: the app's Custom JS reports the CRM pages your team opens.
      Try a longer date range.
    </Empty>
  );
}

/** A row of headline figures; `values` undefined while loading. */
export function ActivityKpis(props: { metrics: ActivityMetric[]; values: Partial<Record<ActivityMetric, number | string | null>> | undefined; loading: boolean }) {
  return (
    <section class="kpis kpis-4" aria-label="Key figures" aria-busy={props.loading ? "true" : "false"}>
      {props.metrics.map((m) => (
        <div key={m} class={`kpi ${props.loading ? "stale" : ""}`} data-testid={`activity-kpi-${m}`}>
          <h2 class="kpi-label">{ACTIVITY_LABELS[m]}</h2>
          {props.values ? (
            <p class="kpi-value" data-testid="kpi-value">
              {formatActivity(m, props.values[m] ?? (m === "last_seen" ? null : 0))}
            </p>
          ) : (
            <p class="kpi-value">
              <span class="skeleton skeleton-inline" aria-hidden="true" />
              <span class="sr-only">Loading</span>
            </p>
          )}
        </div>
      ))}
    </section>
  );
}

interface TrendSeries {
  metric: "active_users" | "page_views" | "sessions" | "time_spent";
  label: string;
  color: string;
  fill?: string;
}

/**
 * One small chart per metric (their scales differ: people and minutes), by the page's interval. `filters` replace
 * the page's (a user's page is about that user wherever they were).
 */
export function ActivityTrend(props: { title: string; series: TrendSeries[]; filters?: ActivityFilter[] }) {
  const page = usePage();
  const interval = page.state.interval;
  const base = activityBase(page);
  const filters = props.filters ?? base.filters ?? [];
  const metrics = props.series.map((s) => s.metric);
  const key = JSON.stringify(["activity-trend", base, filters, metrics, interval]);
  // the answer keeps the interval and days it was asked for, so a new interval never reads the last answer's rows
  const res = useLoad(key, async (signal) => ({
    interval,
    days: page.days,
    answer: await activity({ ...base, filters, metrics, dimensions: [`time:${interval}`], pagination: { limit: 1000 } }, signal),
  }));

  const charts = useMemo(() => {
    if (!res.data) return null;
    const { answer, interval: asked, days } = res.data;
    const buckets = bucketsOf(days[0], days[1], asked);
    const byBucket = new Map(answer.results.map((r) => [bucketKey(r.dimensions[0] ?? ""), r]));
    return props.series.map((s) => {
      const raw = buckets.map((b) => numberOf(valueOf(byBucket.get(b), metrics, s.metric)));
      // time in minutes (one decimal): the axis counts, and people read minutes
      const values = s.metric === "time_spent" ? raw.map((v) => Math.round(v / 6) / 10) : raw;
      const series: Series = { label: s.metric === "time_spent" ? `${s.label} (minutes)` : s.label, values, color: s.color, ...(s.fill ? { fill: s.fill } : {}) };
      return { metric: s.metric, buckets, interval: asked, series: [series] };
    });
  }, [res.data]);

  const actions = <IntervalSwitch interval={interval} />;

  return (
    <Panel title={props.title} actions={actions} busy={res.loading} class="trend" testid="activity-trend">
      {charts ? (
        <div class={`activity-charts ${res.loading ? "stale" : ""}`}>
          {charts.map((c) => (
            <div key={c.metric} class="chart-wrap" data-testid={`activity-chart-${c.metric}`} data-buckets={c.buckets.length}>
              <Chart buckets={c.buckets} series={c.series} interval={c.interval} height={200} />
            </div>
          ))}
        </div>
      ) : res.error ? (
        <LoadFailed title="Could not load the chart" onRetry={res.reload} />
      ) : (
        <Loading label="Loading the chart…" rows={0} />
      )}
    </Panel>
  );
}
