/**
 * A top-10 panel for one dimension, with bars proportional to its first metric. Clicking a value filters the page
 * by it. The stats API filters only on the dimension a query breaks down by, so while the page is filtered by
 * another dimension the panel says so instead of showing numbers that ignore the filter.
 */
import { stats } from "../api.ts";
import { dimensionLabel, usePage } from "../context.ts";
import { capitalise, countryName, formatMetric } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { METRIC_LABELS, type Dimension, type Metric } from "../stats-meta.ts";
import { Empty, LoadFailed, Loading, NotFilterable, Panel } from "./ui.tsx";

export interface BreakdownTab {
  dim: Dimension;
  label: string;
}

const LIMIT = 10;

/** How a dimension's value reads. */
export function valueLabel(dim: Dimension, value: string): string {
  if (value === "") return "(none)";
  if (dim === "visit:country") return countryName(value);
  if (dim === "visit:device") return capitalise(value);
  return value;
}

export function Breakdown(props: { title: string; tabs: BreakdownTab[]; tab: Dimension; onTab?: (d: Dimension) => void; metrics: Metric[]; valueHeader: string }) {
  const page = usePage();
  const dim = props.tab;
  const blocked = page.filterDim !== null && page.filterDim !== dim;
  const key = blocked ? null : JSON.stringify(["breakdown", page.scope, page.dateRange, dim, props.metrics, page.filter]);
  const res = useLoad(key, (signal) =>
    stats(
      {
        scope: page.scope,
        metrics: props.metrics,
        dimensions: [dim],
        date_range: page.dateRange,
        filters: page.filter ? [page.filter] : [],
        order_by: [[props.metrics[0]!, "desc"]],
        pagination: { limit: LIMIT },
      },
      signal,
    ),
  );

  const rows = res.data?.results ?? [];
  const max = Math.max(1, ...rows.map((r) => r.metrics[0] ?? 0));
  const total = res.data?.meta.total_rows ?? rows.length;
  const headingId = `${props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-title`;

  const tabs =
    props.tabs.length > 1 ? (
      <div class="segmented" role="group" aria-label={`${props.title}: show`}>
        {props.tabs.map((t) => (
          <button key={t.dim} type="button" class="segment" aria-pressed={t.dim === dim ? "true" : "false"} data-testid={`tab-${t.dim}`} onClick={() => props.onTab?.(t.dim)}>
            {t.label}
          </button>
        ))}
      </div>
    ) : null;

  return (
    <Panel title={props.title} actions={tabs} busy={res.loading} class="breakdown" testid={`panel-${dim}`}>
      {blocked ? (
        <NotFilterable by={dimensionLabel(page.filterDim!)} onClear={() => page.navigate({ filter: null })} />
      ) : res.loading && !res.data ? (
        <Loading rows={5} />
      ) : res.error ? (
        <LoadFailed title="Could not load this panel" onRetry={res.reload} />
      ) : rows.length === 0 ? (
        <Empty title="Nothing here yet">No {props.valueHeader.toLowerCase()} data for this period.</Empty>
      ) : (
        <table class={`breakdown-table ${res.loading ? "stale" : ""}`} aria-labelledby={headingId}>
          <thead>
            <tr>
              <th scope="col">{props.valueHeader}</th>
              {props.metrics.map((m) => (
                <th key={m} scope="col" class="num">
                  {METRIC_LABELS[m]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const value = r.dimensions[0] ?? "";
              const active = page.state.filter?.dim === dim && page.state.filter.value === value;
              const share = ((r.metrics[0] ?? 0) / max) * 100;
              return (
                <tr key={value} data-testid={`row-${dim}`} data-value={value} class={active ? "row-active" : undefined}>
                  <td class="bar-cell">
                    <span class="bar" style={{ width: `${share.toFixed(1)}%` }} aria-hidden="true" />
                    <a
                      class="bar-label"
                      href={page.href({ filter: { dim, value } })}
                      title={active ? `Filtered by ${value}` : `Filter by ${dimensionLabel(dim).toLowerCase()} ${value}`}
                      aria-current={active ? "true" : undefined}
                      onClick={(e) => {
                        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                        e.preventDefault();
                        page.navigate({ filter: { dim, value } });
                      }}
                    >
                      {dim === "visit:country" && /^[A-Za-z]{2}$/.test(value) ? (
                        <span class="country-code" aria-hidden="true">
                          {value.toUpperCase()}
                        </span>
                      ) : null}
                      <span class="truncate">{valueLabel(dim, value)}</span>
                    </a>
                  </td>
                  {props.metrics.map((m, i) => (
                    <td key={m} class="num">
                      {formatMetric(m, r.metrics[i])}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {!blocked && total > rows.length && rows.length > 0 ? (
        <p class="panel-foot muted">
          Top {rows.length} of {formatMetric("visitors", total)}
        </p>
      ) : null}
    </Panel>
  );
}
