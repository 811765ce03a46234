/**
 * The dashboard's "Team activity" section end to end: five CRM users of the demo tenant sign in through the
 * backend's real actor-token exchange (as the Custom JS does), a known week of their CRM activity goes onto the
 * local queue as activity messages (the edge's shape), the drain stores and rolls it up, and headless Chromium opens
 * the dashboard through the CRM stand-in. What the page shows is compared with numbers worked out here from the
 * seeded events (not with the API's answers): the agency admin's table of users, its sorting and location filter,
 * the charts, a user's page (totals, top pages, sessions with their pages in order); the location user's
 * "My activity" with nothing of colleagues, also when the URL names one; accessibility (axe). The docs'
 * screenshots are taken last (`UPDATE_SCREENSHOTS=1` writes them to docs/).
 */
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actorClaimsSchema, type ActivityEvent, type ActivityQueueMessage, type Actor } from "#contracts";
import { normalisePath, pageName } from "../../contracts/activity-path.ts";
import { bucketsOf, resolveRange } from "../dashboard/src/dates.ts";
import { formatAgo, formatCount, formatSpent } from "../dashboard/src/format.ts";
import { encryptPassphrasePayload } from "../src/api/sso/crypto-js-passphrase.ts";
import { mintToken } from "../src/api/auth.ts";
import type { CrmUser } from "../../scripts/lib/demo-activity.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { appParams, expectAccessible, openCrmBrowser, screenshot, settled, stopStackAndDrop, withScreenshotDir, type CrmBrowser, type Session } from "../../scripts/testing/crm-browser.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";

// ---- the seed: who did what, when (whole seconds, working hours, days before today) ------------------------------

/** A CRM user's session details, as the Custom JS sends them to the token exchange. */
type CrmContext = Omit<CrmUser, "sessionsPerDay">;

/** One CRM session: `daysAgo` days before today (UTC) at `hour`:00 UTC, raw CRM routes with active seconds each. */
interface SeedSession {
  daysAgo: number;
  hour: number;
  pages: [route: string, seconds: number][];
}

const ACME = DEMO.locationExternalId;
const DENTAL = DEMO.location2ExternalId;
const company = DEMO.companyExternalId;
const loc = (crmLocation: string, rest: string): string => `/v2/location/${crmLocation}/${rest}`;

const AVERY: CrmContext = { userId: "crm-demo-agency-admin", companyId: company, role: "admin", type: "agency", userName: "Avery Agency", email: DEMO.agencyEmail };
const LEE: CrmContext = { userId: "crm-demo-location-user", companyId: company, role: "user", type: "location", userName: "Lee Location", email: DEMO.locationEmail, activeLocation: ACME };
const SAM: CrmContext = { userId: "crm-e2e-sam", companyId: company, role: "user", type: "location", userName: "Sam Dispatch", email: "sam.dispatch@demo.test", activeLocation: ACME };
const DANA: CrmContext = { userId: "crm-e2e-dana", companyId: company, role: "user", type: "location", userName: "Dana Frontdesk", email: "dana.frontdesk@demo.test", activeLocation: DENTAL };
const MORGAN: CrmContext = { userId: "crm-e2e-morgan", companyId: company, role: "user", type: "agency", userName: "Morgan Ops", email: "morgan.ops@demo.test", activeLocation: DENTAL };

/** Every number below is distinct where the test sorts by it (time spent, page views, last seen). */
const SEED: { context: CrmContext; sessions: SeedSession[] }[] = [
  // Avery at the agency level, and once inside Acme (an agency user in a location)
  { context: AVERY, sessions: [{ daysAgo: 2, hour: 12, pages: [["/agency_dashboard", 180], ["/accounts", 95]] }] },
  { context: { ...AVERY, activeLocation: ACME }, sessions: [{ daysAgo: 5, hour: 13, pages: [[loc(ACME, "dashboard"), 60], [loc(ACME, "contacts/smart_list/All"), 150]] }] },
  {
    context: LEE,
    sessions: [
      { daysAgo: 1, hour: 14, pages: [[loc(ACME, "conversations/conversations/Xk2pQ9rLmN4vB7tY1sDe"), 300], [loc(ACME, "contacts/detail/Hj2kLm9PqR4sT6uV8wXy"), 200], [loc(ACME, "contacts/smart_list/All"), 125]] },
      { daysAgo: 2, hour: 9, pages: [[loc(ACME, "dashboard"), 45], [loc(ACME, "opportunities/list"), 600]] },
      { daysAgo: 4, hour: 10, pages: [[loc(ACME, "calendars/view"), 90], [loc(ACME, "conversations/conversations/Pq7rSt2uVw9xYz4aBc6D"), 240]] },
    ],
  },
  {
    context: SAM,
    sessions: [
      { daysAgo: 1, hour: 16, pages: [[loc(ACME, "conversations/conversations/Mn3bV5cX7zL9kJ2hG4fD"), 40], [loc(ACME, "contacts/detail/Qw8eR6tY4uI2oP1aS3dF"), 35]] },
      { daysAgo: 3, hour: 11, pages: [[loc(ACME, "opportunities/list"), 50]] },
    ],
  },
  {
    context: DANA,
    sessions: [
      { daysAgo: 1, hour: 13, pages: [[loc(DENTAL, "calendars/view"), 1200], [loc(DENTAL, "conversations/conversations/Zx9cV7bN5mL3kJ1hG8fD"), 900], [loc(DENTAL, "contacts/detail/Aq2wS4eD6rF8tG0yH1uJ"), 300]] },
      { daysAgo: 2, hour: 13, pages: [[loc(DENTAL, "calendars/view"), 1500]] },
      { daysAgo: 3, hour: 13, pages: [[loc(DENTAL, "conversations/conversations/Lk8jH6gF4dS2aP0oI9uY"), 700]] },
      { daysAgo: 6, hour: 15, pages: [[loc(DENTAL, "dashboard"), 30]] },
    ],
  },
  { context: MORGAN, sessions: [{ daysAgo: 3, hour: 17, pages: [[loc(DENTAL, "opportunities/list"), 420], [loc(DENTAL, "settings/company"), 75]] }] },
];

interface Expected {
  id: string;
  name: string;
  sessions: number;
  pageViews: number;
  timeSpent: number;
  activeDays: number;
  lastSeen: number;
  /** Seconds by our location id ("agency": agency-level pages). */
  byLocation: Map<string, number>;
  /** Page name → views and seconds. */
  pages: Map<string, { views: number; seconds: number }>;
  /** Newest first: start, location id, the pages in order. */
  sessionList: { start: number; locationId: string; pages: { page: string; path: string; seconds: number }[] }[];
  /** "YYYY-MM-DD" local days → seconds. */
  days: Map<string, number>;
}

const DAY_MS = 86_400_000;
const localDay = (ms: number, tz: string): string => new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(ms);

/** Queue messages for the seed (one per session, as the edge sends them) and what each user's numbers must be. */
function buildSeed(actors: Actor[], now: number): { messages: ActivityQueueMessage[]; expected: Map<string, Expected> } {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const messages: ActivityQueueMessage[] = [];
  const expected = new Map<string, Expected>();
  let n = 0;
  const id = (): string => `e2e-${(++n).toString(36).padStart(6, "0")}`;
  SEED.forEach(({ context, sessions }, i) => {
    const actor = actors[i]!;
    const e: Expected = expected.get(actor.userId) ?? {
      id: actor.userId,
      name: context.userName,
      sessions: 0,
      pageViews: 0,
      timeSpent: 0,
      activeDays: 0,
      lastSeen: 0,
      byLocation: new Map(),
      pages: new Map(),
      sessionList: [],
      days: new Map(),
    };
    expected.set(actor.userId, e);
    for (const s of sessions) {
      const session = id();
      const start = today - s.daysAgo * DAY_MS + s.hour * 3_600_000;
      let t = start;
      const events: ActivityEvent[] = [];
      const shown: Expected["sessionList"][number]["pages"] = [];
      for (const [route, seconds] of s.pages) {
        const path = normalisePath(route);
        const page = pageName(path);
        const view = id();
        events.push({ type: "view", id: id(), ts: t, session, view, path, page });
        t += seconds * 1000;
        events.push({ type: "time", id: id(), ts: t, session, view, path, page, ms: seconds * 1000 });
        t += 2000;
        shown.push({ page, path, seconds });
        const p = e.pages.get(page) ?? { views: 0, seconds: 0 };
        e.pages.set(page, { views: p.views + 1, seconds: p.seconds + seconds });
        e.pageViews += 1;
        e.timeSpent += seconds;
        const where = actor.locationId ?? "agency";
        e.byLocation.set(where, (e.byLocation.get(where) ?? 0) + seconds);
        const day = localDay(start, actor.timezone);
        e.days.set(day, (e.days.get(day) ?? 0) + seconds);
      }
      e.sessions += 1;
      e.lastSeen = Math.max(e.lastSeen, events.at(-1)!.ts);
      e.sessionList.push({ start, locationId: actor.locationId ?? "agency", pages: shown });
      messages.push({ v: 1, kind: "activity", receivedAt: events.at(-1)!.ts, actor, events });
    }
    e.activeDays = e.days.size;
    e.sessionList.sort((a, b) => b.start - a.start);
  });
  return { messages, expected };
}

// ---- the stack and the browser ---------------------------------------------------------------------------------

let stack: Stack;
let crm: CrmBrowser;
let agencyToken: string;
let mongoDb: string;
let mariadbDb: string;
let expected: Map<string, Expected>;

const idOf = (name: string): string => [...expected.values()].find((e) => e.name === name)!.id;
const people = (): Expected[] => [...expected.values()];

async function activityQuery(body: Record<string, unknown>, token = agencyToken): Promise<Response> {
  return fetch(`${stack.backend.url}/v1/activity/query`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** The users table as shown: id, and the text of each column. */
async function tableRows(s: Session): Promise<{ id: string; cells: string[]; lastSeen: string | null; locationTitle: string | null }[]> {
  return s.app.getByTestId("activity-user-row").evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute("data-user-id") ?? "",
      cells: [...tr.querySelectorAll("th, td")].map((c) => (c as HTMLElement).innerText.trim()),
      lastSeen: tr.querySelector("time")?.getAttribute("datetime") ?? null,
      locationTitle: tr.querySelector('[data-testid="activity-user-location"]')?.getAttribute("title") ?? null,
    })),
  );
}

const rowOrder = async (s: Session): Promise<string[]> => (await tableRows(s)).map((r) => r.id);

beforeAll(async () => {
  mongoDb = uniqueDbName("actdash");
  mariadbDb = uniqueDbName("actdash");
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb, mariadbDb });
  // The stand-in also runs the app's Custom JS, which would report these very page views as activity of the
  // signed-in user: it is answered with an empty script, so the seeded activity is all there is and every number is exact.
  crm = await openCrmBrowser(stack, { readyTestId: "tab-activity", stubCustomJs: true });
  agencyToken = await mintToken(stack.jwtSecret, { sub: DEMO.agencyUserId });

  // each CRM user signs in as the Custom JS would: the backend provisions them and names the actor
  const actors: Actor[] = [];
  for (const { context } of SEED) {
    const res = await fetch(`${stack.backend.url}/v1/auth/highlevel/actor`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ encryptedData: encryptPassphrasePayload(JSON.stringify(context), stack.sharedSecret) }),
    });
    expect(res.status, `token exchange for ${context.userName}: ${await res.clone().text()}`).toBe(200);
    const payload = decodeJwt(((await res.json()) as { token: string }).token);
    const claims = actorClaimsSchema.parse(payload);
    actors.push({ userId: String(payload.sub), tenantId: claims.ten, locationId: claims.loc, role: claims.role, timezone: claims.tz, retentionDays: claims.ret });
  }
  const seed = buildSeed(actors, Date.now());
  expected = seed.expected;
  expect(expected.size).toBe(5);
  const res = await fetch(`${stack.edge.url}/__dev/enqueue`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.internalToken}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: seed.messages }),
  });
  expect(res.status, await res.clone().text()).toBeLessThan(300);

  // drained and rolled up: the API's totals are the seed's
  const views = people().reduce((a, e) => a + e.pageViews, 0);
  const seconds = people().reduce((a, e) => a + e.timeSpent, 0);
  await eventually(
    async () => {
      const r = await activityQuery({ metrics: ["page_views", "time_spent"], date_range: "30d" });
      const body = r.ok ? ((await r.json()) as { results: { metrics: number[] }[] }) : null;
      const got = body?.results[0]?.metrics;
      if (got?.[0] === views && got[1] === seconds) return true;
      await new Promise((done) => setTimeout(done, 500));
      return undefined;
    },
    60_000,
    `the seeded activity (${views} page views, ${seconds} s) to be drained`,
  );
}, 200_000);

afterAll(async () => {
  await crm?.close();
  await stopStackAndDrop(stack, { mongoDb, mariadbDb });
}, 60_000);

// ---- the tests ---------------------------------------------------------------------------------------------------

describe("team activity in the dashboard", () => {
  let agency: Session;

  it("formats active time and last seen as the section shows them", () => {
    expect([45, 200, 3720, 0, 59.6, 7335].map(formatSpent)).toEqual(["45 s", "3 min 20 s", "1 h 02 min", "0 s", "1 min 00 s", "2 h 02 min"]);
    const now = Date.parse("2026-11-30T02:40:00Z");
    const ago = (s: number): string => formatAgo(new Date(now - s * 1000).toISOString(), now);
    // 38 hours back is two calendar days back here: never "yesterday"
    expect([45, 300, 13 * 3600, 38.6 * 3600, 10 * 86_400].map(ago)).toEqual(["just now", "5 minutes ago", "13 hours ago", "2 days ago", "1 week ago"]);
  });

  it("shows the agency admin every user with their numbers, and the totals", async () => {
    agency = await crm.open("agency", { path: "?view=activity" });
    await agency.app.getByTestId("activity-user-row").first().waitFor();
    await settled(agency);
    expect(await agency.app.getByTestId("tab-activity").innerText()).toBe("Team activity");
    expect(await agency.app.getByTestId("tab-activity").getAttribute("aria-current")).toBe("page");
    // the site picker is for websites: not on this section
    expect(await agency.app.getByTestId("site-select").count()).toBe(0);

    const rows = await tableRows(agency);
    // default order: time spent, most first
    expect(rows.map((r) => r.id)).toEqual(people().sort((a, b) => b.timeSpent - a.timeSpent).map((e) => e.id));
    const locationNames: Record<string, string> = { [DEMO.locationId]: "Acme Plumbing", [DEMO.location2Id]: "Bright Smile Dental" };
    for (const row of rows) {
      const e = expected.get(row.id)!;
      // name, location, role, last seen, active days, sessions, page views, time spent
      const [name, location, , , days, sessions, views, time] = row.cells;
      expect(name, e.name).toContain(e.name);
      expect([days, sessions, views, time], e.name).toEqual([formatCount(e.activeDays), formatCount(e.sessions), formatCount(e.pageViews), formatSpent(e.timeSpent)]);
      expect(Date.parse(row.lastSeen ?? ""), `${e.name}'s last seen`).toBe(e.lastSeen);
      const busiest = [...e.byLocation.entries()].sort((a, b) => b[1] - a[1]);
      const top = busiest[0]![0];
      if (top !== "agency") expect(location, e.name).toContain(locationNames[top]);
      if (busiest.length > 1) {
        expect(location, e.name).toContain(`+${busiest.length - 1}`);
        for (const [id] of busiest) if (id !== "agency") expect(row.locationTitle, e.name).toContain(locationNames[id]);
      }
    }
    const roleOf = Object.fromEntries(rows.map((r) => [r.id, r.cells[2]]));
    expect(roleOf[idOf("Avery Agency")]).toBe("Agency");
    expect(roleOf[idOf("Morgan Ops")]).toBe("Agency");
    expect(roleOf[idOf("Dana Frontdesk")]).toBe("Location");

    const kpi = (m: string): Promise<string> => agency.app.getByTestId(`activity-kpi-${m}`).getByTestId("kpi-value").innerText();
    expect(await kpi("active_users")).toBe("5");
    expect(await kpi("sessions")).toBe(formatCount(people().reduce((a, e) => a + e.sessions, 0)));
    expect(await kpi("page_views")).toBe(formatCount(people().reduce((a, e) => a + e.pageViews, 0)));
    expect(await kpi("time_spent")).toBe(formatSpent(people().reduce((a, e) => a + e.timeSpent, 0)));
  });

  it("charts active users and time spent per local day of the range", async () => {
    const buckets = bucketsOf(...resolveRange("30d", null, "UTC"), "day");
    const activeUsers = buckets.map((d) => people().filter((e) => e.days.has(d)).length);
    const minutes = buckets.map((d) => Math.round(people().reduce((a, e) => a + (e.days.get(d) ?? 0), 0) / 6) / 10);
    expect(activeUsers.filter((n) => n > 0).length).toBe(6);
    const readTable = (metric: string): Promise<number[]> =>
      agency.app.getByTestId(`activity-chart-${metric}`).locator(".sr-only tbody tr td").evaluateAll((tds) => tds.map((td) => Number(td.textContent)));
    expect(await agency.app.getByTestId("activity-chart-active_users").getAttribute("data-buckets")).toBe(String(buckets.length));
    expect(await readTable("active_users")).toEqual(activeUsers);
    expect(await readTable("time_spent")).toEqual(minutes);

    await agency.app.getByTestId("interval-week").click();
    await settled(agency);
    expect(appParams(agency).get("interval")).toBe("week");
    const weeks = bucketsOf(...resolveRange("30d", null, "UTC"), "week");
    expect(await agency.app.getByTestId("activity-chart-active_users").getAttribute("data-buckets")).toBe(String(weeks.length));
    // a week's time is the sum of its days
    expect((await readTable("time_spent")).reduce((a, b) => a + b, 0)).toBeCloseTo(people().reduce((a, e) => a + e.timeSpent, 0) / 60, 0);
    await agency.app.getByTestId("interval-day").click();
    await settled(agency);
  });

  it("sorts the table by last seen and page views, both ways, kept in the URL", async () => {
    await agency.app.getByTestId("sort-last_seen").click();
    await settled(agency);
    expect(appParams(agency).get("sort")).toBe("last_seen");
    const byLastSeen = people().sort((a, b) => b.lastSeen - a.lastSeen).map((e) => e.id);
    expect(await rowOrder(agency)).toEqual(byLastSeen);
    expect(await agency.app.locator('th[aria-sort="descending"]').textContent()).toContain("Last seen");

    await agency.app.getByTestId("sort-last_seen").click();
    await settled(agency);
    expect(appParams(agency).get("sort")).toBe("last_seen:asc");
    expect(await rowOrder(agency)).toEqual([...byLastSeen].reverse());

    await agency.app.getByTestId("sort-page_views").click();
    await settled(agency);
    expect(await rowOrder(agency)).toEqual(people().sort((a, b) => b.pageViews - a.pageViews).map((e) => e.id));

    await agency.app.getByTestId("sort-time_spent").click();
    await settled(agency);
    expect(appParams(agency).get("sort")).toBeNull();
  });

  it("narrows to one location with the location switcher: its users, its time only", async () => {
    await agency.app.getByTestId("location-switcher").selectOption(DEMO.location2Id);
    await settled(agency);
    const inDental = people().filter((e) => e.byLocation.has(DEMO.location2Id));
    const rows = await tableRows(agency);
    expect(rows.map((r) => r.id).sort()).toEqual(inDental.map((e) => e.id).sort());
    for (const r of rows) expect(r.cells[7]).toBe(formatSpent(expected.get(r.id)!.byLocation.get(DEMO.location2Id)!));
    await agency.app.getByTestId("location-switcher").selectOption("");
    await settled(agency);
    expect((await tableRows(agency)).length).toBe(5);
  });

  it("opens a user's page: totals, top pages by time, sessions newest first with their pages in order", async () => {
    const lee = expected.get(idOf("Lee Location"))!;
    await agency.app.locator(`[data-testid="activity-user-row"][data-user-id="${lee.id}"] a`).click();
    await agency.app.getByTestId("activity-session").first().waitFor();
    await settled(agency);
    expect(appParams(agency).get("view")).toBe(`activity/${lee.id}`);
    expect(await agency.app.getByTestId("activity-user-name").innerText()).toBe(lee.name);
    const kpi = (m: string): Promise<string> => agency.app.getByTestId(`activity-kpi-${m}`).getByTestId("kpi-value").innerText();
    expect([await kpi("sessions"), await kpi("page_views"), await kpi("time_spent"), await kpi("active_days")]).toEqual(
      [lee.sessions, lee.pageViews].map(formatCount).concat([formatSpent(lee.timeSpent), formatCount(lee.activeDays)]),
    );

    const pages = await agency.app.getByTestId("activity-page-row").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText.trim())));
    const top = [...lee.pages.entries()].sort((a, b) => b[1].seconds - a[1].seconds);
    expect(pages).toEqual(top.map(([page, p]) => [page, formatCount(p.views), formatSpent(p.seconds)]));

    const sessions = agency.app.getByTestId("activity-session");
    expect(await sessions.count()).toBe(lee.sessionList.length);
    for (let i = 0; i < lee.sessionList.length; i++) {
      const want = lee.sessionList[i]!;
      const item = sessions.nth(i);
      expect(Date.parse((await item.locator("time").first().getAttribute("datetime")) ?? "")).toBe(want.start);
      expect(await item.locator(".session-head").innerText()).toContain("Acme Plumbing");
      expect(await item.getByTestId("session-time").innerText()).toBe(formatSpent(want.pages.reduce((a, p) => a + p.seconds, 0)));
      const shown = await item.getByTestId("session-page").evaluateAll((lis) => lis.map((li) => [li.querySelector("strong")?.textContent, li.lastElementChild?.textContent]));
      expect(shown).toEqual(want.pages.map((p) => [p.page, formatSpent(p.seconds)]));
    }
    // the user's own chart: page views per day
    expect((await agency.app.getByTestId("activity-chart-page_views").locator(".sr-only tbody td").evaluateAll((tds) => tds.map((td) => Number(td.textContent)))).reduce((a, b) => a + b, 0)).toBe(lee.pageViews);

    await agency.app.locator(".back-link").click();
    await agency.app.getByTestId("activity-users").waitFor();
    expect(appParams(agency).get("view")).toBe("activity");
    await settled(agency);
    expect(agency.watch.problems).toEqual([]);
  });

  it("shows an agency admin inside a location only that location's activity", async () => {
    const s = await crm.open("agency-in-location", { path: "?view=activity" });
    await s.app.getByTestId("activity-user-row").first().waitFor();
    await settled(s);
    const inAcme = people().filter((e) => e.byLocation.has(DEMO.locationId));
    const rows = await tableRows(s);
    expect(rows.map((r) => r.id).sort()).toEqual(inAcme.map((e) => e.id).sort());
    // Avery's agency-level time is not Acme's
    expect(rows.find((r) => r.id === idOf("Avery Agency"))!.cells[7]).toBe(formatSpent(expected.get(idOf("Avery Agency"))!.byLocation.get(DEMO.locationId)!));
    expect(s.watch.problems).toEqual([]);
  });

  it("shows a location user only their own activity, and 'not available' for a colleague named in the URL", async () => {
    const lee = expected.get(idOf("Lee Location"))!;
    const dana = expected.get(idOf("Dana Frontdesk"))!;
    const s = await crm.open("location", { path: "?view=activity" });
    expect(await s.app.getByTestId("tab-activity").innerText()).toBe("My activity");
    await s.app.getByTestId("activity-session").first().waitFor();
    await settled(s);
    expect(await s.app.getByTestId("activity-users").count()).toBe(0);
    expect(await s.app.getByTestId("activity-user-name").innerText()).toContain(lee.name);
    expect(await s.app.getByTestId("activity-kpi-time_spent").getByTestId("kpi-value").innerText()).toBe(formatSpent(lee.timeSpent));
    expect(await s.app.getByTestId("activity-session").count()).toBe(lee.sessions);
    const body = await s.app.locator("body").innerText();
    for (const other of ["Dana", "Sam Dispatch", "Morgan", "Avery"]) expect(body).not.toContain(other);
    expect(s.watch.problems).toEqual([]);

    // a colleague's id put in the URL: the API says 404, the page says so and shows nothing of them
    const d = await crm.tab(s, "location", `?view=activity/${dana.id}`);
    await d.app.getByTestId("activity-not-available").waitFor({ timeout: 20_000 });
    await settled(d);
    expect(await d.app.getByTestId("activity-not-available").innerText()).toContain("not available");
    expect(await d.app.getByTestId("error-banner").count()).toBe(0);
    expect(await d.app.locator("body").innerText()).not.toContain("Dana");
    expect(s.watch.problems.filter((p) => !p.includes(`/v1/activity/users/${dana.id}`) && !p.includes("404"))).toEqual([]);
    expect(s.watch.problems.some((p) => p.startsWith("HTTP 404") && p.includes(`/v1/activity/users/${dana.id}`))).toBe(true);
    await d.page.close();

    // the session token the page got: Dana's page is a 404, and a query by user names only Lee
    const token = await s.watch.token!;
    const range = "30d";
    expect((await fetch(`${stack.backend.url}/v1/activity/users/${dana.id}?date_range=${range}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    const mine = (await (await activityQuery({ metrics: ["page_views"], dimensions: ["activity:user"], date_range: range }, token)).json()) as { results: { dimensions: string[] }[] };
    expect(mine.results.map((r) => r.dimensions[0])).toEqual([lee.id]);
  });

  it("has no serious or critical accessibility violations (axe) on the team table, a user's page and 'not available'", async () => {
    const s = await crm.open("agency", { path: "?view=activity", bypassCSP: true });
    await s.app.getByTestId("activity-user-row").first().waitFor();
    await expectAccessible(s, "the team table");
    await s.app.getByTestId("activity-user-row").first().locator("a").click();
    await s.app.getByTestId("activity-session").first().waitFor();
    await expectAccessible(s, "a user's page");
    const l = await crm.open("location", { path: `?view=activity/${idOf("Dana Frontdesk")}`, bypassCSP: true });
    await l.app.getByTestId("activity-not-available").waitFor();
    await expectAccessible(l, "not available");
  });

  it("takes the docs' screenshots: the team's activity, and a location user's own", async () => {
    await withScreenshotDir("activity-shots-", async (dir) => {
      const a = await crm.open("agency", { path: "?view=activity&range=7d", viewport: { width: 1440, height: 1200 } });
      await a.app.getByTestId("activity-user-row").first().waitFor();
      await screenshot(a, dir, "dashboard-team-activity.png");
      const l = await crm.open("location", { path: "?view=activity&range=7d", viewport: { width: 1440, height: 1200 } });
      await l.app.getByTestId("activity-session").first().waitFor();
      await screenshot(l, dir, "dashboard-my-activity.png");
      expect([...a.watch.problems, ...l.watch.problems]).toEqual([]);
    });
  });
});
