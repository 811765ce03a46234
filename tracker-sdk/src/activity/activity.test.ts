// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { activityEventSchema, type ActivityEvent } from "#contracts";
import { DEFAULT_PAGE_NAMES, type ActivityScriptConfig } from "../../../contracts/activity-path.ts";
import { bundleActivity } from "../../../scripts/build-sdk.ts";
import { setUrl, trackListeners } from "../test-dom.ts";

const TOKEN_URL = "https://api.example/v1/auth/highlevel/actor";
const ENDPOINT = "https://edge.example/v1/activity";
const CRM = "https://app.crm.example";
const LOC = "ve9EPM428h8vShlRW1KT";
const T0 = 1_700_000_000_000;

interface Page {
  exposeSessionDetails?: (appId: string) => Promise<unknown>;
  LeadTrackerActivity?: { flush(): void };
}
const w = window as unknown as Page;
const g = globalThis as unknown as { LT_ACTIVITY_CONFIG?: ActivityScriptConfig | null };

/** Every request: where to, the raw body, and the parsed one. */
let requests: { url: string; body: string; json: { token?: string; events?: ActivityEvent[]; encryptedData?: string } }[];
/** What the edge answers next (default 202). */
let edgeAnswers: number[];
/** What the token exchange answers next (default a new token). */
let tokenAnswers: ("fail" | "hang" | "hang-until-aborted")[];
let exposed: string[];
let tokens = 0;
let visibility: DocumentVisibilityState;
let untrack: () => void;
let pushState: History["pushState"];
let replaceState: History["replaceState"];

const config = (over: Partial<ActivityScriptConfig> = {}): ActivityScriptConfig => ({
  appId: "app-1",
  tokenUrl: TOKEN_URL,
  endpoint: ENDPOINT,
  idleMs: 10_000,
  pages: { ...DEFAULT_PAGE_NAMES },
  ...over,
});

async function boot(c: ActivityScriptConfig | null = config()): Promise<void> {
  vi.resetModules();
  g.LT_ACTIVITY_CONFIG = c;
  await import("./index.ts");
  await vi.advanceTimersByTimeAsync(0);
}

const edge = () => requests.filter((r) => r.url == ENDPOINT);
const sent = (): ActivityEvent[] => edge().flatMap((r) => r.json.events!);
const ofType = <T extends ActivityEvent["type"]>(type: T) => sent().filter((e): e is Extract<ActivityEvent, { type: T }> => e.type == type);
const times = (): number[] => ofType("time").map((e) => e.ms);

function setVisibility(state: DocumentVisibilityState): void {
  visibility = state;
  document.dispatchEvent(new Event("visibilitychange"));
}
const input = (type = "pointerdown"): boolean => window.dispatchEvent(new Event(type));
/** Sends what waits, and lets the answers arrive. */
async function flush(): Promise<void> {
  w.LeadTrackerActivity!.flush();
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  localStorage.clear();
  sessionStorage.clear();
  setUrl(`${CRM}/v2/location/${LOC}/contacts/smart_list/All`);
  visibility = "visible";
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });
  requests = [];
  edgeAnswers = [];
  tokenAnswers = [];
  exposed = [];
  tokens = 0;
  w.exposeSessionDetails = async (appId: string) => {
    exposed.push(appId);
    return `ENC:${exposed.length}`;
  };
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    expect(typeof init.body).toBe("string"); // a string body is text/plain: no CORS preflight
    expect(init.headers).toBeUndefined();
    const body = init.body as string;
    requests.push({ url, body, json: JSON.parse(body) });
    if (url == TOKEN_URL) {
      const next = tokenAnswers.shift();
      if (next == "hang") return new Promise(() => {});
      if (next == "hang-until-aborted") {
        return new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(init.signal!.reason)));
      }
      if (next == "fail") return new Response('{"error":"unavailable"}', { status: 503 });
      return Response.json({ token: `tok-${++tokens}`, expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    }
    return new Response("{}", { status: edgeAnswers.shift() ?? 202 });
  });
  pushState = history.pushState;
  replaceState = history.replaceState;
  untrack = trackListeners();
});

afterEach(() => {
  untrack();
  history.pushState = pushState;
  history.replaceState = replaceState;
  delete w.LeadTrackerActivity;
  delete w.exposeSessionDetails;
  delete g.LT_ACTIVITY_CONFIG;
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("activity: start", () => {
  it.each([
    ["no exposeSessionDetails on the page", () => delete w.exposeSessionDetails, config()],
    ["exposeSessionDetails rejects", () => (w.exposeSessionDetails = () => Promise.reject(new Error("not in an app"))), config()],
    [
      "exposeSessionDetails throws",
      () =>
        (w.exposeSessionDetails = () => {
          throw new Error("boom");
        }),
      config(),
    ],
    ["exposeSessionDetails gives nothing", () => (w.exposeSessionDetails = async () => ""), config()],
    ["an empty app id", () => {}, config({ appId: "" })],
    ["no config", () => {}, null],
  ])("%s: sends nothing, stores nothing, says so once", async (_case, arrange, c) => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
    arrange();
    await boot(c);
    history.pushState({}, "", "/v2/location/x/conversations");
    input();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(requests).toEqual([]);
    expect(Object.keys(localStorage)).toEqual([]);
    expect(debug).toHaveBeenCalledTimes(1);
    expect(debug.mock.calls[0]![0]).toMatch(/^\[LeadTracker activity\] off/);
  });

  it("runs as the edge serves it: the minified bundle wrapped in a function that passes the config", async () => {
    const { code } = await bundleActivity();
    vi.useFakeTimers({ now: T0 }); // (the build ran on real timers)
    new Function(`(function(LT_ACTIVITY_CONFIG){${code}})(${JSON.stringify(config({ appId: "app-9" }))});`)();
    await vi.advanceTimersByTimeAsync(0);
    expect(exposed).toEqual(["app-9"]);
    expect(edge()[0]!.json).toMatchObject({ token: "tok-1", events: [{ type: "view", page: "Contacts" }] });
  }, 30_000);

  it("exchanges the session details for a token, then sends the first view with it", async () => {
    await boot();
    expect(exposed).toEqual(["app-1"]);
    expect(requests[0]).toMatchObject({ url: TOKEN_URL, body: '{"encryptedData":"ENC:1"}' });
    expect(edge()).toHaveLength(1);
    const [request] = edge();
    expect(request!.json).toMatchObject({ token: "tok-1", sentAt: T0 });
    expect(request!.json.events).toEqual([
      { type: "view", id: expect.any(String), ts: T0, session: expect.any(String), view: expect.any(String), path: "/v2/location/:locationId/contacts/smart_list/All", page: "Contacts" },
    ]);
    expect(activityEventSchema.safeParse(request!.json.events![0]).success).toBe(true);
  });

  it("keeps events while there is no token, and sends them with the first one", async () => {
    tokenAnswers = ["fail", "fail"];
    await boot();
    history.pushState({}, "", `/v2/location/${LOC}/opportunities/list`);
    await vi.advanceTimersByTimeAsync(400); // first retry after 0.5-1.5 s
    expect(requests.map((r) => r.url)).toEqual([TOKEN_URL]);
    await vi.advanceTimersByTimeAsync(10_000);
    // retried with backoff, each time with new session details; then the events waiting went with the token
    expect(requests.filter((r) => r.url == TOKEN_URL).map((r) => r.json.encryptedData)).toEqual(["ENC:1", "ENC:2", "ENC:3"]);
    expect(edge()[0]!.json.token).toBe("tok-1");
    expect(ofType("view").map((e) => e.page)).toEqual(["Contacts", "Opportunities"]);
  });

  it("gives up on an exchange unanswered after 30 s and tries again, rather than waiting for ever", async () => {
    tokenAnswers = ["hang-until-aborted"];
    // the browser's timeout signal, on the test's clock
    const timeout = vi.spyOn(AbortSignal, "timeout").mockImplementation((ms: number) => {
      const c = new AbortController();
      setTimeout(() => c.abort(new DOMException("timed out", "TimeoutError")), ms);
      return c.signal;
    });
    await boot();
    expect(timeout).toHaveBeenCalledWith(30_000);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(requests.filter((r) => r.url == TOKEN_URL)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000 + 1_600); // the timeout, then the first retry (0.5-1.5 s)
    expect(requests.filter((r) => r.url == TOKEN_URL).map((r) => r.json.encryptedData)).toEqual(["ENC:1", "ENC:2"]);
    await vi.advanceTimersByTimeAsync(0);
    expect(edge()[0]!.json.token).toBe("tok-1");
  });

  it("is not held back by a website consent decision on the same origin", async () => {
    localStorage.setItem("lt_c", "denied");
    await boot();
    expect(ofType("view")).toHaveLength(1);
    expect(localStorage.getItem("lt_c")).toBe("denied");
  });

  it("does nothing when a second copy runs on the page", async () => {
    await boot();
    const again = vi.fn(async () => "ENC:x");
    w.exposeSessionDetails = again;
    vi.resetModules();
    await import("./index.ts");
    await vi.advanceTimersByTimeAsync(0);
    expect(again).not.toHaveBeenCalled();
    expect(ofType("view")).toHaveLength(1);
  });
});

describe("activity: views", () => {
  it("makes one view per route change (push, replace, pop, hash), none for the same normalised route", async () => {
    await boot();
    history.pushState({}, "", `/v2/location/${LOC}/contacts/detail/Hj2kL9mN0pQ4rS6tU8vW`);
    await vi.advanceTimersByTimeAsync(0);
    history.replaceState({}, "", `/v2/location/${LOC}/contacts/detail/Zz9yX8wV7uT6sR5qP4oN?tab=notes`); // same route
    await vi.advanceTimersByTimeAsync(0);
    history.replaceState({}, "", `/v2/location/${LOC}/settings/profile`);
    history.pushState({}, "", `/v2/location/${LOC}/settings/profile/`); // same task, same route: one view
    await vi.advanceTimersByTimeAsync(0);
    setUrl(`${CRM}/v2/location/${LOC}/conversations/conversations/Kq0Zt7yXw3VbN5mLp2Rs`);
    window.dispatchEvent(new Event("popstate"));
    await vi.advanceTimersByTimeAsync(0);
    setUrl(`${CRM}/#/settings/company`);
    window.dispatchEvent(new Event("hashchange"));
    window.dispatchEvent(new Event("popstate")); // browsers fire both for one hash change
    await vi.advanceTimersByTimeAsync(0);
    await flush();
    const views = ofType("view");
    expect(views.map((e) => [e.path, e.page])).toEqual([
      ["/v2/location/:locationId/contacts/smart_list/All", "Contacts"],
      ["/v2/location/:locationId/contacts/detail/:id", "Contacts"],
      ["/v2/location/:locationId/settings/profile", "Settings"],
      ["/v2/location/:locationId/conversations/conversations/:id", "Conversations"],
      ["/settings/company", "Settings"],
    ]);
    expect(new Set(views.map((e) => e.view)).size).toBe(5);
    expect(new Set(sent().map((e) => e.id)).size).toBe(sent().length);
    expect(new Set(sent().map((e) => e.session)).size).toBe(1);
    for (const e of sent()) expect(activityEventSchema.safeParse(e).success).toBe(true);
  });

  it("falls back to the normalised path when the map has no name", async () => {
    await boot(config({ pages: { opportunities: "Deals" } }));
    history.pushState({}, "", `/v2/location/${LOC}/opportunities/list`);
    await vi.advanceTimersByTimeAsync(0);
    await flush();
    expect(ofType("view").map((e) => e.page)).toEqual(["/v2/location/:locationId/contacts/smart_list/All", "Deals"]);
  });

  it("never sends an email or a phone number from the URL, in a path segment or the query string", async () => {
    setUrl(`${CRM}/v2/location/${LOC}/contacts/search/jane.doe%40example.com?email=jane.doe@example.com&phone=%2B15551234567`);
    await boot();
    history.pushState({}, "", "/contacts/+1-555-123-4567?q=5551234567");
    await vi.advanceTimersByTimeAsync(0);
    history.pushState({}, "", "/conversations/5551234567#jane.doe@example.com");
    await vi.advanceTimersByTimeAsync(0);
    history.pushState({}, "", "/#/opportunities/jane@example.com");
    await vi.advanceTimersByTimeAsync(0);
    input();
    await vi.advanceTimersByTimeAsync(2_000);
    setVisibility("hidden");
    await vi.advanceTimersByTimeAsync(0);
    expect(ofType("view")).toHaveLength(4);
    expect(ofType("time").length).toBeGreaterThan(0);
    for (const { body } of requests) expect(body).not.toMatch(/jane|example\.com|%40|555|@/i);
    expect(JSON.stringify(localStorage)).not.toMatch(/jane|%40|555/);
  });

  it("never throws into the page: history still works when our code fails", async () => {
    await boot();
    vi.spyOn(crypto, "getRandomValues").mockImplementation(() => {
      throw new Error("no randomness");
    });
    const result = history.pushState({ n: 1 }, "", "/v2/location/x/payments");
    expect(result).toBeUndefined();
    expect(location.pathname).toBe("/v2/location/x/payments");
    expect(history.state).toEqual({ n: 1 });
    await vi.advanceTimersByTimeAsync(0); // the route change fails inside a safe() timer, not in the page
    input();
    setVisibility("hidden");
    history.replaceState({ n: 2 }, "", "/v2/location/x/reporting");
    expect(history.state).toEqual({ n: 2 });
    await vi.advanceTimersByTimeAsync(1_000);
  });
});

describe("activity: active time", () => {
  it("counts only visible time with input within idleMs; the idle window and hidden time are not counted", async () => {
    await boot(); // load counts as input: the clock runs from T0
    await vi.advanceTimersByTimeAsync(4_000);
    input("keydown"); // last input at +4 s; idle at +14 s, counted up to +4 s
    await vi.advanceTimersByTimeAsync(16_000);
    await flush();
    expect(times()).toEqual([4_000]);
    input("pointermove"); // +20 s: the clock runs again
    await vi.advanceTimersByTimeAsync(5_000);
    setVisibility("hidden"); // +25 s: 5 s, sent at once
    await vi.advanceTimersByTimeAsync(0);
    expect(times()).toEqual([4_000, 5_000]);
    await vi.advanceTimersByTimeAsync(30_000);
    input("scroll"); // hidden: input does not start the clock
    await vi.advanceTimersByTimeAsync(1_000);
    setVisibility("visible"); // +56 s: becoming visible counts as input
    await vi.advanceTimersByTimeAsync(3_000);
    history.pushState({}, "", `/v2/location/${LOC}/calendars`); // +59 s: 3 s for the contacts view
    await vi.advanceTimersByTimeAsync(0);
    await flush();
    expect(times()).toEqual([4_000, 5_000, 3_000]);
    const contactsView = ofType("view")[0]!.view;
    expect(ofType("time").every((e) => e.view == contactsView && e.page == "Contacts")).toBe(true);
  });

  it("reports every 60 s while the clock runs, so a long view is not lost", async () => {
    await boot();
    for (let s = 0; s < 150; s += 5) {
      await vi.advanceTimersByTimeAsync(5_000);
      input("wheel");
    }
    await flush();
    // each report runs up to the last input: +55 s (the timer at +60 s runs before that moment's input), then +115 s
    expect(times()).toEqual([55_000, 60_000]);
  });

  it.each([[0], [-5], [Number.NaN]])("takes 60 s for an idle timeout of %s", async (idleMs) => {
    await boot(config({ idleMs }));
    await vi.advanceTimersByTimeAsync(50_000);
    input();
    await vi.advanceTimersByTimeAsync(70_000); // idle at +110 s
    await flush();
    expect(times()).toEqual([50_000]);
  });

  it("reports the time of the view when the page is left", async () => {
    await boot();
    await vi.advanceTimersByTimeAsync(2_500);
    window.dispatchEvent(new Event("pagehide"));
    await vi.advanceTimersByTimeAsync(0);
    expect(times()).toEqual([2_500]);
  });

  it("starts a new session after 30 minutes without events, beginning with a new view of the page", async () => {
    await boot();
    await vi.advanceTimersByTimeAsync(1_000);
    setVisibility("hidden");
    await vi.advanceTimersByTimeAsync(31 * 60_000);
    setVisibility("visible");
    await vi.advanceTimersByTimeAsync(2_000);
    history.pushState({}, "", `/v2/location/${LOC}/dashboard`);
    await vi.advanceTimersByTimeAsync(0);
    await flush();
    const events = sent();
    expect(events.map((e) => e.type)).toEqual(["view", "time", "view", "time", "view"]);
    const [first, , again, time, dashboard] = events;
    expect(again!.session).not.toBe(first!.session);
    expect(again).toMatchObject({ path: first!.path, page: "Contacts" });
    expect(again!.view).not.toBe(first!.view);
    expect(time).toMatchObject({ session: again!.session, view: again!.view, ms: 2_000 });
    expect(dashboard).toMatchObject({ session: again!.session, page: "Dashboard" });
  });
});

describe("activity: token and delivery", () => {
  it("renews the token 5 minutes before it expires, with new session details", async () => {
    await boot();
    await vi.advanceTimersByTimeAsync(55 * 60_000 - 1);
    expect(exposed).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(exposed).toHaveLength(2);
    expect(requests.filter((r) => r.url == TOKEN_URL).map((r) => r.json.encryptedData)).toEqual(["ENC:1", "ENC:2"]);
    history.pushState({}, "", `/v2/location/${LOC}/payments`);
    await vi.advanceTimersByTimeAsync(0);
    await flush();
    expect(edge().at(-1)!.json.token).toBe("tok-2");
  });

  it("on a 401 keeps the batch, gets a new token and sends the same events with it", async () => {
    edgeAnswers = [401];
    await boot();
    const [refused, retried] = edge();
    expect(refused!.json.token).toBe("tok-1");
    expect(exposed).toHaveLength(2);
    expect(retried!.json.token).toBe("tok-2");
    expect(retried!.json.events!.map((e) => e.id)).toEqual(refused!.json.events!.map((e) => e.id));
  });

  it("sends nothing while a token after a 401 is pending", async () => {
    edgeAnswers = [401];
    tokenAnswers = [undefined as never, "hang"];
    await boot();
    history.pushState({}, "", `/v2/location/${LOC}/payments`);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(edge()).toHaveLength(1);
  });

  it("retries with the same event ids after a server error", async () => {
    edgeAnswers = [503];
    await boot();
    await vi.advanceTimersByTimeAsync(2_000);
    const [failed, retried] = edge();
    expect(retried!.json.token).toBe("tok-1");
    expect(retried!.json.events!.map((e) => e.id)).toEqual(failed!.json.events!.map((e) => e.id));
  });

  it("on a move to another location, sends the old location's events with its token and the rest with a new one", async () => {
    await boot();
    await vi.advanceTimersByTimeAsync(3_000);
    history.pushState({}, "", "/v2/location/Ab12Cd34Ef56Gh78Ij90/contacts/smart_list/All"); // same route, other location
    await vi.advanceTimersByTimeAsync(0);
    await flush();
    expect(exposed).toHaveLength(2);
    const [first, old, moved] = edge();
    expect(first!.json.token).toBe("tok-1");
    expect(old!.json).toMatchObject({ token: "tok-1", events: [{ type: "time", ms: 3_000 }] });
    expect(moved!.json.token).toBe("tok-2");
    expect(moved!.json.events!.map((e) => [e.type, e.path])).toEqual([["view", "/v2/location/:locationId/contacts/smart_list/All"]]);
  });
});
