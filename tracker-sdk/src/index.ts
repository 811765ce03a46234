/**
 * The tracker SDK: one IIFE with zero runtime dependencies. It reads its settings from the script tag
 * (`data-site-key`, optional `data-endpoint`; the endpoint defaults to the script's own origin) and sends a
 * `page_view` when it loads. Nothing here may throw into the host page.
 */
import type { TrackerEvent } from "#contracts";
import { sessionId, uuid, visitorId } from "./ids.ts";
import { send } from "./transport.ts";

function pageInfo(): NonNullable<TrackerEvent["page"]> {
  const page: NonNullable<TrackerEvent["page"]> = { url: location.href, path: location.pathname, title: document.title };
  if (document.referrer) page.referrer = document.referrer;
  return page;
}

function start(script: HTMLScriptElement | null): void {
  const siteKey = script?.getAttribute("data-site-key");
  if (!script || !siteKey) return;
  const endpoint = script.getAttribute("data-endpoint") || new URL(script.src).origin;
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
