/** Per form: views → interactions (partial leads) → submissions, with the conversion at each step. */
import { stats } from "../api.ts";
import { dimensionLabel, usePage } from "../context.ts";
import { formatCount, formatPercent } from "../format.ts";
import { useForms } from "../forms.ts";
import { useLoad } from "../hooks.ts";
import type { Metric } from "../stats-meta.ts";
import { Empty, LoadFailed, Loading, NotFilterable, Panel } from "./ui.tsx";

const METRICS: Metric[] = ["form_views", "form_interactions", "form_submissions"];

const rate = (part: number, whole: number): string => (whole > 0 ? formatPercent((part / whole) * 100) : "—");

export function Forms() {
  const page = usePage();
  const { forms } = useForms(page.sites);
  const blocked = page.filterDim !== null && page.filterDim !== "event:form";
  const key = blocked ? null : JSON.stringify(["forms", page.scope, page.dateRange, page.filter]);
  const res = useLoad(key, (signal) =>
    stats(
      {
        scope: page.scope,
        metrics: METRICS,
        dimensions: ["event:form"],
        date_range: page.dateRange,
        filters: page.filter ? [page.filter] : [],
        order_by: [["form_views", "desc"]],
        pagination: { limit: 100 },
      },
      signal,
    ),
  );

  const seen = new Set<string>();
  const rows = (res.data?.results ?? []).map((r) => {
    const id = r.dimensions[0] ?? "";
    seen.add(id);
    const [views = 0, interactions = 0, submissions = 0] = r.metrics.map((v) => v ?? 0);
    return { id, views, interactions, submissions };
  });
  // configured forms nobody used in the period, after the ones with activity (not while filtered to one form)
  if (res.data && !page.filter) {
    for (const f of forms.values()) if (!seen.has(f.id)) rows.push({ id: f.id, views: 0, interactions: 0, submissions: 0 });
  }
  const multiSite = page.sites.length > 1;

  return (
    <>
      <h1 class="sr-only">Forms</h1>
      <Panel title="Form funnel" busy={res.loading} testid="forms-panel">
        <p class="panel-intro muted">
          Views are page views of pages with the form, interactions are visitors who started filling it in (partial leads), submissions are completed forms.
        </p>
        {blocked ? (
          <NotFilterable by={dimensionLabel(page.filterDim!)} onClear={() => page.navigate({ filter: null })} />
        ) : res.loading && !res.data ? (
          <Loading rows={4} />
        ) : res.error ? (
          <LoadFailed title="Could not load the form statistics" onRetry={res.reload} />
        ) : rows.length === 0 ? (
          <Empty title="No form activity in this period" icon="form">
            Forms show here once visitors view them. Add forms to track under the site's settings.
          </Empty>
        ) : (
          <div class="table-scroll">
            <table class={`data-table funnel ${res.loading ? "stale" : ""}`}>
              <thead>
                <tr>
                  <th scope="col">Form</th>
                  <th scope="col" class="num">
                    Views
                  </th>
                  <th scope="col" class="num">
                    Interactions
                  </th>
                  <th scope="col" class="num">
                    Submissions
                  </th>
                  <th scope="col" class="num">
                    Conversion
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => {
                  const form = forms.get(r.id);
                  const site = form ? page.siteById.get(form.siteId) : undefined;
                  const top = Math.max(r.views, r.interactions, r.submissions, 1);
                  return (
                    <tr key={r.id} data-testid="form-row" data-form-id={r.id} class={r.views + r.interactions + r.submissions === 0 ? "row-idle" : undefined}>
                      <th scope="row">
                        <span class="form-name">{form?.name ?? r.id}</span>
                        {multiSite && site ? <span class="muted small"> · {site.name}</span> : null}
                        {!form ? <span class="muted small"> (form id)</span> : null}
                      </th>
                      <FunnelCell value={r.views} top={top} />
                      <FunnelCell value={r.interactions} top={top} step={rate(r.interactions, r.views)} stepLabel="of views" />
                      <FunnelCell value={r.submissions} top={top} step={rate(r.submissions, r.interactions)} stepLabel="of interactions" />
                      <td class="num">
                        <strong>{rate(r.submissions, r.views)}</strong>
                        <span class="sr-only"> of views submitted</span>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </>
  );
}

function FunnelCell(props: { value: number; top: number; step?: string; stepLabel?: string }) {
  return (
    <td class="num funnel-cell">
      <span class="funnel-value">{formatCount(props.value)}</span>
      {props.step ? (
        <span class="funnel-step muted small">
          {" "}
          {props.step}
          <span class="sr-only"> {props.stepLabel}</span>
        </span>
      ) : null}
      <span class="funnel-track" aria-hidden="true">
        <span class="funnel-bar" style={{ width: `${((props.value / props.top) * 100).toFixed(1)}%` }} />
      </span>
    </td>
  );
}
