/**
 * Team activity end to end, as the CRM runs it: Debian's Chromium opens the CRM stand-in, which defines
 * `exposeSessionDetails` and loads the Custom JS from the edge; a location user and an agency admin each follow a
 * scripted route sequence with known dwell times, a hidden tab and an idle gap; the events go through the real
 * token exchange, the edge, the local queue and the drain. Then: each page's views and active time (±1 s) through
 * the API and in the dashboard's team view, the idle and hidden time not counted, what each role can see, and no
 * contact data in anything the script sent.
 *
 * Headless Chromium keeps every page visible (bringing another tab to the front or minimising the window changes
 * nothing there), so the hidden tab is the page's visibility switched the way the browser reports it:
 * `document.visibilityState` reads "hidden" and `visibilitychange` fires.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../src/api/auth.ts";
import { connectMongo, type Mongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { launchBrowser } from "../../scripts/testing/browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

const IDLE_SECONDS = 4;

interface UserPage {
  user: { id: string; name: string | null; email: string; role: string };
  totals: { sessions: number; page_views: number; time_spent: number; active_days: number; last_seen: string | null };
  pages: { page: string; views: number; time_spent: number }[];
  sessions: { id: string; start: string; end: string; page_views: number; time_spent: number; pages: { page: string; path: string; at: string; time_spent: number }[] }[];
}

interface QueryAnswer {
  results: { dimensions: string[]; metrics: (number | string | null)[] }[];
  meta: { users: Record<string, { name: string | null; email: string; role: string }> };
}

let stack: Stack;
let browser: Browser;
let mongo: Mongo;
let mongoDb: string;
const contexts: BrowserContext[] = [];
const tokens: Record<"agency" | "location" | "location2", string> = { agency: "", location: "", location2: "" };

async function api<T>(path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.backend.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** A CRM tab signed in as `as`, opened at `path`; everything the Custom JS posts is kept. */
async function openCrm(as: string, path: string): Promise<{ page: Page; sent: string[]; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  const sent: string[] = [];
  const problems: string[] = [];
  context.on("request", (r) => {
    if (r.method() === "POST" && (r.url().startsWith(`${stack.edge.url}/v1/activity`) || r.url().includes("/v1/auth/highlevel/actor"))) sent.push(`${r.url()} ${r.postData() ?? ""}`);
  });
  context.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  context.on("weberror", (e) => problems.push(e.error().message));
  const page = await context.newPage();
  await page.goto(new URL(`${path.slice(1)}?as=${as}`, stack.demoUrl).toString());
  await page.waitForFunction(() => "LeadTrackerActivity" in window, null, { timeout: 15_000 });
  return { page, sent, problems };
}

/** Stays on the page for `ms`, moving the mouse every 400 ms (an active user). */
async function active(page: Page, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let x = 300;
  while (Date.now() < end) {
    x = x === 300 ? 340 : 300;
    await page.mouse.move(x, 400);
    await page.waitForTimeout(Math.min(400, Math.max(0, end - Date.now())));
  }
}

async function go(page: Page, link: string): Promise<void> {
  await page.getByRole("link", { name: link, exact: true }).click();
}

async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** Leaves the CRM (pagehide: the last view's time is reported and the outbox flushed). */
async function leave(page: Page): Promise<void> {
  await page.goto("about:blank");
}

/** Active ms per page name of `userId`'s stored time events, and views per page name. */
async function stored(userId: string): Promise<{ ms: Record<string, number>; views: Record<string, number> }> {
  const events = await mongo.db.collection<{ userId: string; type: string; page: string; ms?: number }>("activity_events").find({ userId }).toArray();
  const ms: Record<string, number> = {};
  const views: Record<string, number> = {};
  for (const e of events) {
    if (e.type === "time") ms[e.page] = (ms[e.page] ?? 0) + (e.ms ?? 0);
    else views[e.page] = (views[e.page] ?? 0) + 1;
  }
  return { ms, views };
}

// What each scripted walk was meant to count: page → [views, active seconds], measured by the test's own clock.
const expected: Record<string, Record<string, [number, number]>> = {};
const sentBy: Record<string, string[]> = {};

beforeAll(async () => {
  mongoDb = uniqueDbName("activity");
  stack = await startStack({
    dataDir: TEST_DATA_DIR,
    ports: TEST_PORTS,
    mongoDb,
    mariadbDb: uniqueDbName("activity"),
    edgeVars: { ACTIVITY_IDLE_SECONDS: String(IDLE_SECONDS) },
  });
  browser = await launchBrowser();
  mongo = await connectMongo(stack.mongo.url, mongoDb);
  tokens.agency = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });
  tokens.location = await mintToken(stack.jwtSecret, { sub: DEMO.locationUserId });
}, 200_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await mongo?.db.dropDatabase().catch(() => {});
  await mongo?.close();
  await stack?.stop();
});

describe("team activity through the CRM stand-in", () => {
  it("a location user's walk: each page's views and active time, without the hidden tab or the idle gap", async () => {
    const loc = DEMO.locationExternalId;
    const { page, sent, problems } = await openCrm("location", `/v2/location/${loc}/dashboard`);
    sentBy.location = sent;
    const spans: Record<string, number> = {};
    const time = async (name: string, fn: () => Promise<void>): Promise<void> => {
      const t = Date.now();
      await fn();
      spans[name] = (spans[name] ?? 0) + (Date.now() - t);
    };
    await time("Dashboard", () => active(page, 3000));
    await go(page, "Contacts");
    await time("Contacts", () => active(page, 2000));
    // a contact found by email and phone: both in the URL (path and query) and on the page
    await page.evaluate((l) => (window as unknown as { crmNavigate(p: string): void }).crmNavigate(`/v2/location/${l}/contacts/search/jane.doe@example.com?phone=%2B15551234567&q=jane.doe%40example.com`), loc);
    await time("Contacts", () => active(page, 2000));
    await go(page, "Conversations");
    await time("Conversations", () => active(page, 2000));
    await setHidden(page, true);
    await page.waitForTimeout(3000); // hidden: not counted
    await setHidden(page, false);
    await time("Conversations", () => active(page, 1000));
    await go(page, "Opportunities");
    await time("Opportunities", () => active(page, 1000));
    await page.waitForTimeout((IDLE_SECONDS + 4) * 1000); // idle: not counted, not even the idle window
    await time("Opportunities", () => active(page, 2000));
    await go(page, "Settings");
    await time("Settings", () => active(page, 2000));
    await leave(page);
    expect(problems).toEqual([]);
    expected.location = {
      Dashboard: [1, spans.Dashboard! / 1000],
      Contacts: [2, spans.Contacts! / 1000],
      Conversations: [1, spans.Conversations! / 1000],
      Opportunities: [1, spans.Opportunities! / 1000],
      Settings: [1, spans.Settings! / 1000],
    };

    const want = expected.location;
    await eventually(async () => {
      const s = await stored(DEMO.locationUserId);
      return Object.keys(want).every((p) => s.views[p] === want[p]![0] && s.ms[p] !== undefined) && (s.ms.Settings ?? 0) > 1000 ? s : undefined;
    }, 30_000, "the location user's events to be stored");
    const s = await stored(DEMO.locationUserId);
    for (const [p, [views, seconds]] of Object.entries(want)) {
      expect(s.views[p], p).toBe(views);
      expect(Math.abs(s.ms[p]! / 1000 - seconds), `${p}: stored ${s.ms[p]} ms, walked ${seconds} s active`).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(s.views).sort()).toEqual(Object.keys(want).sort());
  }, 90_000);

  it("an agency admin's walk at the agency level, with an idle gap", async () => {
    const { page, sent, problems } = await openCrm("agency", "/agency_dashboard");
    sentBy.agency = sent;
    const t0 = Date.now();
    await active(page, 2500);
    const dash = Date.now() - t0;
    await go(page, "Sub-accounts");
    const t1 = Date.now();
    await active(page, 1500);
    let accounts = Date.now() - t1;
    await page.waitForTimeout((IDLE_SECONDS + 3) * 1000);
    const t2 = Date.now();
    await active(page, 1500);
    accounts += Date.now() - t2;
    await go(page, "Settings");
    const t3 = Date.now();
    await active(page, 2000);
    const settings = Date.now() - t3;
    await leave(page);
    expect(problems).toEqual([]);
    expected.agency = { "Agency dashboard": [1, dash / 1000], "Sub-accounts": [1, accounts / 1000], Settings: [1, settings / 1000] };

    const want = expected.agency;
    await eventually(async () => {
      const s = await stored(DEMO.agencyUserId);
      return Object.keys(want).every((p) => s.views[p] === 1 && s.ms[p] !== undefined) && (s.ms.Settings ?? 0) > 1000 ? s : undefined;
    }, 30_000, "the agency admin's events to be stored");
    const s = await stored(DEMO.agencyUserId);
    for (const [p, [views, seconds]] of Object.entries(want)) {
      expect(s.views[p], p).toBe(views);
      expect(Math.abs(s.ms[p]! / 1000 - seconds), `${p}: stored ${s.ms[p]} ms, walked ${seconds} s active`).toBeLessThanOrEqual(1);
    }
  }, 90_000);

  it("the read API answers those pages and times (±1 s), and the agency sees both users", async () => {
    for (const [who, userId, token] of [["location", DEMO.locationUserId, tokens.location], ["agency", DEMO.agencyUserId, tokens.agency]] as const) {
      const res = await api<UserPage>(`/v1/activity/users/${userId}?date_range=day`, tokens.agency);
      expect(res.status, who).toBe(200);
      const pages = Object.fromEntries(res.body.pages.map((p) => [p.page, p]));
      for (const [p, [views, seconds]] of Object.entries(expected[who]!)) {
        expect(pages[p]?.views, `${who} ${p}`).toBe(views);
        expect(Math.abs(pages[p]!.time_spent - seconds), `${who} ${p}: ${pages[p]!.time_spent} s vs ${seconds} s`).toBeLessThanOrEqual(1);
      }
      expect(res.body.sessions.length).toBeGreaterThanOrEqual(1);
      // the user's own token gives the same page
      const own = await api<UserPage>(`/v1/activity/users/${userId}?date_range=day`, token);
      expect(own.status).toBe(200);
      expect(own.body.pages).toEqual(res.body.pages);
    }
    const table = await api<QueryAnswer>("/v1/activity/query", tokens.agency, { metrics: ["page_views", "time_spent"], dimensions: ["activity:user"], date_range: "day" });
    expect(table.status).toBe(200);
    expect(new Set(table.body.results.map((r) => r.dimensions[0]))).toEqual(new Set([DEMO.agencyUserId, DEMO.locationUserId]));
  });

  it("the location user sees only themselves: through the API with their own token", async () => {
    const table = await api<QueryAnswer>("/v1/activity/query", tokens.location, { metrics: ["page_views", "time_spent"], dimensions: ["activity:user"], date_range: "day" });
    expect(table.status).toBe(200);
    expect(table.body.results.map((r) => r.dimensions[0])).toEqual([DEMO.locationUserId]);
    expect(Object.keys(table.body.meta.users)).toEqual([DEMO.locationUserId]);
    const filtered = await api<QueryAnswer>("/v1/activity/query", tokens.location, {
      metrics: ["page_views"],
      dimensions: ["activity:user"],
      date_range: "day",
      filters: [["is", "activity:user", [DEMO.agencyUserId]]],
    });
    expect(filtered.body.results).toEqual([]);
    const colleague = await api<{ error: string }>(`/v1/activity/users/${DEMO.agencyUserId}?date_range=day`, tokens.location);
    expect(colleague.status).toBe(404);
    expect(colleague.body.error).toBe("not_found");
  });

  it("the team view shows those pages and times (±1 s) to the agency, and the location user only themselves", async () => {
    const open = async (as: string, query: string) => {
      const { page } = await openCrm(as, `/crm`);
      await page.evaluate((q) => {
        (document.getElementById("app") as HTMLIFrameElement).src = `${new URL((document.getElementById("app") as HTMLIFrameElement).src).origin}/app${q}`;
      }, query);
      return page.frameLocator("#app");
    };
    const seconds = (text: string): number => {
      const m = /^(?:(\d+) h)?\s*(?:(\d+) min)?\s*(?:(\d+) s)?$/.exec(text.trim());
      if (!m) throw new Error(`not a duration: ${text}`);
      return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
    };
    const app = await open("agency", `?view=activity/${DEMO.locationUserId}&range=day`);
    const rows = app.getByTestId("activity-page-row");
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(Object.keys(expected.location!).length);
    for (const [p, [views, walked]] of Object.entries(expected.location!)) {
      const row = app.locator(`[data-testid=activity-page-row][data-page="${p}"]`);
      expect(Number(await row.locator("[data-metric=views]").innerText()), p).toBe(views);
      const shown = seconds(await row.locator("[data-metric=time_spent]").innerText());
      expect(Math.abs(shown - walked), `${p}: the page shows ${shown} s, walked ${walked} s`).toBeLessThanOrEqual(1);
    }
    const team = await open("agency", "?view=activity&range=day");
    await expect.poll(() => team.getByTestId("activity-user-row").count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    const ids = await team.getByTestId("activity-user-row").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-user-id")));
    expect(ids).toEqual(expect.arrayContaining([DEMO.locationUserId, DEMO.agencyUserId]));

    // the location user: their own page, and nothing of the agency admin by editing the URL
    const mine = await open("location", `?view=activity/${DEMO.locationUserId}&range=day`);
    await expect.poll(() => mine.getByTestId("activity-page-row").count(), { timeout: 20_000 }).toBe(Object.keys(expected.location!).length);
    const other = await open("location", `?view=activity/${DEMO.agencyUserId}&range=day`);
    await other.getByText("Activity not available").waitFor({ timeout: 20_000 });
    expect(await other.getByTestId("activity-page-row").count()).toBe(0);
    const list = await open("location", "?view=activity&range=day");
    await list.getByText("My activity").first().waitFor({ timeout: 20_000 });
    expect(await list.getByTestId("activity-user-row").count()).toBe(0);
  }, 120_000);

  it("no contact data left the page: no email, phone or CRM id in anything the Custom JS sent or the drain stored", async () => {
    const all = [...sentBy.location!, ...sentBy.agency!];
    expect(all.some((s) => s.includes("/v1/activity"))).toBe(true);
    const activityBodies = all.filter((s) => s.includes("/v1/activity ")).join("\n");
    for (const secret of ["jane.doe", "example.com", "5551234567", "555 123", "Jane", "Hj2kL9mN0pQ4rS6tU8vW", DEMO.locationExternalId]) {
      expect(activityBodies, secret).not.toContain(secret);
    }
    const stored = JSON.stringify(await mongo.db.collection("activity_events").find({}).toArray());
    for (const secret of ["jane.doe", "example.com", "5551234567", "Hj2kL9mN0pQ4rS6tU8vW", DEMO.locationExternalId]) expect(stored, secret).not.toContain(secret);
    expect(stored).toContain("/v2/location/:locationId/contacts/search/:id");
  });
});
