/**
 * One request to the edge: `fetch` with `keepalive` (it outlives the page) and a string body, which the browser
 * sends as text/plain (no CORS preflight); `sendBeacon` only where fetch is missing or throws.
 */
import { attempt } from "./util.ts";

/** `status` 0: no answer (network error, or a beacon the browser refused). `retryAfterMs` from `Retry-After`. */
export type Answer = (status: number, retryAfterMs: number) => void;

export function post(url: string, body: string, answer: Answer): void {
  try {
    fetch(url, { method: "POST", body, keepalive: true }).then(
      (res) => answer(res.status, 1e3 * +(res.headers.get("Retry-After") || 0) || 0),
      () => answer(0, 0),
    );
  } catch {
    // A beacon has no answer: once the browser took it, it counts as delivered. No beacon either: the outbox keeps
    // the events.
    answer(attempt(() => navigator.sendBeacon(url, body)) ? 202 : 0, 0);
  }
}
