/**
 * The tracker SDK: one IIFE with zero runtime dependencies and one global, `window.LeadTracker`. Its settings come
 * from the loader (`/s/<key>.js` leaves the site config in `LeadTracker.c`, the edge origin in `.e` and the calls
 * made before the SDK arrived in `.q`) or, without a loader, from its own script tag (`data-site-key`, optional
 * `data-endpoint`; defaults for everything else). Nothing here may throw into the host page.
 *
 * API: `LeadTracker("track", name, props)`, and likewise identify, page, consent, flush and debug. One calling
 * convention, the same before and after the SDK has loaded (no methods that exist only once it has).
 */
import type { SiteConfig } from "#contracts";
import { configure, feature } from "./config.ts";
import { initConsent, setConsent } from "./consent.ts";
import { emit } from "./events.ts";
import { formsLeaving, startForms } from "./forms.ts";
import { pageView, startPages } from "./pages.ts";
import { flush, leave, reset, restore, startQueue } from "./queue.ts";
import { set } from "./storage.ts";
import { debug, later, on, safe } from "./util.ts";

type Api = Record<string, (...args: never[]) => void>;
interface Global {
  (method: string, ...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  c?: Partial<SiteConfig>;
  e?: string;
  /** Set once the SDK runs, so a second copy on the page does nothing. */
  l?: 1;
}

const api: Api = {
  track(name: string, props?: Record<string, unknown>) {
    if (name) emit("track", { name, props });
  },
  /** An email goes into the traits; any other id becomes the user id of this and later events. */
  identify(idOrEmail: string, traits?: Record<string, unknown>) {
    const t = { ...traits };
    if (/@/.test(idOrEmail)) t.email = idOrEmail;
    else if (idOrEmail) set("lt_uid", `${idOrEmail}`);
    emit("identify", { traits: t });
  },
  page() {
    pageView(true);
  },
  consent(state: string | boolean) {
    const granted = state === true || state == "granted";
    setConsent(granted);
    if (granted) restore();
    else reset();
    flush();
  },
  flush,
  debug(on?: boolean) {
    debug.on = on !== false;
  },
};

function start(script: HTMLScriptElement | null): void {
  const w = window as unknown as { LeadTracker?: Global };
  const stub = w.LeadTracker || ({} as Global);
  if (stub.l) return;
  const config = stub.c || {};
  const data = script ? script.dataset : {};
  const siteKey = config.siteKey || data.siteKey;
  const edge = stub.e || data.endpoint || (script && new URL(script.src).origin);
  if (!siteKey || !edge) return;

  configure(config, edge);
  debug.on = !!config.debug;
  initConsent(config.consent || {});
  startQueue(`${edge}/v1/events`, { siteKey });

  const tracker = safe((method: string, ...args: unknown[]) => api[method]!(...(args as never[]))) as Global;
  tracker.c = config;
  tracker.e = edge;
  tracker.l = 1;
  w.LeadTracker = tracker;
  for (const call of stub.q || []) tracker(...(call as [string]));

  if (feature("formSubmissions")) startForms();
  startPages();
  // What waits from earlier pages, and this load's first events, go out at once; later events are batched.
  later(flush);
  on(window, "online", flush);
  // Never `unload`: it keeps the page out of the back/forward cache.
  on(window, "pagehide", () => {
    formsLeaving();
    leave(true);
  });
  on(window, "pageshow", () => leave(false)); // back from the back/forward cache
}

safe(start)(document.currentScript as HTMLScriptElement | null);
