/** Sends a batch to the edge: `fetch` with `keepalive` and a text/plain body (no CORS preflight), `sendBeacon` as fallback. */
import type { TrackerEvent } from "#contracts";

export function send(endpoint: string, siteKey: string, events: TrackerEvent[]): void {
  const body = JSON.stringify({ siteKey, sentAt: Date.now(), events });
  const url = `${endpoint}/v1/events`;
  try {
    if (typeof fetch === "function") {
      fetch(url, { method: "POST", body, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(() => {
        // network failure: retry and offline persistence arrive with the full transport (issue C)
      });
      return;
    }
    navigator.sendBeacon?.(url, body);
  } catch {
    // never throw into the host page
  }
}
