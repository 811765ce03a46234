/**
 * Team activity: the Custom JS that the marketplace app injects into every CRM page. It reports which CRM pages the
 * agency's own users view and how long they are actively on them; it is not the website SDK (no consent banner
 * applies: the employer's app tracks its staff's work tool, and website consent — `lt_c` — is never read here).
 * Served by the edge at `GET /crm/activity.js`, which wraps this bundle in `(function(LT_ACTIVITY_CONFIG){…})(config)`
 * (see `ActivityScriptConfig`).
 *
 * Behaviour (deterministic, for end-to-end tests):
 * 1. No config, an empty `appId`, no `window.exposeSessionDetails`, or a first call of it that throws, rejects or
 *    gives nothing: one `console.debug("[LeadTracker activity] off: …")` and nothing else (no listener, no storage,
 *    no request). A second copy of the script on the page does nothing. (A failing call after the first is retried,
 *    like a failed exchange.)
 * 2. Otherwise, once the first `exposeSessionDetails(appId)` has resolved: `window.LeadTrackerActivity.flush()` exists
 *    (sends what waits now), the first view is queued and the details are exchanged at `tokenUrl` (POST, text/plain
 *    body `{"encryptedData":…}`) for `{ token, expiresAt }`. Nothing is sent before a token exists.
 * 3. Events go to `endpoint` as text/plain `{ token, sentAt, events }` through the SDK's outbox (`lt_aq<tab>` in
 *    localStorage): the load's first batch as soon as the token is there, later ones within 5 s or at 50 events, and
 *    at once when the page is hidden or left. Retries keep the events' ids. A 401 keeps the batch, gets a new token
 *    (exposeSessionDetails again) and sends it with that one. The token is also renewed 5 minutes before it expires.
 * 4. A view: `{ type: "view", id, ts, session, view, path, page }` on load and on every route change
 *    (pushState, replaceState, popstate, hashchange; read in a zero-delay timer) whose normalised path differs from
 *    the current one, or whose CRM location (`/location/<id>`) differs: then the old location's events are sent
 *    first, and the rest wait for a token of the new location.
 * 5. Active time: `{ type: "time", …, ms }` of the view that was current, with 1 ≤ ms ≤ 3,600,000. The clock runs
 *    while the page is visible and the last input (pointerdown/move, mousemove, keydown, scroll, wheel, touchstart;
 *    load and becoming visible count too) is less than `idleMs` old; going idle stops it at the last input (the idle
 *    window is not counted). Reported on a route change and when the page is hidden or left (pagehide), up to that
 *    moment; when the user goes idle (at last input + idleMs) and every 60 s while the clock runs, up to the last
 *    input (the rest is counted by the next report if the user is still active then).
 * 6. `session`: random, in localStorage `lt_as`, new after 30 minutes without an event; a session that begins with
 *    a `time` event first gets a new view of the current page.
 * 7. Only `location.pathname` and `location.hash` are read from the page, and only normalised (`normalisePath`:
 *    ids, emails, phone numbers → placeholders; no query string) paths are queued.
 */
import type { ActivityScriptConfig } from "../../../contracts/activity-path.ts";
import { flush, leave, retarget, startQueue } from "../queue.ts";
import { persist } from "../storage.ts";
import { attempt, on, safe } from "../util.ts";
import { report, startClock } from "./clock.ts";
import { renew, startToken, type Host } from "./token.ts";
import { startViews } from "./views.ts";

declare const LT_ACTIVITY_CONFIG: ActivityScriptConfig | undefined;

const off = (): void => console.debug("[LeadTracker activity] off: no app id, or no session details from the CRM");

function begin(config: ActivityScriptConfig, encrypted: unknown): void {
  persist(true);
  retarget("lt_aq", () => renew(true));
  startQueue(config.endpoint);
  startViews(config.pages);
  const idle = +config.idleMs;
  startClock(idle > 0 ? idle : 6e4); // (a zero or negative timeout would make the clock's timer spin)
  startToken(config, encrypted);
  on(window, "online", flush);
  on(window, "pagehide", () => {
    report(true);
    flush();
    leave(true);
  });
  on(window, "pageshow", () => leave(false)); // back from the back/forward cache
}

function start(config?: ActivityScriptConfig): void {
  const w = window as Window & Host & { LeadTrackerActivity?: { flush(): void } };
  if (w.LeadTrackerActivity) return;
  w.LeadTrackerActivity = { flush };
  if (!config || !config.appId || !w.exposeSessionDetails) return off();
  Promise.resolve(attempt(() => w.exposeSessionDetails!(config.appId))).then(
    safe((encrypted: unknown) => (encrypted ? begin(config, encrypted) : off())),
    off,
  );
}

safe(start)(typeof LT_ACTIVITY_CONFIG == "object" ? LT_ACTIVITY_CONFIG : undefined);
