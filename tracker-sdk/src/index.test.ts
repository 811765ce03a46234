// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SiteConfig, TrackerEvent } from "#contracts";
import { trackListeners } from "./test-dom.ts";

interface Global {
  (...args: unknown[]): void;
  q?: unknown[][];
  c?: Partial<SiteConfig>;
  e?: string;
}
const w = window as unknown as { LeadTracker?: Global };
const EDGE = "https://edge.example";

let requests: { url: string; siteKey: string; events: TrackerEvent[] }[];
let untrack: () => void;

/** The loader's stub: calls before the SDK loads go to `.q`. */
function loaderStub(config: Partial<SiteConfig>, calls: unknown[][] = []): Global {
  const stub: Global = (...args: unknown[]) => (stub.q = stub.q || []).push(args);
  stub.c = { siteKey: "demo-site", ...config };
  stub.e = EDGE;
  for (const call of calls) stub(...call);
  return stub;
}

async function boot(stub?: Global): Promise<Global> {
  vi.resetModules();
  w.LeadTracker = stub;
  await import("./index.ts");
  await vi.advanceTimersByTimeAsync(0);
  return w.LeadTracker!;
}

const sent = (): TrackerEvent[] => requests.flatMap((r) => r.events);
const types = (): string[] => sent().map((e) => e.type);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
  localStorage.clear();
  sessionStorage.clear();
  requests = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    requests.push({ url, ...JSON.parse(init.body as string) });
    return new Response("{}", { status: 202 });
  });
  untrack = trackListeners();
});

afterEach(() => {
  untrack();
  delete w.LeadTracker;
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("sdk: snippet and API", () => {
  it("sends the load's events at once, and batches later ones for 5 s", async () => {
    const tracker = await boot(loaderStub({}));
    expect(requests).toHaveLength(1);
    expect(types()).toEqual(["session_start", "page_view"]);
    tracker("track", "Later");
    await vi.advanceTimersByTimeAsync(4_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
  });

  it("replays the calls made before it loaded, then takes calls itself", async () => {
    const tracker = await boot(loaderStub({}, [["identify", "user-7", { plan: "pro" }], ["track", "Quote requested", { size: "L" }]]));
    tracker("track", "After load");
    tracker("flush");
    await vi.advanceTimersByTimeAsync(0);
    expect(requests[0]!.url).toBe(`${EDGE}/v1/events`);
    expect(types()).toEqual(["session_start", "identify", "track", "page_view", "track"]);
    const [, identify, quote, view, after] = sent();
    expect(identify).toMatchObject({ traits: { plan: "pro" }, userId: "user-7" });
    expect(quote).toMatchObject({ name: "Quote requested", props: { size: "L" }, userId: "user-7" });
    expect(after!.name).toBe("After load");
    expect(new Set(sent().map((e) => e.sessionId)).size).toBe(1);
    expect(view!.page!.url).toBe(location.href);
  });

  it("refuses an event it cannot serialise, and keeps working", async () => {
    const tracker = await boot(loaderStub({}));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    tracker("track", "Circular", circular);
    tracker("identify", 42);
    tracker("track", "Fine");
    tracker("flush");
    await vi.advanceTimersByTimeAsync(0);
    expect(sent().filter((e) => e.type == "track").map((e) => e.name)).toEqual(["Fine"]);
    expect(sent().find((e) => e.name == "Fine")!.userId).toBe("42");
  });

  it("puts an email given to identify into the traits", async () => {
    const tracker = await boot(loaderStub({}));
    tracker("identify", "ada@example.com", { name: "Ada" });
    tracker("flush");
    await vi.advanceTimersByTimeAsync(0);
    const identify = sent().find((e) => e.type == "identify")!;
    expect(identify.traits).toEqual({ name: "Ada", email: "ada@example.com" });
    expect(identify.userId).toBeUndefined();
  });

  it("installs exactly one global, and a second copy of the SDK does nothing", async () => {
    const before = new Set(Object.keys(window));
    const tracker = await boot(loaderStub({}));
    expect(Object.keys(window).filter((k) => !before.has(k))).toEqual(["LeadTracker"]);
    expect(typeof tracker).toBe("function");
    expect(tracker.c!.siteKey).toBe("demo-site");
    vi.resetModules();
    await import("./index.ts");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(w.LeadTracker).toBe(tracker);
    expect(types().filter((t) => t == "page_view")).toHaveLength(1);
  });

  it("works without the loader, from its script tag's data-site-key and origin", async () => {
    const script = document.createElement("script");
    script.src = "https://cdn-edge.example/sdk/abc.js";
    script.setAttribute("data-site-key", "tag-site");
    Object.defineProperty(document, "currentScript", { value: script, configurable: true });
    try {
      await boot(undefined);
    } finally {
      Object.defineProperty(document, "currentScript", { value: null, configurable: true });
    }
    expect(requests[0]).toMatchObject({ url: "https://cdn-edge.example/v1/events", siteKey: "tag-site" });
    expect(types()).toEqual(["session_start", "page_view"]);
  });

  it("does nothing without a site key", async () => {
    await boot(undefined);
    expect(w.LeadTracker).toBeUndefined();
    expect(requests).toEqual([]);
  });

  it("logs events to the console in debug mode", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const tracker = await boot(loaderStub({}));
    expect(log).not.toHaveBeenCalled();
    tracker("debug", true);
    tracker("track", "Seen");
    expect(log).toHaveBeenCalledWith("[LeadTracker]", "track", expect.objectContaining({ name: "Seen" }));
    tracker("debug", false);
  });

  it("flushes and marks its outbox closed when the page is hidden", async () => {
    const tracker = await boot(loaderStub({}));
    vi.stubGlobal("fetch", () => new Promise(() => {})); // never answers
    tracker("track", "Leaving");
    window.dispatchEvent(new Event("pagehide"));
    const key = Object.keys(localStorage).find((k) => k.startsWith("lt_q"))!;
    const [heartbeat, events] = JSON.parse(localStorage.getItem(key)!);
    expect(heartbeat).toBe(0);
    expect(events.map((e: TrackerEvent) => e.name)).toEqual(["Leaving"]);
  });
});

describe("sdk: consent", () => {
  it("opt-in: stores and sends nothing before consent, then sends what it kept", async () => {
    const tracker = await boot(loaderStub({ consent: { mode: "opt-in", respectDoNotTrack: false } }));
    tracker("track", "Before consent");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(requests).toEqual([]);
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
    tracker("consent", "granted");
    await vi.advanceTimersByTimeAsync(0);
    tracker("track", "After consent");
    tracker("flush");
    await vi.advanceTimersByTimeAsync(0);
    expect(types()).toEqual(["session_start", "page_view", "track", "track"]);
    // each event records the consent state when it happened
    expect(sent().map((e) => e.consent)).toEqual(["unknown", "unknown", "unknown", "granted"]);
    expect(localStorage.getItem("lt_vid")).toBe(sent()[0]!.visitorId);
  });

  it("opt-in: consent given before the SDK loaded applies at once", async () => {
    await boot(loaderStub({ consent: { mode: "opt-in", respectDoNotTrack: false } }, [["consent", true]]));
    expect(types()).toEqual(["session_start", "page_view"]);
  });

  it("a denial drops what was kept and stops tracking", async () => {
    const tracker = await boot(loaderStub({ consent: { mode: "opt-in", respectDoNotTrack: false } }));
    tracker("consent", "denied");
    tracker("consent", "granted");
    await vi.advanceTimersByTimeAsync(0);
    expect(types()).toEqual([]);
    tracker("consent", false);
    tracker("track", "After denial");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(types()).toEqual([]);
  });

  it("cookieless: ids last one page and nothing is stored", async () => {
    await boot(loaderStub({ consent: { mode: "cookieless", respectDoNotTrack: false } }));
    const first = sent()[0]!;
    untrack();
    untrack = trackListeners();
    delete w.LeadTracker;
    await boot(loaderStub({ consent: { mode: "cookieless", respectDoNotTrack: false } }));
    const second = sent().at(-1)!;
    expect(second.visitorId).not.toBe(first.visitorId);
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
  });
});

describe("sdk: never breaks the page", () => {
  it("keeps working when storage throws and fetch is missing, and throws nothing", async () => {
    const local = Object.getOwnPropertyDescriptor(globalThis, "localStorage")!;
    const session = Object.getOwnPropertyDescriptor(globalThis, "sessionStorage")!;
    const refuse = {
      configurable: true,
      get() {
        throw new DOMException("The operation is insecure.", "SecurityError");
      },
    };
    Object.defineProperty(globalThis, "localStorage", refuse);
    Object.defineProperty(globalThis, "sessionStorage", refuse);
    vi.stubGlobal("fetch", undefined);
    const beacons: string[] = [];
    Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: (_url: string, body: string) => beacons.push(body) > 0 });
    const errors: unknown[] = [];
    const onError = (e: ErrorEvent) => errors.push(e.error);
    window.addEventListener("error", onError);
    try {
      const tracker = await boot(loaderStub({}));
      expect(() => {
        tracker("no-such-method");
        tracker("track");
        tracker("identify", null);
        tracker("consent", "granted");
        tracker("track", "Still here");
        tracker("flush");
      }).not.toThrow();
      await vi.advanceTimersByTimeAsync(10_000);
      const events = beacons.flatMap((b) => JSON.parse(b).events as TrackerEvent[]);
      expect(events.map((e) => e.type)).toEqual(["session_start", "page_view", "identify", "track"]);
      expect(errors).toEqual([]);
    } finally {
      window.removeEventListener("error", onError);
      Object.defineProperty(globalThis, "localStorage", local);
      Object.defineProperty(globalThis, "sessionStorage", session);
      delete (navigator as { sendBeacon?: unknown }).sendBeacon;
    }
  });
});
