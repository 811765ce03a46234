/**
 * Page views, also for single-page apps (pushState, replaceState, popstate, hashchange), one per distinct URL;
 * and `engagement` events with the visible time spent on a page, sent when the page is hidden or the app
 * leaves the route (so the sum of a page's engagement events is its time on page). A hidden page may never
 * come back, so the outbox is flushed then too.
 */
import type { PageInfo } from "#contracts";
import { feature } from "./config.ts";
import { emit, pageInfo } from "./events.ts";
import { flush } from "./queue.ts";
import { later, on } from "./util.ts";

let lastUrl = "";
let lastPage: PageInfo;
/** When the page last became visible; 0 while hidden. */
let visibleSince = 0;

/** Reports the visible time since the last report, then restarts the clock (stops it when `hidden`). */
export function engage(hidden?: boolean): void {
  const now = Date.now();
  if (feature("engagement") && visibleSince && now > visibleSince) emit("engagement", { page: lastPage, props: { engagedMs: now - visibleSince } });
  visibleSince = hidden ? 0 : visibleSince && now;
}

/** A page_view if the URL changed since the last one (`force`: always, for `LeadTracker("page")`). */
export function pageView(force?: boolean): void {
  const url = location.href;
  if (url == lastUrl && !force) return;
  engage();
  lastPage = { ...pageInfo(), referrer: (lastUrl || document.referrer).slice(0, 4096) || undefined };
  lastUrl = url;
  emit("page_view", { page: lastPage });
}

export function startPages(): void {
  lastPage = pageInfo();
  on(document, "visibilitychange", () => {
    if (!document.hidden) return (visibleSince = Date.now());
    engage(true);
    flush();
  });
  // The clock starts after the first view: before it there is no earlier page to report time for.
  const views = feature("pageViews");
  if (views) pageView();
  visibleSince = document.hidden ? 0 : Date.now();
  if (!views || !feature("spa")) return;
  // After the app's own handlers: the title may change with the route, and several calls in one task count once.
  const changed = (): unknown => later(pageView);
  for (const method of ["pushState", "replaceState"] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      changed();
      return result;
    };
  }
  on(window, "popstate", changed);
  on(window, "hashchange", changed);
}
