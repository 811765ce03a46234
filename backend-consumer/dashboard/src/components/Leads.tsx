/** The leads list: filters kept in the URL, keyset paging ("Load more"), and a CSV export of the same filters. */
import { useEffect, useState } from "preact/hooks";
import { api, download, query } from "../api.ts";
import { siteTimezone, usePage, type Page as PageCtx } from "../context.ts";
import { addDays, dayStartIso, formatInstant, isDay, todayIn } from "../dates.ts";
import { capitalise } from "../format.ts";
import { useForms } from "../forms.ts";
import { reportError, useDebounced, useLoad } from "../hooks.ts";
import { EMPTY_LEAD_FILTERS, type LeadFilters } from "../state.ts";
import { LEAD_QUALITIES, LEAD_STATUSES, type Lead, type Page } from "../types.ts";
import { announce, Empty, LoadFailed, Loading, Panel } from "./ui.tsx";

const PAGE_SIZE = 50;

/** The leads API's filters for the page's state (the created range defaults to the page's date range). */
export function leadParams(page: PageCtx): Record<string, string | null> {
  const l = page.state.leads;
  const from = l.createdFrom ?? page.days[0];
  const to = l.createdTo ?? page.days[1];
  return {
    locationId: page.state.site ? null : page.state.loc,
    siteId: page.state.site,
    status: l.status,
    quality: l.quality,
    utmSource: l.source,
    formId: l.form,
    q: l.q,
    createdFrom: dayStartIso(from, page.timezone),
    // the API's createdTo is exclusive: the start of the day after
    createdTo: dayStartIso(addDays(to, 1), page.timezone),
  };
}

export const leadName = (l: Lead): string => [l.firstName, l.lastName].filter(Boolean).join(" ");

export function leadSource(l: Lead): string {
  if (l.utm?.source) return l.utm.source;
  if (l.referrer) {
    try {
      return new URL(l.referrer).hostname.replace(/^www\./, "");
    } catch {
      return l.referrer;
    }
  }
  return "Direct / None";
}

export function Leads() {
  const page = usePage();
  const { forms } = useForms(page.sites);
  const params = leadParams(page);
  const key = JSON.stringify(["leads", params]);
  const first = useLoad(key, (signal) => api<Page<Lead>>(`/v1/leads${query({ ...params, limit: String(PAGE_SIZE) })}`, { signal }));
  const [more, setMore] = useState<{ key: string; items: Lead[]; cursor: string | null; loading: boolean }>({ key: "", items: [], cursor: null, loading: false });
  const extra = more.key === key ? more : { key, items: [], cursor: null, loading: false };
  const items = [...(first.data?.items ?? []), ...extra.items];
  const cursor = extra.items.length ? extra.cursor : (first.data?.nextCursor ?? null);
  const [exporting, setExporting] = useState(false);

  const loadMore = async (): Promise<void> => {
    if (!cursor) return;
    setMore({ ...extra, loading: true });
    try {
      const next = await api<Page<Lead>>(`/v1/leads${query({ ...params, limit: String(PAGE_SIZE), cursor })}`);
      setMore({ key, items: [...extra.items, ...next.items], cursor: next.nextCursor, loading: false });
      announce(`${next.items.length} more leads loaded`);
    } catch (err) {
      reportError(err);
      setMore({ ...extra, loading: false });
    }
  };

  const exportCsv = async (): Promise<void> => {
    setExporting(true);
    try {
      const blob = await download(`/v1/leads/export${query({ ...params, format: "csv" })}`);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `leads-${todayIn(page.timezone)}.csv`;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      announce("Export downloaded");
    } catch (err) {
      reportError(err);
    } finally {
      setExporting(false);
    }
  };

  const hasFilters = Object.entries(page.state.leads).some(([, v]) => v !== null);
  const exportButton = (
    <button type="button" class="button" data-testid="export-csv" onClick={() => void exportCsv()} disabled={exporting} aria-busy={exporting ? "true" : "false"}>
      <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true" focusable="false">
        <path fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" d="M10 3v9m0 0 3.5-3.5M10 12 6.5 8.5M4 14v2h12v-2" />
      </svg>
      {exporting ? "Exporting…" : "Export CSV"}
    </button>
  );

  return (
    <>
      <h1 class="sr-only">Leads</h1>
      <Filters forms={[...forms.values()]} />
      <Panel title="Leads" actions={exportButton} busy={first.loading} testid="leads-panel">
        {first.loading && !first.data ? (
          <Loading rows={6} />
        ) : first.error ? (
          <LoadFailed title="Could not load leads" onRetry={first.reload} />
        ) : items.length === 0 ? (
          hasFilters ? (
            <Empty title="No leads match these filters" icon="inbox">
              <button type="button" class="link-button" onClick={() => page.navigate({ leads: EMPTY_LEAD_FILTERS })}>
                Clear the filters
              </button>
            </Empty>
          ) : (
            <Empty title="No leads in this period" icon="inbox">
              A lead appears when a visitor leaves an email in a tracked form. Try a longer date range.
            </Empty>
          )
        ) : (
          <>
            <div class="table-scroll">
              <table class={`data-table leads-table ${first.loading ? "stale" : ""}`}>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Status</th>
                    <th scope="col">Quality</th>
                    <th scope="col">Source</th>
                    <th scope="col">Form</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((l) => {
                    const site = page.siteById.get(l.siteId);
                    const tz = site ? siteTimezone(site, page.locationById) : page.timezone;
                    const open = (): void => page.navigate({ view: { name: "lead", id: l.id } });
                    const formId = l.formIds[0];
                    return (
                      <tr key={l.id} class="clickable" data-testid="lead-row" data-lead-id={l.id} onClick={open}>
                        <td>
                          <a
                            href={page.href({ view: { name: "lead", id: l.id } })}
                            onClick={(e) => {
                              if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                              e.preventDefault();
                              e.stopPropagation();
                              open();
                            }}
                          >
                            {leadName(l) || <span class="muted">(no name)</span>}
                          </a>
                        </td>
                        <td class="truncate-cell" title={l.email}>
                          {l.email}
                        </td>
                        <td>
                          <StatusBadge status={l.status} />
                        </td>
                        <td>
                          <QualityBadge quality={l.quality} />
                        </td>
                        <td class="truncate-cell">{leadSource(l)}</td>
                        <td class="truncate-cell">{formId ? (forms.get(formId)?.name ?? formId) : <span class="muted">—</span>}</td>
                        <td class="nowrap">{formatInstant(l.createdAt, tz)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <div class="panel-foot">
              <span class="muted small" aria-live="polite">
                {items.length} {items.length === 1 ? "lead" : "leads"} shown{cursor ? "" : " · that is all"}
              </span>
              {cursor ? (
                <button type="button" class="button" data-testid="leads-more" onClick={() => void loadMore()} disabled={extra.loading}>
                  {extra.loading ? "Loading…" : "Load more"}
                </button>
              ) : null}
            </div>
          </>
        )}
      </Panel>
    </>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-status-${status}`}>{capitalise(status)}</span>;
}

export function QualityBadge({ quality }: { quality: string }) {
  return (
    <span class={`badge badge-quality badge-quality-${quality}`}>
      <span class="dot" aria-hidden="true" />
      {capitalise(quality)}
    </span>
  );
}

function Filters(props: { forms: { id: string; name: string }[] }) {
  const page = usePage();
  const l = page.state.leads;
  const set = (patch: Partial<LeadFilters>, replace = false): void => page.navigate({ leads: { ...page.state.leads, ...patch } }, { replace });

  // typed filters follow the URL after a pause (replacing the history entry, not adding one per key)
  const [q, setQ] = useState(l.q ?? "");
  const [source, setSource] = useState(l.source ?? "");
  const dq = useDebounced(q, 350);
  const dsource = useDebounced(source, 350);
  useEffect(() => setQ(l.q ?? ""), [l.q]);
  useEffect(() => setSource(l.source ?? ""), [l.source]);
  useEffect(() => {
    const nq = dq.trim() || null;
    const ns = dsource.trim() || null;
    if (nq !== page.state.leads.q || ns !== page.state.leads.source) set({ q: nq, source: ns }, true);
  }, [dq, dsource]);

  const from = l.createdFrom ?? page.days[0];
  const to = l.createdTo ?? page.days[1];
  return (
    <form class="filters panel" aria-label="Filter leads" onSubmit={(e) => e.preventDefault()}>
      <div class="control control-wide">
        <label for="lead-q">Search</label>
        <input id="lead-q" type="search" placeholder="Email or name" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </div>
      <div class="control">
        <label for="lead-status">Status</label>
        <select id="lead-status" value={l.status ?? ""} onChange={(e) => set({ status: e.currentTarget.value || null })}>
          <option value="">Any status</option>
          {LEAD_STATUSES.map((s) => (
            <option key={s} value={s}>
              {capitalise(s)}
            </option>
          ))}
        </select>
      </div>
      <div class="control">
        <label for="lead-quality">Quality</label>
        <select id="lead-quality" value={l.quality ?? ""} onChange={(e) => set({ quality: e.currentTarget.value || null })}>
          <option value="">Any quality</option>
          {LEAD_QUALITIES.map((s) => (
            <option key={s} value={s}>
              {capitalise(s)}
            </option>
          ))}
        </select>
      </div>
      <div class="control">
        <label for="lead-source">Source (utm_source)</label>
        <input id="lead-source" type="text" placeholder="e.g. google" value={source} onInput={(e) => setSource(e.currentTarget.value)} />
      </div>
      <div class="control">
        <label for="lead-form">Form</label>
        <select id="lead-form" value={l.form ?? ""} onChange={(e) => set({ form: e.currentTarget.value || null })}>
          <option value="">Any form</option>
          {props.forms.map((f) => (
            <option key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
          {l.form && !props.forms.some((f) => f.id === l.form) ? <option value={l.form}>{l.form}</option> : null}
        </select>
      </div>
      <div class="control">
        <label for="lead-from">Created from</label>
        <input id="lead-from" type="date" value={from} max={to} onChange={(e) => isDay(e.currentTarget.value) && set({ createdFrom: e.currentTarget.value })} />
      </div>
      <div class="control">
        <label for="lead-to">Created to</label>
        <input id="lead-to" type="date" value={to} min={from} onChange={(e) => isDay(e.currentTarget.value) && set({ createdTo: e.currentTarget.value })} />
      </div>
    </form>
  );
}
