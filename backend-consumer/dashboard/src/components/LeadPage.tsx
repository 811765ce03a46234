/** One lead: fields, attribution, status (with the owner's override), CRM sync, conflicts, submissions, journey. */
import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { siteTimezone, usePage } from "../context.ts";
import { formatInstant } from "../dates.ts";
import { capitalise, formatDuration } from "../format.ts";
import { useForms } from "../forms.ts";
import { reportError, useLoad } from "../hooks.ts";
import { LEAD_STATUSES, type Lead, type LeadDetail, type TimelineItem } from "../types.ts";
import { leadName, leadSource, QualityBadge, StatusBadge } from "./Leads.tsx";
import { announce, LoadFailed, Loading, Panel } from "./ui.tsx";

const TIMELINE_PAGE = 50;

const show = (v: unknown): string => (v === null || v === undefined || v === "" ? "—" : typeof v === "string" ? v : JSON.stringify(v));

const SYNC_LABEL: Record<string, string> = { delivered: "Delivered", pending: "Pending", failed: "Failed", dead: "Gave up", held: "Held" };

export function LeadPage(props: { id: string }) {
  const page = usePage();
  const res = useLoad(`lead:${props.id}`, (signal) => api<LeadDetail>(`/v1/leads/${encodeURIComponent(props.id)}${query({ limit: String(TIMELINE_PAGE) })}`, { signal }));
  // edits answer the lead without its timeline: keep the timeline we have
  const [edited, setEdited] = useState<Lead | null>(null);
  const lead: LeadDetail | undefined = res.data ? { ...res.data, ...(edited ?? {}), timeline: res.data.timeline } : undefined;
  const site = lead ? page.siteById.get(lead.siteId) : undefined;
  const tz = site ? siteTimezone(site, page.locationById) : page.timezone;
  const { forms } = useForms(site ? [site] : []);

  const back = (
    <a
      class="back-link"
      href={page.href({ view: { name: "leads" } })}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        page.navigate({ view: { name: "leads" } });
      }}
    >
      ← All leads
    </a>
  );

  if (!lead) {
    return (
      <>
        {back}
        <h1 class="page-title">Lead</h1>
        {res.error ? (
          <LoadFailed title={(res.error as { status?: number }).status === 404 ? "This lead does not exist or is not yours to see" : "Could not load this lead"} icon="inbox" onRetry={res.reload} />
        ) : (
          <Loading rows={6} />
        )}
      </>
    );
  }

  const patch = async (body: Record<string, unknown>, done: string): Promise<boolean> => {
    try {
      const updated = await api<Lead>(`/v1/leads/${encodeURIComponent(lead.id)}`, { method: "PATCH", body });
      setEdited(updated);
      announce(done);
      return true;
    } catch (err) {
      reportError(err);
      return false;
    }
  };

  const name = leadName(lead);
  const formName = (id: string | null): string => (id ? (forms.get(id)?.name ?? id) : "—");
  const fields = Object.entries(lead.fields ?? {});
  const utm = Object.entries(lead.utm ?? {});
  const clickIds = Object.entries(lead.clickIds ?? {});

  return (
    <>
      {back}
      <div class="lead-head">
        <div>
          <h1 class="page-title">{name || lead.email}</h1>
          <p class="muted">
            {name ? `${lead.email} · ` : ""}
            {site?.name ?? "Unknown site"} · created {formatInstant(lead.createdAt, tz)}
          </p>
        </div>
        <div class="lead-badges">
          <StatusBadge status={lead.status} />
          <QualityBadge quality={lead.quality} />
        </div>
      </div>

      <div class="lead-grid">
        <div class="lead-main">
          <Panel title="Fields" testid="lead-fields">
            <dl class="props">
              <Prop label="Email" value={lead.email} />
              <Prop label="First name" value={lead.firstName} />
              <Prop label="Last name" value={lead.lastName} />
              <Prop label="Phone" value={lead.phone} />
              <Prop label="Company" value={lead.company} />
              {fields
                .filter(([k]) => !["email", "firstName", "lastName", "phone", "company"].includes(k))
                .map(([k, v]) => (
                  <Prop key={k} label={k} value={v} />
                ))}
              {lead.tags.length ? <Prop label="Tags" value={lead.tags.join(", ")} /> : null}
              {lead.notes ? <Prop label="Notes" value={lead.notes} /> : null}
            </dl>
          </Panel>

          <Panel title="Submissions" testid="lead-submissions">
            {lead.submissions && lead.submissions.length ? (
              <ol class="submissions">
                {[...lead.submissions].reverse().map((s, i) => (
                  <li key={`${s.at}-${i}`}>
                    <p>
                      <strong>{formName(s.formId)}</strong> <span class="muted">· {formatInstant(s.at, tz)}</span>
                    </p>
                    <dl class="props props-compact">
                      {Object.entries(s.fields).map(([k, v]) => (
                        <Prop key={k} label={k} value={v} />
                      ))}
                    </dl>
                  </li>
                ))}
              </ol>
            ) : (
              <p class="muted">No submissions: this lead left an email without submitting a form yet.</p>
            )}
          </Panel>

          <Timeline lead={lead} tz={tz} formName={formName} />
        </div>

        <div class="lead-side">
          <StatusPanel lead={lead} tz={tz} onSave={(value, reason) => patch({ status: { value, reason } }, "Status saved")} />

          <Panel title="Attribution" testid="lead-attribution">
            <dl class="props">
              <Prop label="Source" value={leadSource(lead)} />
              {utm.map(([k, v]) => (
                <Prop key={k} label={`utm_${k}`} value={v} />
              ))}
              <Prop label="Referrer" value={lead.referrer} />
              <Prop label="Landing page" value={lead.landingPage} />
              {clickIds.map(([k, v]) => (
                <Prop key={k} label={k} value={v} />
              ))}
            </dl>
          </Panel>

          <Panel title="CRM sync" testid="lead-crm">
            {lead.sync && lead.sync.length ? (
              <>
                <ul class="sync-list">
                  {lead.sync.map((d) => (
                    <li key={d.destinationId} data-testid={`sync-${d.destinationId}`} data-status={d.status}>
                      <div class="row">
                        <strong>{d.name}</strong>
                        <span class={`badge badge-sync-${d.status}`}>{SYNC_LABEL[d.status] ?? d.status}</span>
                      </div>
                      <p class="muted small">
                        {d.status === "delivered" && d.externalId ? <>CRM id {d.externalId} · </> : null}
                        {d.deliveredAt ? <>delivered {formatInstant(d.deliveredAt, tz)}</> : null}
                        {d.status === "held" ? "Partial lead: sent once it is submitted." : null}
                        {d.status === "failed" || d.status === "dead" ? (
                          <>
                            {d.error} · {d.attempts} attempt{d.attempts === 1 ? "" : "s"}
                            {d.nextAttemptAt ? <> · next try {formatInstant(d.nextAttemptAt, tz)}</> : null}
                          </>
                        ) : null}
                      </p>
                    </li>
                  ))}
                </ul>
                <button
                  type="button"
                  class="button button-small"
                  data-testid="sync-now"
                  onClick={async () => {
                    try {
                      await api(`/v1/leads/${encodeURIComponent(lead.id)}/sync`, { method: "POST" });
                      announce("Queued for delivery");
                      res.reload();
                    } catch (err) {
                      reportError(err);
                    }
                  }}
                >
                  Sync now
                </button>
              </>
            ) : (
              <dl class="props">
                <Prop label="Status" value="No CRM destination for this site" />
              </dl>
            )}
          </Panel>

          {lead.conflicts && lead.conflicts.length ? (
            <Panel title="Conflicts" testid="lead-conflicts">
              <p class="muted small">Another visitor submitted different values for this email. Accept one to replace the lead's value, or dismiss it.</p>
              <ul class="conflicts">
                {lead.conflicts.map((c) => (
                  <li key={c.id}>
                    <p>
                      <strong>{c.field}</strong>: <span class="strike">{show(c.current)}</span> → {show(c.value)}
                    </p>
                    <p class="muted small">{formatInstant(c.at, tz)}</p>
                    <div class="row">
                      <button type="button" class="button button-small" onClick={() => void patch({ acceptConflicts: [c.id] }, `Accepted the new ${c.field}`)}>
                        Accept
                      </button>
                      <button type="button" class="button button-small button-quiet" onClick={() => void patch({ dismissConflicts: [c.id] }, "Conflict dismissed")}>
                        Dismiss
                      </button>
                    </div>
                  </li>
                ))}
              </ul>
            </Panel>
          ) : null}

          {lead.history && lead.history.length ? (
            <Panel title="History">
              <ol class="history">
                {[...lead.history].reverse().map((h, i) => (
                  <li key={`${h.at}-${i}`}>
                    <p>
                      {h.changes.map((c) => `${c.field}: ${show(c.from)} → ${show(c.to)}`).join("; ")}
                      {h.reason ? <span class="muted"> ({h.reason})</span> : null}
                    </p>
                    <p class="muted small">
                      {h.by.email} · {formatInstant(h.at, tz)}
                    </p>
                  </li>
                ))}
              </ol>
            </Panel>
          ) : null}
        </div>
      </div>
    </>
  );
}

function Prop(props: { label: string; value: string | null | undefined }) {
  return (
    <div class="prop">
      <dt>{props.label}</dt>
      <dd>{props.value === null || props.value === undefined || props.value === "" ? <span class="muted">—</span> : props.value}</dd>
    </div>
  );
}

function StatusPanel(props: { lead: Lead; tz: string; onSave: (value: string, reason: string) => Promise<boolean> }) {
  const { lead } = props;
  const [value, setValue] = useState(lead.status);
  const [reason, setReason] = useState("");
  const [saving, setSaving] = useState(false);
  const [tried, setTried] = useState(false);
  const missingReason = tried && reason.trim() === "";
  return (
    <Panel title="Status and quality" testid="lead-status">
      <dl class="props">
        <div class="prop">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={lead.status} />
            {lead.statusOverride ? <span class="muted small"> set by the owner (captured: {lead.capturedStatus})</span> : null}
          </dd>
        </div>
        {lead.statusOverride ? <Prop label="Reason" value={`${lead.statusOverride.reason} (${formatInstant(lead.statusOverride.at, props.tz)})`} /> : null}
        <div class="prop">
          <dt>Quality</dt>
          <dd>
            <QualityBadge quality={lead.quality} />
          </dd>
        </div>
      </dl>
      <form
        class="override"
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (!reason.trim()) return;
          setSaving(true);
          if (await props.onSave(value, reason.trim())) {
            setReason("");
            setTried(false);
          }
          setSaving(false);
        }}
      >
        <div class="control">
          <label for="override-status">Change status</label>
          <select id="override-status" value={value} onChange={(e) => setValue(e.currentTarget.value)}>
            {LEAD_STATUSES.map((s) => (
              <option key={s} value={s}>
                {capitalise(s)}
              </option>
            ))}
          </select>
        </div>
        <div class="control">
          <label for="override-reason">Reason</label>
          <input
            id="override-reason"
            type="text"
            value={reason}
            maxLength={1000}
            aria-invalid={missingReason ? "true" : "false"}
            aria-describedby={missingReason ? "override-reason-error" : undefined}
            onInput={(e) => setReason(e.currentTarget.value)}
            placeholder="Kept in the lead's history"
          />
          {missingReason ? (
            <p id="override-reason-error" class="field-error">
              Say why (it is kept in the history).
            </p>
          ) : null}
        </div>
        <button type="submit" class="button" disabled={saving}>
          {saving ? "Saving…" : "Save status"}
        </button>
      </form>
    </Panel>
  );
}

const TYPE_LABELS: Record<string, string> = {
  page_view: "Viewed a page",
  form_interaction: "Started a form",
  form_submission: "Submitted a form",
  identify: "Identified",
  track: "Event",
};

function Timeline(props: { lead: LeadDetail; tz: string; formName: (id: string | null) => string }) {
  const [extra, setExtra] = useState<{ items: TimelineItem[]; cursor: string | null } | null>(null);
  const [loading, setLoading] = useState(false);
  const items = [...props.lead.timeline.items, ...(extra?.items ?? [])];
  const cursor = extra ? extra.cursor : props.lead.timeline.nextCursor;

  const more = async (): Promise<void> => {
    if (!cursor) return;
    setLoading(true);
    try {
      const next = await api<LeadDetail>(`/v1/leads/${encodeURIComponent(props.lead.id)}${query({ cursor, limit: String(TIMELINE_PAGE) })}`);
      setExtra({ items: [...(extra?.items ?? []), ...next.timeline.items], cursor: next.timeline.nextCursor });
      announce(`${next.timeline.items.length} more events loaded`);
    } catch (err) {
      reportError(err);
    } finally {
      setLoading(false);
    }
  };

  let lastSession = "";
  return (
    <Panel title="Visitor journey" testid="lead-timeline">
      {items.length === 0 ? (
        <p class="muted">No recorded visits for this lead.</p>
      ) : (
        <ol class="timeline">
          {items.map((item) => {
            const newSession = item.sessionId !== lastSession;
            lastSession = item.sessionId;
            return (
              <li key={item.id} class={`tl tl-${item.type} ${newSession ? "tl-session" : ""}`} data-testid="timeline-item">
                {newSession ? <p class="tl-visit muted small">Visit started {formatInstant(item.at, props.tz)}</p> : null}
                <div class="tl-body">
                  <span class="tl-dot" aria-hidden="true" />
                  <div>
                    <p>
                      <strong>{item.type === "track" && item.name ? item.name : (TYPE_LABELS[item.type] ?? item.type)}</strong>
                      {item.form ? <span> · {item.form.name ?? props.formName(item.form.formId)}</span> : null}
                      {item.type === "page_view" && item.timeOnPageMs !== undefined ? <span class="muted"> · {formatDuration(item.timeOnPageMs / 1000)} on page</span> : null}
                    </p>
                    {item.page ? (
                      <p class="muted small truncate" title={item.page.url}>
                        {item.page.title ? `${item.page.title} — ` : ""}
                        {pathOf(item.page.url)}
                      </p>
                    ) : null}
                    {item.form && Object.keys(item.form.fields).length ? (
                      <p class="muted small">
                        {Object.entries(item.form.fields)
                          .map(([k, v]) => `${k}: ${v}`)
                          .join(" · ")}
                      </p>
                    ) : null}
                  </div>
                  <time class="tl-time muted small" dateTime={item.at}>
                    {formatInstant(item.at, props.tz).split(", ")[1] ?? ""}
                  </time>
                </div>
              </li>
            );
          })}
        </ol>
      )}
      {cursor ? (
        <div class="panel-foot">
          <button type="button" class="button" onClick={() => void more()} disabled={loading}>
            {loading ? "Loading…" : "Load more events"}
          </button>
        </div>
      ) : null}
    </Panel>
  );
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return url;
  }
}
