/**
 * The stats query API on real parts: hand-built visits go through the real drain and the visit finalizer, and
 * every metric of the README's definitions table is checked against numbers worked out by hand (table-driven), by
 * total, by time, and by each kind of dimension; rollups are exact under redelivery and re-finalizing, follow the
 * location's time zone, and equal a rebuild from raw events. Scopes and errors are checked on the same data.
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { createAdminApi } from "../src/api/admin.ts";
import { sites, tenants } from "../src/config/schema.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { finalizeVisits } from "../src/rollups/finalizer.ts";
import { rebuildRollups } from "../src/rollups/rebuild.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { testMariadb, type TestMariadb } from "../../scripts/testing/mariadb.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";
import { makeLocation, makeUser, type MadeUser } from "../../scripts/testing/principals.ts";

const SECRET = "stats-test-secret-0123456789abcdefghij";
const T = crypto.randomUUID();
const OTHER = crypto.randomUUID();
let maria: TestMariadb;
let mongo: Awaited<ReturnType<typeof testMongo>>;
let host: Hono;
let agency: MadeUser;
let inL1: MadeUser;
let other: MadeUser;
const ids = { l1: "", l2: "", s1: crypto.randomUUID(), s2: crypto.randomUUID(), sOther: crypto.randomUUID() };
// two local days in UTC: the 10th and the 11th of a month well inside the retention window
const base = new Date();
const D1 = Date.UTC(base.getUTCFullYear(), base.getUTCMonth() - 1, 10, 12);
const D2 = D1 + 86_400_000;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

type Ev = Omit<TrackerEvent, "id" | "sessionId" | "visitorId" | "ts">;
const page = (path: string) => ({ url: `https://s.example${path}`, path });
const deliveries: { id: string; body: QueueMessage }[] = [];

/** A visit of `visitor`: events at `start` + their offsets (seconds). Delivered through the real drain. */
async function visit(siteId: string, visitor: string, start: number, events: [number, Ev][], tz?: string) {
  const session = crypto.randomUUID();
  const evs = events.map(([s, e]) => ({ id: crypto.randomUUID(), ...e, ts: start + s * 1000, sessionId: session, visitorId: visitor }) as TrackerEvent);
  const body: QueueMessage = { v: 1, siteId, receivedAt: start + 60_000, ...(tz ? { timezone: tz } : {}), geo: { country: "DE" }, ip: null, ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", events: evs };
  const delivery = { id: crypto.randomUUID(), body };
  deliveries.push(delivery);
  const [outcome] = await processBatch([{ ...delivery, attempts: 1 }], { db: mongo.db });
  expect(outcome).toEqual({ id: delivery.id, action: "ack" });
}

const start = (utm: Record<string, string> | undefined, referrer: string | undefined, landing: string): [number, Ev] => [
  0,
  { type: "session_start", page: page(landing), attribution: { ...(utm ? { utm } : {}), ...(referrer ? { referrer } : {}), landingPage: `https://s.example${landing}` } },
];

beforeAll(async () => {
  maria = await testMariadb("stats");
  mongo = await testMongo("stats");
  await ensureIndexes(mongo.db);
  await maria.db.insert(tenants).values([
    { id: T, name: "T" },
    { id: OTHER, name: "O" },
  ]);
  ids.l1 = await makeLocation(maria.db, T, { name: "L1" });
  ids.l2 = await makeLocation(maria.db, T, { name: "L2", timezone: "America/New_York" });
  const lo = await makeLocation(maria.db, OTHER);
  await maria.db.insert(sites).values([
    { id: ids.s1, tenantId: T, locationId: ids.l1, name: "S1", domain: "s1.example", siteKey: `k_${ids.s1}` },
    { id: ids.s2, tenantId: T, locationId: ids.l2, name: "S2", domain: "s2.example", siteKey: `k_${ids.s2}` },
    { id: ids.sOther, tenantId: OTHER, locationId: lo, name: "SO", domain: "so.example", siteKey: `k_${ids.sOther}` },
  ]);
  agency = await makeUser(maria.db, SECRET, { tenantId: T, role: "agency" });
  inL1 = await makeUser(maria.db, SECRET, { tenantId: T, role: "location", locationIds: [ids.l1] });
  other = await makeUser(maria.db, SECRET, { tenantId: OTHER, role: "agency" });
  host = new Hono().route("/v1", createAdminApi({ db: maria.db, mongo: mongo.db, auth: { hs256Secret: SECRET }, log: () => {} }));

  // Site S1, day 1 — visit A (google ads): 2 page views, 10 s engaged, a submission, 90 s long.
  await visit(ids.s1, "vA", D1, [
    start({ source: "google", medium: "cpc", campaign: "spring" }, "https://www.google.com/search", "/"),
    [0, { type: "page_view", page: page("/") }],
    [30, { type: "engagement", page: page("/"), props: { engagedMs: 4000 } }],
    [30, { type: "page_view", page: page("/pricing") }],
    [80, { type: "engagement", page: page("/pricing"), props: { engagedMs: 6000 } }],
    [90, { type: "form_submission", page: page("/pricing"), form: { formId: "quote", fields: { email: "a@x.io", name: "Ann" } } }],
  ]);
  // Visit B (Hacker News): one page, a bounce, 0 s.
  await visit(ids.s1, "vB", D1 + 3_600_000, [start(undefined, "https://news.ycombinator.com/item?id=1", "/blog"), [0, { type: "page_view", page: page("/blog") }]]);
  // Visit C (direct): one page, an email typed into the quote form (a partial lead), 20 s.
  await visit(ids.s1, "vC", D1 + 7_200_000, [
    start(undefined, undefined, "/"),
    [0, { type: "page_view", page: page("/") }],
    [20, { type: "form_interaction", page: page("/"), form: { formId: "quote", fields: { email: "c@x.io" } } }],
  ]);
  // Day 2 — visitor A again (direct): 3 page views, 60 s.
  await visit(ids.s1, "vA", D2, [
    start(undefined, undefined, "/"),
    [0, { type: "page_view", page: page("/") }],
    [20, { type: "page_view", page: page("/pricing") }],
    [60, { type: "page_view", page: page("/blog") }],
  ]);
  // Site S2 (New York): 03:00 UTC on day 2 is still day 1 in New York.
  await visit(ids.s2, "vN", D2 - 9 * 3_600_000, [start(undefined, undefined, "/ny"), [0, { type: "page_view", page: page("/ny") }]], "America/New_York");
  // Another tenant's site, same days.
  await visit(ids.sOther, "vO", D1, [start(undefined, undefined, "/"), [0, { type: "page_view", page: page("/") }]]);

  // every visit is over an hour later; then some redelivery and a second finalizer pass, which must change nothing
  await finalizeVisits({ db: mongo.db, now: () => D2 + 3_600_000 * 5 });
  for (const d of deliveries.slice(0, 3)) await processBatch([{ ...d, attempts: 2 }], { db: mongo.db });
  await finalizeVisits({ db: mongo.db, now: () => D2 + 3_600_000 * 6 });
});
afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await maria?.drop();
});

async function query(user: MadeUser, body: Record<string, unknown>) {
  const res = await host.request("/v1/stats/query", {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: JSON.stringify({ date_range: [day(D1), day(D2)], ...body }),
  });
  return { status: res.status, body: (await res.json()) as { results: { dimensions: string[]; metrics: (number | null)[] }[]; issues?: { path: string }[]; error?: string; meta: Record<string, unknown> } };
}

/** One metric, site S1, both days, worked out by hand from the visits above. */
describe.each([
  ["visitors", 3, "vA, vB, vC (vA on both days counts once)"],
  ["visits", 4, "A, B, C on day 1; A again on day 2"],
  ["pageviews", 7, "2 + 1 + 1 + 3"],
  ["views_per_visit", 1.75, "7 / 4"],
  ["bounce_rate", 50, "B and C had one page view: 2 / 4"],
  ["visit_duration", 43, "(90 + 0 + 20 + 60) / 4 = 42.5 s, rounded"],
  ["time_on_page", 1.4, "(4 + 6 s engaged) / 7 page views"],
  ["leads", 2, "A's submission and C's email"],
  ["partial_leads", 1, "C's email, never submitted"],
  ["form_submissions", 1, "A's"],
  ["form_interactions", 1, "C typed an email into the quote form"],
  ["conversion_rate", 25, "1 of 4 visits submitted"],
])("%s", (metric, expected, why) => {
  it(`= ${expected} (${why})`, async () => {
    const res = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: [metric] });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([{ dimensions: [], metrics: [expected] }]);
  });
});

describe("dimensions", () => {
  it("time:day, in each site's time zone (New York's visit counts on day 1)", async () => {
    const res = await query(agency, { metrics: ["visits", "pageviews"], dimensions: ["time:day"], timezone: "UTC" });
    expect(res.body.results).toEqual([
      { dimensions: [day(D1)], metrics: [4, 5] },
      { dimensions: [day(D2)], metrics: [1, 3] },
    ]);
  });

  it("time:week and time:month fold the days", async () => {
    const month = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["visitors", "visits"], dimensions: ["time:month"] });
    expect(month.body.results).toEqual([{ dimensions: [`${day(D1).slice(0, 7)}-01`], metrics: [3, 4] }]);
  });

  it("event:page: page views, visitors and time on page per page", async () => {
    const res = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["pageviews", "visitors", "time_on_page"], dimensions: ["event:page"], order_by: [["pageviews", "desc"], ["event:page", "asc"]] });
    expect(res.body.results).toEqual([
      { dimensions: ["/"], metrics: [3, 2, 1.3] },
      { dimensions: ["/blog"], metrics: [2, 2, 0] },
      { dimensions: ["/pricing"], metrics: [2, 1, 3] },
    ]);
  });

  it("visit:source: visits, bounce rate and conversion per source (utm_source, else the referrer's host, else direct)", async () => {
    const res = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["visits", "bounce_rate", "conversion_rate", "leads"], dimensions: ["visit:source"], order_by: [["visit:source", "asc"]] });
    expect(res.body.results).toEqual([
      { dimensions: ["Direct / None"], metrics: [2, 50, 0, 1] },
      { dimensions: ["google"], metrics: [1, 0, 100, 1] },
      { dimensions: ["news.ycombinator.com"], metrics: [1, 100, 0, 0] },
    ]);
  });

  it("event:form and visit:entry_page", async () => {
    expect((await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["form_submissions", "leads"], dimensions: ["event:form"] })).body.results).toEqual([{ dimensions: ["quote"], metrics: [1, 2] }]);
    // the quote form was used on / (C's email) and /pricing (A's submission): their page views are its views,
    // 3 of / (A and C on day 1, A on day 2) and 2 of /pricing (A on both days)
    const funnel = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["form_views", "form_interactions", "form_submissions"], dimensions: ["event:form"] });
    expect(funnel.body.results).toEqual([{ dimensions: ["quote"], metrics: [5, 1, 1] }]);
    const daily = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["form_views"], dimensions: ["time:day", "event:form"] });
    expect(daily.body.results).toEqual([
      { dimensions: [day(D1), "quote"], metrics: [3] },
      { dimensions: [day(D2), "quote"], metrics: [2] },
    ]);
    expect((await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["form_views"] })).body).toMatchObject({ error: "validation_failed", issues: [{ path: "metrics.0" }] });
    const entry = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["visits"], dimensions: ["visit:entry_page"], order_by: [["visit:entry_page", "asc"]] });
    expect(entry.body.results).toEqual([
      { dimensions: ["/"], metrics: [3] },
      { dimensions: ["/blog"], metrics: [1] },
    ]);
  });

  it("filters on the dimension: is, is_not, contains", async () => {
    const res = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["pageviews"], filters: [["contains", "event:page", ["PRIC", "blog"]]] });
    expect(res.body.results).toEqual([{ dimensions: [], metrics: [4] }]);
    const not = await query(agency, { scope: { siteIds: [ids.s1] }, metrics: ["visits"], dimensions: ["visit:source"], filters: [["is_not", "visit:source", ["google"]]] });
    expect(not.body.results.map((r) => r.dimensions[0]).sort()).toEqual(["Direct / None", "news.ycombinator.com"]);
  });

  it("pagination: limit and offset over the ordered rows", async () => {
    const body = { scope: { siteIds: [ids.s1] }, metrics: ["pageviews"], dimensions: ["event:page"], order_by: [["event:page", "asc"]], pagination: { limit: 2, offset: 1 } };
    const res = await query(agency, body);
    expect(res.body.results.map((r) => r.dimensions[0])).toEqual(["/blog", "/pricing"]);
    expect(res.body.meta.total_rows).toBe(3);
  });
});

describe("scopes", () => {
  it("all: an agency gets its tenant's sites, a location user only its own, another tenant only its own", async () => {
    const visits = async (u: MadeUser) => (await query(u, { metrics: ["visits"] })).body.results[0]!.metrics[0];
    expect(await visits(agency)).toBe(5);
    expect(await visits(inL1)).toBe(4);
    expect(await visits(other)).toBe(1);
  });

  it("a location user asking for another location or site is a 404, whatever else it asks", async () => {
    for (const scope of [{ locationIds: [ids.l2] }, { siteIds: [ids.s2] }, { locationIds: [ids.l1, ids.l2] }, { siteIds: [ids.sOther] }]) {
      const res = await query(inL1, { scope, metrics: ["visits"] });
      expect(res.status).toBe(404);
      expect(res.body.error).toBe("not_found");
    }
    expect((await query(agency, { scope: { siteIds: [ids.sOther] }, metrics: ["visits"] })).status).toBe(404);
  });
});

describe("errors: 400 naming the field", () => {
  it.each([
    [{ metrics: ["revenue"] }, "metrics.0"],
    [{ metrics: ["visits"], dimensions: ["event:color"] }, "dimensions.0"],
    [{ metrics: ["visits"], date_range: "3d" }, "date_range"],
    [{ metrics: ["visits"], date_range: ["2026-02-01", "2026-01-01"] }, "date_range"],
    [{ metrics: ["visits"], date_range: ["2026-01-01", "2026-13-01"] }, "date_range"],
    [{ metrics: ["visits"], pagination: { limit: 5000 } }, "pagination.limit"],
    [{ metrics: ["time_on_page"], dimensions: ["visit:source"] }, "metrics.0"],
    [{ metrics: ["visits"], dimensions: ["visit:source"], filters: [["is", "visit:country", ["DE"]]] }, "filters"],
    [{ metrics: ["visits"], order_by: [["pageviews", "desc"]] }, "order_by.0"],
    [{ metrics: ["visits"], timezone: "Mars/Base" }, "timezone"],
    [{ metrics: ["visits"], colour: "red" }, "colour"],
  ])("%j → %s", async (body, path) => {
    const res = await query(agency, body);
    expect(res.status).toBe(400);
    expect(res.body.issues!.some((i) => i.path === path || i.path.startsWith(`${path}.`))).toBe(true);
  });
});

describe("exactness", () => {
  it("rollups equal a rebuild from the raw events and the counted visits", async () => {
    for (const [siteId, tz] of [[ids.s1, "UTC"], [ids.s2, "America/New_York"]] as const) {
      const report = await rebuildRollups(mongo.db, { siteId, from: day(D1 - 86_400_000), to: day(D2 + 86_400_000), timezone: tz });
      expect(report.mismatches).toEqual([]);
      expect(report.checked).toBeGreaterThan(5);
    }
  });

  it("a rebuild finds and repairs a tampered rollup", async () => {
    await mongo.db.collection(COLLECTIONS.rollups).updateOne({ _id: `e|${ids.s1}|${day(D1)}||` as never }, { $inc: { "c.pv": 5 } });
    const found = await rebuildRollups(mongo.db, { siteId: ids.s1, from: day(D1), to: day(D1), timezone: "UTC" });
    expect(found.mismatches.map((m) => m.id)).toEqual([`e|${ids.s1}|${day(D1)}||`]);
    await rebuildRollups(mongo.db, { siteId: ids.s1, from: day(D1), to: day(D1), timezone: "UTC", apply: true });
    expect((await rebuildRollups(mongo.db, { siteId: ids.s1, from: day(D1), to: day(D1), timezone: "UTC" })).mismatches).toEqual([]);
  });
});
