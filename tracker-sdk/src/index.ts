/**
 * The tracker SDK: one IIFE with zero runtime dependencies. Its settings come from the loader (`/s/<key>.js`
 * leaves the site config in `window.LeadTracker.c` and the edge origin in `.e`) or, without a loader, from its own
 * script tag (`data-site-key`, optional `data-endpoint`). It sends a `page_view` when it loads. Nothing here may
 * throw into the host page.
 */
import type { SiteConfig, TrackerEvent } from "#contracts";
import { sessionId, uuid, visitorId } from "./ids.ts";
import { send } from "./transport.ts";

function pageInfo(): NonNullable<TrackerEvent["page"]> {
  const page: NonNullable<TrackerEvent["page"]> = { url: location.href, path: location.pathname, title: document.title };
  if (document.referrer) page.referrer = document.referrer;
  return page;
}

interface LoaderGlobal {
  c?: SiteConfig;
  e?: string;
}

function start(script: HTMLScriptElement | null): void {
  const loaded = (window as unknown as { LeadTracker?: LoaderGlobal }).LeadTracker;
  const siteKey = loaded?.c?.siteKey || script?.getAttribute("data-site-key");
  if (!siteKey) return;
  const endpoint = loaded?.e || script?.getAttribute("data-endpoint") || (script ? new URL(script.src).origin : "");
  if (!endpoint) return;
  const now = Date.now();
  const event: TrackerEvent = {
    id: uuid(),
    type: "page_view",
    ts: now,
    sessionId: sessionId(now).id,
    visitorId: visitorId(),
    page: pageInfo(),
  };
  send(endpoint, siteKey, [event]);
}

try {
  start(document.currentScript as HTMLScriptElement | null);
} catch {
  // never throw into the host page
}
