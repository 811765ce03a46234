/** The overview: the filter, KPI cards with the change against the previous period, the trend, breakdowns. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { pool, stats } from "../api.ts";
import { dimensionLabel, usePage } from "../context.ts";
import { bucketsOf, daysIn, formatRange, previousRange } from "../dates.ts";
import { change, formatMetric } from "../format.ts";
import { useForms } from "../forms.ts";
import { answeredRange, reportError, useLoad } from "../hooks.ts";
import { METRIC_LABELS, metricAnswers, type Dimension, type Metric } from "../stats-meta.ts";
import type { StatsAnswer } from "../types.ts";
import { Breakdown, valueLabel, type BreakdownTab } from "./Breakdown.tsx";
import { Chart, type Series } from "./Chart.tsx";
import { rangeKey } from "./Header.tsx";
import { ChangeBadge, Empty, IntervalSwitch, LoadFailed, Loading, Panel } from "./ui.tsx";

const SOURCE_TABS: BreakdownTab[] = [
  { dim: "visit:source", label: "Source" },
  { dim: "visit:utm_source", label: "utm_source" },
  { dim: "visit:utm_medium", label: "utm_medium" },
  { dim: "visit:utm_campaign", label: "utm_campaign" },
];

export function Overview() {
  const page = usePage();
  const isSourceDim = (d: Dimension | null): d is Dimension => SOURCE_TABS.some((t) => t.dim === d);
  const [sources, setSources] = useState<Dimension>(isSourceDim(page.filterDim) ? page.filterDim : "visit:source");
  // a new filter on one of the sources' dimensions shows that dimension there
  useEffect(() => {
    if (isSourceDim(page.filterDim)) setSources(page.filterDim);
  }, [page.filterDim]);
  return (
    <>
      <h1 class="sr-only">Overview</h1>
      <FilterBar />
      <Kpis />
      <Trend />
      {page.allLocations ? <LocationsTable /> : null}
      <div class="grid-2">
        <Breakdown title="Top pages" tabs={[{ dim: "event:page", label: "Page" }]} tab="event:page" metrics={["pageviews", "visitors", "time_on_page"]} valueHeader="Page" />
        <Breakdown title="Entry pages" tabs={[{ dim: "visit:entry_page", label: "Entry page" }]} tab="visit:entry_page" metrics={["visits", "bounce_rate"]} valueHeader="Entry page" />
        <Breakdown title="Sources" tabs={SOURCE_TABS} tab={sources} onTab={setSources} metrics={["visits", "conversion_rate"]} valueHeader={dimensionLabel(sources)} />
        <Breakdown title="Countries" tabs={[{ dim: "visit:country", label: "Country" }]} tab="visit:country" metrics={["visitors"]} valueHeader="Country" />
        <Breakdown title="Devices" tabs={[{ dim: "visit:device", label: "Device" }]} tab="visit:device" metrics={["visitors"]} valueHeader="Device" />
        <Breakdown title="Browsers" tabs={[{ dim: "visit:browser", label: "Browser" }]} tab="visit:browser" metrics={["visitors"]} valueHeader="Browser" />
      </div>
    </>
  );
}

function FilterBar() {
  const page = usePage();
  const f = page.state.filter;
  const { forms } = useForms(f?.dim === "event:form" ? page.sites : []);
  if (!f) return <p class="filter-hint muted">Click a value in any panel below to filter the page by it.</p>;
  const shown = f.dim === "event:form" ? (forms.get(f.value)?.name ?? f.value) : valueLabel(f.dim, f.value);
  const text = `${dimensionLabel(f.dim)} is ${shown}`;
  return (
    <div class="filter-bar" role="region" aria-label="Filter">
      <span class="chip" data-testid="filter-chip">
        <span class="chip-text">
          <span class="muted">{dimensionLabel(f.dim)} is </span>
          <strong>{shown}</strong>
        </span>
        <button type="button" class="chip-remove" aria-label={`Remove filter: ${text}`} data-testid="filter-remove" onClick={() => page.navigate({ filter: null })}>
          ×
        </button>
      </span>
      <span class="muted small">Statistics are kept per dimension: panels of other dimensions cannot apply this filter and say so.</span>
    </div>
  );
}

const KPIS: { metric: Metric; label: string }[] = [
  { metric: "visitors", label: "Unique visitors" },
  { metric: "visits", label: "Total visits" },
  { metric: "pageviews", label: "Pageviews" },
  { metric: "leads", label: "Leads" },
  { metric: "conversion_rate", label: "Conversion rate" },
  { metric: "time_on_page", label: "Avg. time on page" },
];

/** A totals answer's value: no row at all means nothing happened (0), except for ratios, which have none. */
function totalOf(answer: StatsAnswer | undefined, metrics: Metric[], m: Metric): number | null {
  const i = metrics.indexOf(m);
  if (!answer || i < 0) return null;
  const row = answer.results[0];
  if (!row) return m === "conversion_rate" || m === "time_on_page" || m === "bounce_rate" || m === "visit_duration" || m === "views_per_visit" ? null : 0;
  return row.metrics[i] ?? null;
}

function Kpis() {
  const page = usePage();
  const metrics = KPIS.map((k) => k.metric).filter((m) => metricAnswers(m, page.filterDim));
  const key = JSON.stringify(["kpis", page.scope, page.dateRange, metrics, page.filter]);
  const res = useLoad(key, async (signal) => {
    const base = { scope: page.scope, metrics, filters: page.filter ? [page.filter] : [] };
    const current = await stats({ ...base, date_range: page.dateRange }, signal);
    answeredRange.set({ key: rangeKey(page.scope, page.dateRange), range: current.meta.date_range, timezone: current.meta.timezone });
    const previous = await stats({ ...base, date_range: previousRange(current.meta.date_range), timezone: current.meta.timezone }, signal);
    return { current, previous };
  });

  const compared = res.data ? KPIS.some(({ metric }) => metrics.includes(metric) && (totalOf(res.data!.previous, metrics, metric) ?? 0) > 0) : false;
  const prevRange = res.data ? previousRange(res.data.current.meta.date_range) : null;
  return (
    <>
      <section class="kpis" aria-label="Key figures" aria-busy={res.loading ? "true" : "false"}>
        {KPIS.map(({ metric, label }) => {
          const blocked = !metrics.includes(metric);
          const value = totalOf(res.data?.current, metrics, metric);
          const previous = totalOf(res.data?.previous, metrics, metric);
          return (
            <div key={metric} class={`kpi ${res.loading ? "stale" : ""}`} data-testid={`kpi-${metric}`}>
              <h2 class="kpi-label">{label}</h2>
              {res.loading && !res.data ? (
                <p class="kpi-value">
                  <span class="skeleton skeleton-inline" aria-hidden="true" />
                  <span class="sr-only">Loading</span>
                </p>
              ) : (
                <p class="kpi-value" data-testid="kpi-value">
                  {blocked ? "—" : formatMetric(metric, value)}
                </p>
              )}
              <p class="kpi-change" data-testid="kpi-change">
                {blocked ? (
                  <span class="muted small">Not filterable by {dimensionLabel(page.filterDim!).toLowerCase()}</span>
                ) : res.data ? (
                  <>
                    <ChangeBadge value={change(value, previous)} />
                    {previous === null || previous === 0 ? (
                      <span class="sr-only"> no earlier data to compare with</span>
                    ) : (
                      <>
                        <span class="muted small"> from {formatMetric(metric, previous)}</span>
                        <span class="sr-only"> in the previous period</span>
                      </>
                    )}
                  </>
                ) : (
                  <span class="muted small">&nbsp;</span>
                )}
              </p>
            </div>
          );
        })}
      </section>
      <p class="kpi-caption muted small">
        {compared && prevRange ? `Changes compare with the previous ${daysIn(prevRange[0], prevRange[1])} days, ${formatRange(prevRange)}.` : "\u00a0"}
      </p>
    </>
  );
}

function Trend() {
  const page = usePage();
  const interval = page.state.interval;
  const key = JSON.stringify(["trend", page.scope, page.dateRange, interval, page.filter]);
  // the answer keeps the interval it was asked by: until the next one arrives, the chart shows the last one as it was
  // (not the last answer's rows in the new interval's buckets, which would read as zeros)
  const res = useLoad(key, async (signal) => ({
    interval,
    answer: await stats(
      {
        scope: page.scope,
        metrics: ["visitors", "pageviews"],
        dimensions: [`time:${interval}`],
        date_range: page.dateRange,
        filters: page.filter ? [page.filter] : [],
        pagination: { limit: 1000 },
      },
      signal,
    ),
  }));

  const chart = useMemo(() => {
    if (!res.data) return null;
    const { answer, interval: asked } = res.data;
    const [from, to] = answer.meta.date_range;
    const buckets = bucketsOf(from, to, asked);
    const byBucket = new Map(answer.results.map((r) => [r.dimensions[0] ?? "", r.metrics]));
    const values = (i: number): number[] => buckets.map((b) => byBucket.get(b)?.[i] ?? 0);
    const series: Series[] = [
      { label: "Visitors", values: values(0), color: "#4f46e5", fill: "rgba(99, 102, 241, 0.10)" },
      { label: "Pageviews", values: values(1), color: "#0d9488" },
    ];
    return { buckets, series, interval: asked, empty: series.every((s) => s.values.every((v) => v === 0)) };
  }, [res.data]);

  const actions = <IntervalSwitch interval={interval} />;

  return (
    <Panel title="Visitors and pageviews" actions={actions} busy={res.loading} class="trend">
      <div class="chart-wrap" data-testid="chart" data-buckets={chart?.buckets.length ?? 0}>
        {chart ? (
          <>
            <Chart buckets={chart.buckets} series={chart.series} interval={chart.interval} />
            {chart.empty && !res.loading ? (
              <div class="chart-empty">
                <p class="empty-title">No visitors in this period yet</p>
                <p class="muted">
                  Once the snippet is on the site, visits show here within a minute.{" "}
                  <a
                    href={page.href({ view: { name: "install" } })}
                    onClick={(e) => {
                      e.preventDefault();
                      page.navigate({ view: { name: "install" } });
                    }}
                  >
                    Check the installation
                  </a>
                </p>
              </div>
            ) : null}
          </>
        ) : res.error ? (
          <LoadFailed title="Could not load the chart" onRetry={res.reload} />
        ) : (
          <Loading label="Loading the chart…" rows={0} />
        )}
      </div>
    </Panel>
  );
}

const COMPARE: Metric[] = ["visitors", "visits", "leads", "conversion_rate"];

function LocationsTable() {
  const page = usePage();
  const locations = page.me.locations;
  const metrics = COMPARE.filter((m) => metricAnswers(m, page.filterDim));
  const key = JSON.stringify(["locations", locations.map((l) => l.id), page.dateRange, metrics, page.filter]);
  const res = useLoad(key, async (signal) => {
    const settled = await pool(
      locations.map((l) => () => stats({ scope: { locationIds: [l.id] }, metrics, date_range: page.dateRange, filters: page.filter ? [page.filter] : [] }, signal)),
      4,
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed && settled.every((s) => s.status === "rejected")) throw failed.reason;
    if (failed) reportError(failed.reason);
    return settled;
  });

  const rows = useMemo(() => {
    const list = locations.map((l, i) => {
      const s = res.data?.[i];
      const answer = s?.status === "fulfilled" ? s.value : undefined;
      return { location: l, failed: s?.status === "rejected", values: COMPARE.map((m) => totalOf(answer, metrics, m)) };
    });
    return list.sort((a, b) => (b.values[0] ?? -1) - (a.values[0] ?? -1) || a.location.name.localeCompare(b.location.name));
  }, [res.data, locations, metrics.join()]);

  const blocked = COMPARE.filter((m) => !metrics.includes(m));
  return (
    <Panel title="Locations" busy={res.loading} testid="locations-table">
      {blocked.length ? (
        <p class="muted small panel-note">
          {listOf(blocked.map((m, i) => (i === 0 ? formatMetricName(m) : formatMetricName(m).toLowerCase())))}: not filterable by{" "}
          {dimensionLabel(page.filterDim!).toLowerCase()}.
        </p>
      ) : null}
      {locations.length === 0 ? (
        <Empty title="No locations yet" icon="inbox" />
      ) : res.error ? (
        <LoadFailed title="Could not load the locations" onRetry={res.reload} />
      ) : res.loading && !res.data ? (
        <Loading rows={Math.min(locations.length, 5)} />
      ) : (
        <div class="table-scroll">
          <table class={`data-table ${res.loading ? "stale" : ""}`}>
            <thead>
              <tr>
                <th scope="col">Location</th>
                {COMPARE.map((m) => (
                  <th key={m} scope="col" class="num">
                    {formatMetricName(m)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.location.id} class="clickable" data-testid="location-row" data-location-id={r.location.id} onClick={() => page.navigate({ loc: r.location.id, site: null })}>
                  <th scope="row">
                    <a
                      href={page.href({ loc: r.location.id, site: null })}
                      onClick={(e) => {
                        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                        e.preventDefault();
                        e.stopPropagation();
                        page.navigate({ loc: r.location.id, site: null });
                      }}
                    >
                      {r.location.name}
                    </a>
                    <span class="muted small"> {r.location.timezone}</span>
                  </th>
                  {COMPARE.map((m, i) => (
                    <td key={m} class="num">
                      {r.failed ? <span class="muted">failed</span> : metrics.includes(m) ? formatMetric(m, r.values[i]) : <span class="muted">n/a</span>}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

const formatMetricName = (m: Metric): string => METRIC_LABELS[m];
/** "a", "a and b", "a, b and c". */
const listOf = (items: string[]): string => (items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`);
