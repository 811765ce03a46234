// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SiteConfig, TrackerEvent } from "#contracts";
import type * as PagesModule from "./pages.ts";
import type * as QueueModule from "./queue.ts";
import { ofType, setUrl, trackListeners } from "./test-dom.ts";

let pages: typeof PagesModule;
let queue: typeof QueueModule;
let untrack: () => void;
let pushState: History["pushState"];
let replaceState: History["replaceState"];
let hidden = false;

async function start(config: Partial<SiteConfig> = {}): Promise<void> {
  vi.resetModules();
  (await import("./config.ts")).configure(config, "https://edge.example");
  queue = await import("./queue.ts");
  // opt-in without consent: events are kept, never sent
  (await import("./consent.ts")).initConsent({ mode: "opt-in" });
  queue.startQueue("https://edge.example/v1/events", { siteKey: "demo-site" });
  pages = await import("./pages.ts");
  pages.startPages();
}

const events = (type: TrackerEvent["type"]): TrackerEvent[] => ofType(queue.pending(), type);
const urls = (): string[] => events("page_view").map((e) => e.page!.url);

function setHidden(value: boolean): void {
  hidden = value;
  document.dispatchEvent(new Event("visibilitychange"));
}

beforeEach(async () => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
  setUrl("https://shop.example/");
  document.title = "Home";
  hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  pushState = history.pushState;
  replaceState = history.replaceState;
  untrack = trackListeners();
  await start();
});

afterEach(() => {
  untrack();
  history.pushState = pushState;
  history.replaceState = replaceState;
  vi.useRealTimers();
});

describe("pages: page views", () => {
  it("sends a page_view on load, after a session_start", () => {
    expect(queue.pending().map((e) => e.type)).toEqual(["session_start", "page_view"]);
    expect(events("page_view")[0]!.page).toMatchObject({ url: "https://shop.example/", path: "/", title: "Home" });
  });

  it("sends one page_view per new URL of a single-page app, with the previous URL as referrer", async () => {
    history.pushState({}, "", "/pricing");
    await vi.advanceTimersByTimeAsync(0);
    history.replaceState({ scroll: 1 }, "", "/pricing"); // same URL: no new view
    await vi.advanceTimersByTimeAsync(0);
    location.hash = "#plans";
    window.dispatchEvent(new Event("hashchange"));
    window.dispatchEvent(new Event("popstate")); // browsers fire both for one hash change
    await vi.advanceTimersByTimeAsync(0);
    history.replaceState({}, "", "/pricing?plan=pro");
    await vi.advanceTimersByTimeAsync(0);
    history.back();
    setUrl("https://shop.example/pricing");
    window.dispatchEvent(new Event("popstate"));
    await vi.advanceTimersByTimeAsync(0);
    expect(urls()).toEqual([
      "https://shop.example/",
      "https://shop.example/pricing",
      "https://shop.example/pricing#plans",
      "https://shop.example/pricing?plan=pro",
      "https://shop.example/pricing",
    ]);
    expect(events("page_view")[2]!.page!.referrer).toBe("https://shop.example/pricing");
  });

  it("counts several route changes within one task once, for the final URL and title", async () => {
    history.pushState({}, "", "/login");
    history.replaceState({}, "", "/account");
    document.title = "Account";
    await vi.advanceTimersByTimeAsync(0);
    expect(urls()).toEqual(["https://shop.example/", "https://shop.example/account"]);
    expect(events("page_view")[1]!.page!.title).toBe("Account");
  });

  it("leaves route changes alone when the spa feature is off", async () => {
    untrack();
    history.pushState = pushState;
    untrack = trackListeners();
    await start({ features: { spa: false } });
    history.pushState({}, "", "/other");
    await vi.advanceTimersByTimeAsync(0);
    expect(urls()).toEqual(["https://shop.example/"]);
  });

  it("sends no page views when the pageViews feature is off, but page() still does", async () => {
    await start({ features: { pageViews: false } });
    expect(events("page_view")).toEqual([]);
    pages.pageView(true);
    pages.pageView(true);
    expect(events("page_view")).toHaveLength(2);
  });
});

describe("pages: engagement", () => {
  it("reports nothing at load, even when the clock moves while the SDK starts", async () => {
    let t = Date.now();
    vi.spyOn(Date, "now").mockImplementation(() => (t += 5));
    await start();
    expect(events("engagement")).toEqual([]);
  });

  it("reports the visible time on the page when it is hidden, and only visible time", async () => {
    await vi.advanceTimersByTimeAsync(12_000);
    setHidden(true);
    await vi.advanceTimersByTimeAsync(60_000); // hidden: not counted
    setHidden(false);
    await vi.advanceTimersByTimeAsync(3_000);
    setHidden(true);
    expect(events("engagement").map((e) => e.props)).toEqual([{ engagedMs: 12_000 }, { engagedMs: 3_000 }]);
    expect(events("engagement")[0]!.page!.url).toBe("https://shop.example/");
  });

  it("reports the time on a route when a single-page app leaves it", async () => {
    await vi.advanceTimersByTimeAsync(5_000);
    history.pushState({}, "", "/next");
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(2_000);
    setHidden(true);
    const engagement = events("engagement");
    expect(engagement.map((e) => [e.page!.url, e.props!.engagedMs])).toEqual([
      ["https://shop.example/", 5_000],
      ["https://shop.example/next", 2_000],
    ]);
  });

  it("reports nothing when the engagement feature is off", async () => {
    await start({ features: { engagement: false } });
    await vi.advanceTimersByTimeAsync(5_000);
    setHidden(true);
    expect(events("engagement")).toEqual([]);
  });
});
