/** The snippet to paste for each site, and a check that events are arriving. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { siteTimezone, usePage } from "../context.ts";
import { formatInstant } from "../dates.ts";
import { formatExact } from "../format.ts";
import { reportError, useLoad } from "../hooks.ts";
import type { InstallStatus, Site, SiteKeys } from "../types.ts";
import { announce, Empty } from "./ui.tsx";

export const snippetFor = (edgeUrl: string, site: Site): string => `<script async src="${edgeUrl.replace(/\/+$/, "")}/s/${site.siteKey}.js"></script>`;

/** Copies with the async clipboard API, or a hidden textarea where that is not allowed (older browsers, some iframes). */
async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through: a frame without clipboard-write permission
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  let ok: boolean;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function Install() {
  const page = usePage();
  const edge = page.me.edgeUrl;
  return (
    <>
      <h1 class="page-title">Install the tracker</h1>
      <p class="lead-text muted">
        Paste the snippet into the <code>&lt;head&gt;</code> of every page of the site. It loads asynchronously and never slows the page down.
      </p>
      {!edge ? <p class="alert alert-note">The edge address is not known yet (the API's <code>/v1/me</code> has no <code>edgeUrl</code>): ask your administrator for the snippet.</p> : null}
      {page.sites.length === 0 ? (
        <Empty title="No sites here yet" icon="inbox">
          {page.me.role === "agency" ? "Add a site to this location first." : "Ask your agency to add a site for you."}
        </Empty>
      ) : (
        <div class="install-list">
          {page.sites.map((s) => (
            <SiteInstall key={s.id} site={s} edge={edge ?? null} />
          ))}
        </div>
      )}
    </>
  );
}

function SiteInstall(props: { site: Site; edge: string | null }) {
  const page = usePage();
  const { site } = props;
  // the key as it is now (a rotation since the app loaded gives a new one), and old keys still in their grace period
  const keys = useLoad(`site-keys:${site.id}`, (signal) => api<SiteKeys>(`/v1/sites/${encodeURIComponent(site.id)}/site-keys`, { signal }));
  const siteKey = keys.data?.siteKey ?? site.siteKey;
  const snippet = props.edge ? snippetFor(props.edge, { ...site, siteKey }) : null;
  const [copied, setCopied] = useState(false);
  const [checking, setChecking] = useState(false);
  const [status, setStatus] = useState<InstallStatus | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const tz = siteTimezone(site, page.locationById);
  const location = page.locationById.get(site.locationId);

  const check = async (): Promise<void> => {
    setChecking(true);
    setFailed(null);
    try {
      const answer = await api<InstallStatus>(`/v1/sites/${encodeURIComponent(site.id)}/install-status`);
      setStatus(answer);
      announce(answer.eventsLast15m > 0 ? `${site.name}: installed, events are arriving` : `${site.name}: no events in the last 15 minutes`);
    } catch (err) {
      reportError(err);
      setFailed(err instanceof Error ? err.message : "The check failed.");
    } finally {
      setChecking(false);
    }
  };

  const arriving = status !== null && status.eventsLast15m > 0;
  return (
    <section class="panel install" aria-labelledby={`install-${site.id}`} data-testid={`install-${site.id}`}>
      <header class="panel-head">
        <h2 id={`install-${site.id}`}>
          {site.name} <span class="muted small">{site.domain}</span>
        </h2>
        {location && page.me.role === "agency" ? <span class="muted small">{location.name}</span> : null}
      </header>
      {snippet ? (
        <div class="snippet">
          <label class="sr-only" for={`snippet-${site.id}`}>
            Snippet for {site.name}
          </label>
          <pre id={`snippet-${site.id}`} tabIndex={0} data-testid={`snippet-${site.id}`}>
            <code>{snippet}</code>
          </pre>
          <button
            type="button"
            class="button"
            data-testid={`copy-${site.id}`}
            onClick={async () => {
              const ok = await copyText(snippet);
              setCopied(ok);
              announce(ok ? "Copied" : "Could not copy: select the snippet and copy it by hand");
              if (ok) setTimeout(() => setCopied(false), 2_000);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      ) : (
        <p class="muted">
          Site key: <code>{siteKey}</code>
        </p>
      )}
      {keys.data?.inGrace.map((old) => (
        <p key={old.siteKey} class="alert alert-note key-grace" data-testid={`key-grace-${site.id}`}>
          The key was rotated. Pages that still embed the previous key <code>{old.siteKey}</code> keep working until{" "}
          <strong>
            <time dateTime={old.validUntil}>{formatInstant(old.validUntil, tz)}</time>
          </strong>
          {` (${tz})`}, then stop sending. Put the snippet above on every page before then.
        </p>
      ))}
      <div class="install-check">
        <button type="button" class="button button-primary" data-testid={`install-check-${site.id}`} onClick={() => void check()} disabled={checking}>
          {checking ? "Checking…" : "Check installation"}
        </button>
        <p
          class={`install-result ${status ? (arriving ? "install-ok" : "install-none") : ""}`}
          data-testid={`install-result-${site.id}`}
          data-installed={status ? String(arriving) : undefined}
          role="status"
        >
          {failed ? (
            <span class="install-failed">Could not check: {failed}</span>
          ) : status ? (
            arriving ? (
              <>
                <strong>Installed: events are arriving.</strong> {formatExact(status.eventsLast15m)} {status.eventsLast15m === 1 ? "event" : "events"} in the last 15 minutes
                {status.lastEventAt ? `, the latest ${formatInstant(status.lastEventAt, tz)}` : ""}.
              </>
            ) : status.lastEventAt ? (
              <>
                <strong>No events in the last 15 minutes.</strong> The last one arrived {formatInstant(status.lastEventAt, tz)}. Open the site in a browser, then check again.
              </>
            ) : (
              <>
                <strong>No events received yet.</strong> Paste the snippet, open a page of the site, then check again.
              </>
            )
          ) : null}
        </p>
      </div>
    </section>
  );
}
