// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TrackerEvent } from "#contracts";
import type * as QueueModule from "./queue.ts";
import type * as StorageModule from "./storage.ts";

let queue: typeof QueueModule;
let storage: typeof StorageModule;
let allowed: boolean;
/** Each request the queue made: its parsed body. */
let requests: { siteKey: string; events: TrackerEvent[] }[];
/** What the edge answers next (default 202). */
let answers: (number | [number, Record<string, string>] | "network")[];

const URL = "https://edge.example/v1/events";

function event(type: TrackerEvent["type"] = "track", extra: Partial<TrackerEvent> = {}): TrackerEvent {
  return { id: crypto.randomUUID(), type, ts: Date.now(), sessionId: "s", visitorId: "v", name: "x", ...extra };
}

async function load(): Promise<void> {
  vi.resetModules();
  vi.doMock("./consent.ts", () => ({ maySend: () => allowed }));
  storage = await import("./storage.ts");
  storage.persist(true);
  queue = await import("./queue.ts");
  queue.startQueue(URL, { siteKey: "demo-site" });
}

const ids = (events: readonly TrackerEvent[]): string[] => events.map((e) => e.id);
const stored = (): TrackerEvent[] => {
  const key = Object.keys(localStorage).find((k) => k.startsWith("lt_q"));
  return key ? JSON.parse(localStorage.getItem(key)!)[1] : [];
};

beforeEach(async () => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
  localStorage.clear();
  sessionStorage.clear();
  allowed = true;
  requests = [];
  answers = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    expect(url).toBe(URL);
    expect(init.keepalive).toBe(true);
    requests.push(JSON.parse(init.body as string));
    const next = answers.shift() ?? 202;
    if (next === "network") throw new TypeError("Failed to fetch");
    const [status, headers] = Array.isArray(next) ? next : [next, {}];
    return new Response(status === 202 ? '{"accepted":1,"rejected":[]}' : "{}", { status, headers });
  });
  await load();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("queue: batching", () => {
  it("sends a batch 5 s after the first event, with every event that arrived meanwhile", async () => {
    queue.add(event());
    await vi.advanceTimersByTimeAsync(4000);
    queue.add(event());
    await vi.advanceTimersByTimeAsync(999);
    expect(requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ siteKey: "demo-site" });
    expect(requests[0]!.events).toHaveLength(2);
    expect(queue.pending()).toHaveLength(0);
  });

  it("sends at once when 50 events wait", async () => {
    for (let i = 0; i < 50; i++) queue.add(event());
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.events).toHaveLength(50);
  });

  it("sends a form submission at once, with what waited before it", async () => {
    const view = event("page_view");
    queue.add(view);
    queue.add(event("form_submission"));
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.events.map((e) => e.type)).toEqual(["page_view", "form_submission"]);
  });

  it("splits into requests of at most 50 events and 60 KB, and keeps within the keepalive budget in flight", async () => {
    allowed = false;
    const big = "x".repeat(20_000);
    for (let i = 0; i < 5; i++) queue.add(event("track", { props: { big } }));
    for (let i = 0; i < 60; i++) queue.add(event());
    allowed = true;
    const resolvers: (() => void)[] = [];
    vi.stubGlobal("fetch", (_url: string, init: RequestInit) => {
      requests.push(JSON.parse(init.body as string));
      expect(new Blob([init.body as string]).size).toBeLessThan(64 * 1024);
      return new Promise<Response>((resolve) => resolvers.push(() => resolve(new Response("{}", { status: 202 }))));
    });
    queue.flush();
    // Two 20 KB events fill the first request; nothing else fits in the 60 KB budget while it is in flight.
    expect(requests.map((r) => r.events.length)).toEqual([2]);
    while (resolvers.length) {
      resolvers.shift()!();
      await vi.advanceTimersByTimeAsync(0);
    }
    const sizes = requests.map((r) => r.events.length);
    expect(sizes.every((n) => n <= 50)).toBe(true);
    expect(sizes.reduce((a, b) => a + b)).toBe(65);
    expect(queue.pending()).toHaveLength(0);
  });

  it("sends nothing while sending is not allowed, and keeps the events", async () => {
    allowed = false;
    queue.add(event());
    queue.add(event("form_submission"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(requests).toHaveLength(0);
    expect(queue.pending()).toHaveLength(2);
  });

  it("forgets an event larger than one request may carry", async () => {
    queue.add(event("track", { props: { huge: "x".repeat(70_000) } }));
    const small = event();
    queue.add(small);
    queue.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(requests.flatMap((r) => ids(r.events))).toEqual([small.id]);
    expect(queue.pending()).toHaveLength(0);
  });
});

describe("queue: retries", () => {
  it("retries with the same event ids after a randomised backoff that doubles and is capped", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5); // jitter factor 1
    answers = ["network", 503, 500, 502, 503, 503, 503, 503];
    const e = event();
    queue.add(e);
    queue.flush();
    const gaps: number[] = [];
    let last = Date.now();
    while (requests.length < 9) {
      await vi.advanceTimersByTimeAsync(100);
      if (requests.length > gaps.length + 1) {
        gaps.push(Date.now() - last);
        last = Date.now();
      }
    }
    expect(gaps.map((g) => Math.round(g / 1000))).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
    expect(new Set(requests.map((r) => r.events[0]!.id))).toEqual(new Set([e.id]));
    expect(queue.pending()).toHaveLength(0);
  });

  it("spreads retries at random between half and one and a half times the backoff", async () => {
    const random = vi.spyOn(Math, "random");
    random.mockReturnValue(0);
    answers = ["network"];
    queue.add(event());
    queue.flush();
    await vi.advanceTimersByTimeAsync(499);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
  });

  it("waits as long as a 429's Retry-After says", async () => {
    answers = [[429, { "Retry-After": "10" }]];
    queue.add(event());
    queue.flush();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(requests).toHaveLength(1);
    queue.flush(); // an early flush does not jump the wait
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.events[0]!.id).toBe(requests[0]!.events[0]!.id);
  });

  it.each([400, 401, 403, 413, 415])("drops a batch refused for good with %i and does not retry it", async (status) => {
    answers = [status];
    queue.add(event());
    queue.flush();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(requests).toHaveLength(1);
    expect(queue.pending()).toHaveLength(0);
  });

  it("waits while the browser is offline and sends once back online", async () => {
    Object.defineProperty(navigator, "onLine", { value: false, configurable: true });
    queue.add(event());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requests).toHaveLength(0);
    Object.defineProperty(navigator, "onLine", { value: true, configurable: true });
    queue.flush(); // what the `online` listener calls
    await vi.advanceTimersByTimeAsync(0);
    expect(requests).toHaveLength(1);
  });
});

describe("queue: persistence", () => {
  it("keeps events in localStorage until the edge confirms them", async () => {
    const e = event();
    answers = ["network"];
    queue.add(e);
    expect(ids(stored())).toEqual([e.id]);
    queue.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(ids(stored())).toEqual([e.id]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(requests).toHaveLength(2);
    expect(stored()).toEqual([]);
    expect(Object.keys(localStorage).filter((k) => k.startsWith("lt_q"))).toEqual([]);
  });

  it("sends this tab's unconfirmed events on the next page load", async () => {
    allowed = false;
    const e = event("form_submission");
    queue.add(e);
    queue.leave(true); // pagehide
    allowed = true;
    await load(); // same tab: sessionStorage keeps the tab id
    queue.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(ids(requests[0]!.events)).toEqual([e.id]);
  });

  it("keeps the outbox marked closed for whatever is saved after pagehide, until pageshow", async () => {
    allowed = false;
    queue.add(event());
    queue.leave(true); // pagehide
    queue.add(event("engagement")); // the visibilitychange that follows pagehide
    expect(JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith("lt_q"))!)!)[0]).toBe(0);
    queue.leave(false); // pageshow: back from the back/forward cache
    expect(JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith("lt_q"))!)!)[0]).toBe(Date.now());
  });

  it("adopts the outboxes of closed and silent tabs, and leaves live tabs' alone", async () => {
    const now = Date.now();
    const closed = event();
    const dead = event();
    const live = event();
    localStorage.setItem("lt_qclosed1", JSON.stringify([0, [closed]]));
    localStorage.setItem("lt_qdead0001", JSON.stringify([now - 11 * 60_000, [dead]]));
    localStorage.setItem("lt_qlive0001", JSON.stringify([now - 60_000, [live]]));
    localStorage.setItem("lt_qbroken01", "{");
    await load();
    queue.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(requests.flatMap((r) => ids(r.events)).sort()).toEqual([closed.id, dead.id].sort());
    expect(localStorage.getItem("lt_qlive0001")).not.toBeNull();
    expect(localStorage.getItem("lt_qclosed1")).toBeNull();
    expect(localStorage.getItem("lt_qbroken01")).toBeNull();
  });

  it("caps the outbox at 200 events, dropping the oldest but keeping form submissions", async () => {
    allowed = false;
    const lead = event("form_submission");
    queue.add(lead);
    const rest = Array.from({ length: 250 }, () => event());
    for (const e of rest) queue.add(e);
    expect(queue.pending()).toHaveLength(200);
    expect(queue.pending()[0]!.id).toBe(lead.id);
    expect(queue.pending()[199]!.id).toBe(rest[249]!.id);
    expect(stored()).toHaveLength(200);
  });

  it("caps the outbox at 250,000 characters", async () => {
    allowed = false;
    for (let i = 0; i < 20; i++) queue.add(event("track", { props: { text: "y".repeat(20_000) } }));
    expect(JSON.stringify(queue.pending()).length).toBeLessThanOrEqual(250_000);
    expect(queue.pending().length).toBe(12);
  });

  it("keeps working in memory when storage throws", async () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, "localStorage")!;
    Object.defineProperty(globalThis, "localStorage", {
      configurable: true,
      get() {
        throw new DOMException("denied", "SecurityError");
      },
    });
    try {
      await load();
      queue.add(event());
      queue.flush();
      await vi.advanceTimersByTimeAsync(0);
      expect(requests).toHaveLength(1);
    } finally {
      Object.defineProperty(globalThis, "localStorage", original);
    }
  });
});
